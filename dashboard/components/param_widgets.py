"""Sidebar widgets generated from the parameters a strategy or learner declares (`core.params`).

No plug-in is named here: a strategy or learner registered with `parameters` gets its widgets,
ranges, labels and help from that declaration. Each widget's key is derived from the names
(`sidebar_sp_hybrid_alpha`, `sidebar_lp_logistic_C`), so the values of every plug-in live side
by side in `st.session_state` and switching learners never mixes their settings.

Only values that differ from the declared default go into a RunConfig: a comparison's key
stays what it was before the widget existed.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Callable, Mapping

import streamlit as st

from core.figures import format_setting
from core.learners import LEARNERS
from core.params import Constraint, Interval, Options, Text, is_real
from core.strategies import STRATEGIES
from dashboard.components.widgets import plain

KeyOf = Callable[[str], str]

# A linear slider serves a share or a probability; values that span orders of magnitude (a
# learning rate in (0, 10], default 0.001) need a number field unless the plug-in declares a step.
_SLIDER_MAX_WIDTH = 1.0


def strategy_key(strategy: str, param: str) -> str:
    return f"sidebar_sp_{strategy}_{param}"


def learner_key(learner: str, param: str) -> str:
    return f"sidebar_lp_{learner}_{param}"


def session_defaults() -> dict[str, Any]:
    """Every registered plug-in's widget keys and declared defaults, as the widgets hold them (for app.py)."""
    out = {}
    for name, cls in STRATEGIES.items():
        out.update({strategy_key(name, p): widget_value(c, c.default) for p, c in cls.parameters.items()})
    for name, cls in LEARNERS.items():
        out.update({learner_key(name, p): widget_value(c, c.default) for p, c in cls.parameters.items()})
    return out


def widget_value(constraint: Constraint, value: Any) -> Any:
    """`value` (a config's or a default) in the form its widget holds: floats for a float range, text for Text."""
    if isinstance(constraint, Interval):
        if value is None:
            return constraint.low if constraint.low is not None else 0
        if is_real(value):
            return float(value) if constraint.type is float else int(value)
        return value
    if isinstance(constraint, Text):
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return ",".join(str(v) for v in value)
        return str(value)
    return value


def _tidy(value: Any) -> Any:
    """Float noise from a slider's or number field's steps (0.6000000000000001 -> 0.6)."""
    return float(f"{value:.12g}") if isinstance(value, float) else value


def _same(constraint: Constraint, a: Any, b: Any) -> bool:
    """Whether two widget values mean the same setting ("32, 64,128" is the default "32,64,128")."""
    if isinstance(constraint, Text):
        try:
            return constraint.parse(a) == constraint.parse(b)
        except (TypeError, ValueError):
            return a == b
    return _tidy(a) == _tidy(b)


def changed_values(declared: Mapping[str, Constraint], key_of: KeyOf) -> dict[str, Any]:
    """The values of `declared`'s widgets that differ from the declared defaults (what a config states)."""
    ss = st.session_state
    out = {}
    for name, constraint in declared.items():
        value = ss.get(key_of(name), widget_value(constraint, constraint.default))
        if isinstance(value, str):
            value = value.strip()
        # No default: the parameter must be stated (a widget always holds some value).
        if constraint.default is None or not _same(constraint, value, widget_value(constraint, constraint.default)):
            out[name] = _tidy(value)
    return out


def set_values(declared: Mapping[str, Constraint], key_of: KeyOf, given: Mapping[str, Any]) -> None:
    """Put `given` (declared defaults for the rest) into the widgets' keys (before they draw)."""
    ss = st.session_state
    for name, constraint in declared.items():
        ss[key_of(name)] = widget_value(constraint, given.get(name, constraint.default))


def _help(constraint: Constraint) -> str:
    """The declaration's help, then what is allowed and the default (from the same declaration)."""
    text = constraint.help.strip()
    if text:
        text = text[0].upper() + text[1:] + ("" if text.endswith(".") else ".") + "\n\n"
    return plain(f"{text}Allowed: {constraint.allowed()}. Default: {format_setting(constraint.default)}.")


def slider_range(constraint: Interval, value: Any = None) -> tuple[float, float, float] | None:
    """(min, max, step) of a slider for a float range bounded at both ends, or None for a number field.

    An open end is nudged in by the step; the step is the declared one or a 20th of the range. A
    range wider than 1 without a declared step, or a default off the slider's positions, gets a
    number field. A valid `value` outside the slider (a loaded config's) widens it.
    """
    c = constraint
    if c.type is not float or c.low is None or c.high is None:
        return None
    if c.step is None and c.high - c.low > _SLIDER_MAX_WIDTH:
        return None
    step = float(c.step or (c.high - c.low) / 20)
    low = float(c.low) + (0.0 if c.closed in ("both", "left") else step)
    high = float(c.high) - (0.0 if c.closed in ("both", "right") else step)
    if c.at_most is not None:
        high = min(high, float(c.at_most))
    if low >= high:
        return None
    if c.default is not None:
        position = (c.default - low) / step
        if not low <= c.default <= high or not math.isclose(position, round(position), abs_tol=1e-9):
            return None
    if c.valid(value):
        low, high = min(low, float(value)), max(high, float(value))
    return low, high, step


def _number_bounds(c: Interval) -> tuple[Any, Any]:
    low, high = c.low, c.high
    if c.type is int:  # an open end of an integer range is the next integer in
        if low is not None and c.closed in ("neither", "right"):
            low = math.floor(low) + 1
        if high is not None and c.closed in ("neither", "left"):
            high = math.ceil(high) - 1
    if c.at_most is not None:
        high = c.at_most if high is None else min(high, c.at_most)
    convert = int if c.type is int else float
    return (None if low is None else convert(low)), (None if high is None else convert(high))


def _number_step(c: Interval) -> float:
    if c.step is not None:
        return float(c.step)
    if isinstance(c.default, (int, float)) and c.default:  # a tenth of the default's order of magnitude
        return 10.0 ** (math.floor(math.log10(abs(c.default))) - 1)
    return 0.01


def param_widget(container, name: str, constraint: Constraint, key: str) -> None:
    """The widget for one declared parameter, drawn in `container` under session-state `key`."""
    label = constraint.label or name
    help_text = _help(constraint)
    if isinstance(constraint, Options):
        container.selectbox(label, list(constraint.choices), key=key, help=help_text)
    elif isinstance(constraint, Text):
        container.text_input(label, key=key, help=help_text, placeholder=str(constraint.default or ""))
    elif isinstance(constraint, Interval):
        bounds = slider_range(constraint, st.session_state.get(key))
        if bounds is not None:
            low, high, step = bounds
            decimals = max(2, -Decimal(repr(step)).normalize().as_tuple().exponent)  # a step of 0.001 shows 3
            container.slider(label, low, high, step=step, format=f"%0.{decimals}f", key=key, help=help_text)
        elif constraint.type is int:
            low, high = _number_bounds(constraint)
            container.number_input(label, min_value=low, max_value=high, step=1, key=key, help=help_text)
        else:
            low, high = _number_bounds(constraint)
            container.number_input(label, min_value=low, max_value=high, step=_number_step(constraint),
                                   format="%g", key=key, help=help_text)
    else:  # a constraint type this dashboard does not know: say so rather than guess a widget
        container.caption(plain(f"{label}: no widget for {type(constraint).__name__} parameters"))
