"""Learners: one registry, one module per family. All speak the `core.types.Learner` protocol."""

from __future__ import annotations

import inspect
from typing import Any

from core.learners.base import LEARNERS
from core.types import DataInfo

# Lazy: naming or validating a learner imports no scikit-learn or torch.
LEARNERS.register_lazy("logistic", "core.learners.linear:LogisticLearner")
LEARNERS.register_lazy("label_spreading", "core.learners.label_spreading:LabelSpreadingLearner")
LEARNERS.register_lazy("cnn", "core.learners.cnn:CNNLearner")

__all__ = ["LEARNERS", "make_learner", "learner_param_names"]


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
