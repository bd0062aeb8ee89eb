"""Declared parameters: the one validation mechanism for plug-in settings and run options.

A strategy or learner declares its parameters once, as data, in the manner of scikit-learn's
`_parameter_constraints` (`Interval`, `Options`). scikit-learn's validator is private API and
its errors do not say which option they are about, so this small one is our own: every error
is a `ParamError` whose `option` names the setting ("hybrid.alpha", "learner_params.C",
"batch"), so a form can put the message under the right widget without reading the text.

From the declarations come, with no restatement: validation (one message style:
"NAME must be ALLOWED; got VALUE"), the CLI's `--strategy-param` / `--learner-param` help,
`python -m core strategies|learners [--json]`, the dashboard's widgets and ranges, sweep
option relevance, and the contract tests that feed every plug-in its invalid values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


class ParamError(ValueError):
    """An invalid setting; `option` is the qualified name of the setting it is about (or None)."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


def is_real(value: Any) -> bool:
    """A finite int or float, not a bool (an int too large for a float is not finite either)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Interval:
    """A number in a range: `type` int or float; `closed` says which ends belong ("both", "left",
    "right", "neither"); `high` is the end of the setting's own domain, `at_most` the bench's cap
    on a size-like setting (stated as "(at most N)")."""

    type: type
    low: float | None
    high: float | None = None
    closed: str = "both"
    default: Any = None
    at_most: float | None = None
    help: str = ""
    label: str = ""
    step: float | None = None  # a widget's step; None: 1 for integers, a 20th of the range for numbers

    def _number(self, x: float) -> str:
        return str(int(x)) if self.type is int and float(x).is_integer() else format(x, "g")

    def allowed(self) -> str:
        kind = "an integer" if self.type is int else "a number"
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        low, high = (None if v is None else self._number(v) for v in (self.low, self.high))
        if self.high is None:
            text = f"{kind} {'>=' if left else '>'} {low}"
        elif self.low is None:
            text = f"{kind} {'<=' if right else '<'} {high}"
        else:
            text = f"{kind} in {'[' if left else '('}{low}, {high}{']' if right else ')'}"
        if self.at_most is not None:
            text += f" (at most {self._number(self.at_most)})"
        return text

    def valid(self, value: Any) -> bool:
        if not (is_int(value) if self.type is int else is_real(value)):
            return False
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and not (value >= self.low if left else value > self.low):
            return False
        if self.high is not None and not (value <= self.high if right else value < self.high):
            return False
        return self.at_most is None or value <= self.at_most

    def convert(self, value: Any) -> Any:
        return float(value) if self.type is float else int(value)

    def describe(self) -> dict[str, Any]:
        return {"type": self.type.__name__, "default": self.default, "allowed": self.allowed(), "low": self.low,
                "high": self.high, "closed": self.closed, "at_most": self.at_most}


@dataclass(frozen=True)
class Options:
    """One of a fixed list of names."""

    choices: tuple[str, ...]
    default: Any = None
    help: str = ""
    label: str = ""

    def allowed(self) -> str:
        return f"one of {list(self.choices)}"

    def valid(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.choices

    def convert(self, value: Any) -> Any:
        return value

    def describe(self) -> dict[str, Any]:
        return {"type": "str", "default": self.default, "allowed": self.allowed(), "choices": list(self.choices)}


@dataclass(frozen=True)
class Text:
    """A value with its own syntax (the cnn's "32,64,128"): `parse` returns the normalised value
    or raises ValueError; `rule` is the allowed form, in words."""

    rule: str
    parse: Callable[[Any], Any] = field(compare=False)
    default: Any = None
    help: str = ""
    label: str = ""

    def allowed(self) -> str:
        return self.rule

    def valid(self, value: Any) -> bool:
        try:
            self.parse(value)
        except (TypeError, ValueError):
            return False
        return True

    def convert(self, value: Any) -> Any:
        return self.parse(value)

    def describe(self) -> dict[str, Any]:
        return {"type": "str", "default": self.default, "allowed": self.allowed()}


Constraint = Interval | Options | Text


def check_value(name: str, value: Any, constraint: Constraint, option: str | None = None) -> Any:
    """The normalised value (ints of a float setting become floats), or a ParamError naming `name`."""
    if not constraint.valid(value):
        raise ParamError(f"{name} must be {constraint.allowed()}; got {value!r}", option or name)
    return constraint.convert(value)


class Checked(dict):
    """Settings that `check_params` already checked against `declared`, carried to the plug-in that
    declared them, which then takes them as they are (one check per setting per run).

    The mapping holds the settings as given (what a run key hashes: often only those that differ
    from the defaults, in their JSON form); `values` holds every declared parameter, checked and
    normalised. A copy made field by field (`dataclasses.asdict`, JSON) is a plain mapping again,
    so it is checked again: only the object that was checked carries the mark. Pickling keeps it,
    so a worker process takes a unit's settings as the parent checked them.
    """

    def __init__(self, given: Any = (), declared: Mapping[str, Constraint] | None = None,
                 values: Mapping[str, Any] | None = None) -> None:
        super().__init__(given)
        self.declared = declared
        self.values = None if values is None else dict(values)


def check_params(declared: Mapping[str, Constraint], given: Mapping[str, Any], *, owner: str,
                 prefix: str = "") -> dict[str, Any]:
    """Every declared parameter's value (given or default), checked; unknown names list the valid ones.

    `owner` names the plug-in in messages ("strategy 'hybrid'"); `prefix` qualifies `option`
    ("hybrid." -> "hybrid.alpha"). A `Checked` mapping of the same declaration is not checked again.
    """
    if isinstance(given, Checked) and given.values is not None and given.declared == declared:
        return dict(given.values)
    if not isinstance(given, Mapping) or not all(isinstance(k, str) for k in given):
        raise ParamError(f"{owner}: settings must be a table of NAME = VALUE; got {given!r}", prefix.rstrip(".") or None)
    unknown = sorted(set(given) - set(declared))
    if unknown:
        valid = list(declared) if declared else "none (it takes no parameters)"
        raise ParamError(f"unknown parameter(s) {unknown} for {owner}; valid: {valid}", f"{prefix}{unknown[0]}")
    return {name: check_value(f"{prefix}{name}", given.get(name, c.default), c, f"{prefix}{name}")
            for name, c in declared.items()}


def defaults(declared: Mapping[str, Constraint]) -> dict[str, Any]:
    return {name: c.default for name, c in declared.items()}


def changed_values(declared: Mapping[str, Constraint], values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` without those equal to their declared (normalised) default: setting a parameter to its
    default and not setting it are the same settings, so they share a cache entry and a link."""
    def default(c: Constraint) -> Any:
        return None if c.default is None else c.convert(c.default)  # a declared default is valid (contract tests)

    return {name: v for name, v in values.items() if name not in declared or v != default(declared[name])}


def describe(declared: Mapping[str, Constraint]) -> dict[str, dict[str, Any]]:
    """JSON-able form of a declaration: what `python -m core strategies --json` prints."""
    return {name: {**c.describe(), "help": c.help} for name, c in declared.items()}


def invalid_values(constraint: Constraint) -> list[Any]:
    """Values `constraint` must reject: what the contract tests feed every registered plug-in."""
    bad: list[Any] = [None, True, "nonsense-value", [1], float("nan")]
    if isinstance(constraint, Interval):
        if constraint.low is not None:
            bad.append(constraint.low - 1)
            if constraint.closed in ("neither", "right"):
                bad.append(constraint.low)
        if constraint.high is not None:
            bad.append(constraint.high + 1)
            if constraint.closed in ("neither", "left"):
                bad.append(constraint.high)
        if constraint.at_most is not None:
            bad.append(constraint.at_most + 1)
        if constraint.type is int:
            bad.append((constraint.low or 0) + 1.5)
        bad.append(float("inf"))
    elif isinstance(constraint, Options):
        bad.append(3)
    return [b for b in bad if not constraint.valid(b)]
