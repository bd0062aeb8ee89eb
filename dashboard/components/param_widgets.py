"""Sidebar widgets generated from declared parameters (`core.params`): the plug-ins' and the run options'.

No plug-in or limit is named here: a strategy or learner registered with `parameters`, and each
run option in `RUN_OPTIONS`, gets its widget, range, label and help from that declaration. The
widget shows the settings object's value and hands the user's changes back (`settings.py`); its
key (`sidebar_sp_hybrid_alpha`, `sidebar_lp_logistic_C`) is only its identity.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Callable, Mapping

import streamlit as st

from core.present.figures import format_setting
from core.params import Constraint, Interval, Options, Text
from dashboard.components.settings import widget_key
from dashboard.components.widgets import plain

# A linear slider serves a share or a probability; values that span orders of magnitude (a
# learning rate in (0, 10], default 0.001) need a number field unless the plug-in declares a step.
_SLIDER_MAX_WIDTH = 1.0


def strategy_key(strategy: str, param: str) -> str:
    return widget_key(f"sp_{strategy}_{param}")


def learner_key(learner: str, param: str) -> str:
    return widget_key(f"lp_{learner}_{param}")


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


def param_widget(container, name: str, constraint: Constraint, key: str, value: Any,
                 on_change: Callable[[Any], None], *, label: str | None = None, help: str | None = None,
                 radio: Mapping[str, str] | None = None) -> None:
    """The widget for one declared parameter (a plug-in's or a run option's), drawn in `container`.

    It shows `value` (the settings object's) and calls `on_change(new value)` only when the user
    changes it; its session-state `key` is only its identity. `radio` draws Options as horizontal
    radio buttons with these captions.
    """
    label = label or constraint.label or name
    help_text = help or _help(constraint)
    changed = {"key": key, "help": help_text, "on_change": lambda: on_change(st.session_state[key])}
    if isinstance(constraint, Options):
        choices = list(constraint.choices)
        index = choices.index(value) if value in choices else 0
        if radio is not None:
            container.radio(label, choices, index=index, horizontal=True, format_func=lambda c: radio.get(c, c),
                            **changed)
        else:
            container.selectbox(label, choices, index=index, **changed)
    elif isinstance(constraint, Text):
        container.text_input(label, value=str(value), placeholder=str(constraint.default or ""), **changed)
    elif isinstance(constraint, Interval):
        bounds = slider_range(constraint, value)
        if bounds is not None:
            low, high, step = bounds
            decimals = max(2, -Decimal(repr(step)).normalize().as_tuple().exponent)  # a step of 0.001 shows 3
            container.slider(label, low, high, value=float(value), step=step, format=f"%0.{decimals}f", **changed)
        else:
            low, high = _number_bounds(constraint)
            if constraint.type is int:
                container.number_input(label, min_value=low, max_value=high, value=int(value), step=1, **changed)
            else:
                container.number_input(label, min_value=low, max_value=high, value=float(value),
                                       step=_number_step(constraint), format="%g", **changed)
    else:  # a constraint type this dashboard does not know: say so rather than guess a widget
        container.caption(plain(f"{label}: no widget for {type(constraint).__name__} parameters"))
