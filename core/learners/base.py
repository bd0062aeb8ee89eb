"""The learner registry and the helpers every scikit-learn-backed learner shares."""

from __future__ import annotations

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
