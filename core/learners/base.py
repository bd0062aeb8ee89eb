"""The learner registry and the helpers every scikit-learn-backed learner shares."""

from __future__ import annotations

import math

import numpy as np

from core.registry import Registry

LEARNERS: Registry[type] = Registry("learner")


def full_proba(proba: np.ndarray, seen_classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Spread probabilities over the classes seen in training into all `n_classes` columns.

    Early rounds may hold only some classes; the rest get probability 0.
    """
    out = np.zeros((proba.shape[0], n_classes), dtype=np.float32)
    out[:, np.asarray(seen_classes, dtype=np.int64)] = proba
    return out


def one_class_proba(n: int, cls: int, n_classes: int) -> np.ndarray:
    out = np.zeros((n, n_classes), dtype=np.float32)
    out[:, int(cls)] = 1.0
    return out


class LearnerError(ValueError):
    """A learner setting turned out unworkable while fitting (the data decides: an rbf kernel that
    underflows, a training run that diverges). The message names the setting and what to change."""


def is_real(value) -> bool:
    """A finite int or float, not a bool (an int too large for a float is not finite either)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def check_number(name: str, value, *, low: float, high: float | None = None, integer: bool = False,
                 low_open: bool = False, high_open: bool = False, at_most: float | None = None) -> None:
    """Raise ValueError naming `name` and the allowed range unless `value` is a number in it.

    `high` is the end of the setting's own domain ("in [0, 1)"); `at_most` is the bench's cap on
    a size-like setting, stated as "(at most N)" after the domain.
    """
    kind = "an integer" if integer else "a number"
    if high is None:
        allowed = f"{kind} {'>' if low_open else '>='} {low:g}"
    else:
        allowed = f"{kind} in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if at_most is not None:
        allowed += f" (at most {at_most if integer else format(at_most, 'g')})"
    ok = (isinstance(value, int) and not isinstance(value, bool)) if integer else is_real(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            high is None or (value < high if high_open else value <= high)) and (at_most is None or value <= at_most)
    if not ok:
        raise ValueError(f"{name} must be {allowed}; got {value!r}")


def check_choice(name: str, value, choices) -> None:
    """Raise ValueError naming `name` and the valid choices unless `value` is one of them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {value!r}")
