"""Learners: one registry, one module per family. All speak the `core.types.Learner` protocol."""

from __future__ import annotations

import inspect
from typing import Any

from core.learners.base import LEARNERS, LearnerError
from core.types import DataInfo

# Lazy: naming or validating a learner imports no scikit-learn or torch.
LEARNERS.register_lazy("logistic", "core.learners.linear:LogisticLearner")
LEARNERS.register_lazy("label_spreading", "core.learners.label_spreading:LabelSpreadingLearner")
LEARNERS.register_lazy("cnn", "core.learners.cnn:CNNLearner")

__all__ = ["LEARNERS", "LearnerError", "make_learner", "learner_param_names", "check_pool_size"]


def learner_param_names(name: str) -> list[str]:
    sig = inspect.signature(LEARNERS[name].__init__)
    return [p for p in sig.parameters if p not in ("self", "info", "seed")]


def make_learner(name: str, info: DataInfo, seed: int = 0, **params: Any):
    """Build a registered learner; unknown names and parameters list the valid ones."""
    cls = LEARNERS[name]
    valid = learner_param_names(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for learner {name!r}; valid: {valid}")
    return cls(info, seed=seed, **params)


def check_pool_size(name: str, n_pool: int, **params: Any) -> None:
    """Raise ValueError when a setting of learner `name` cannot work on a pool of `n_pool` samples.

    A learner declares such limits as a `check_pool_size(n_pool, **params)` static method; the
    settings' own values are checked when it is built, so this sees them unchecked.
    """
    check = getattr(LEARNERS[name], "check_pool_size", None)
    if check is not None:
        check(n_pool, **params)
