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


def check_number(name: str, value, *, low: float, high: float | None = None, integer: bool = False,
                 low_open: bool = False, high_open: bool = False) -> None:
    """Raise ValueError naming `name` and the allowed range unless `value` is a number in it."""
    kind = "an integer" if integer else "a number"
    if high is None:
        allowed = f"{kind} {'>' if low_open else '>='} {low:g}"
    else:
        allowed = f"{kind} in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    ok = (isinstance(value, int) if integer else isinstance(value, (int, float))) and not isinstance(value, bool)
    if ok and not integer:
        ok = math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            high is None or (value < high if high_open else value <= high))
    if not ok:
        raise ValueError(f"{name} must be {allowed}; got {value!r}")
