"""The learner registry and the helpers every scikit-learn-backed learner shares."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from core.params import Constraint, ParamError, check_params
from core.registry import Registry
from core.types import DataInfo

LEARNERS: Registry[type] = Registry("learner", package="core.learners", entry_point_group="albench.learners",
                                    skip=("base", "cnn_torch"))


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


class LearnerError(ParamError):
    """A learner setting turned out unworkable while fitting (the data decides: an rbf kernel that
    underflows, a training run that diverges). The message names the setting and what to change."""




# What a learner can compute for a round (`provides`); strategies' needs map onto these (core.strategies.base.NEEDS).
CAPABILITIES = {
    "proba": "class probabilities (predict_proba)",
    "features": "a feature embedding (embed)",
    "proba_samples": "probability samples from a stochastic model (MC dropout)",
}


class BaseLearner:
    """The learner contract: declared parameters (see `core.params`) and capabilities, then
    scikit-learn style `fit` / `predict_proba` / `embed`.

    Subclasses declare `parameters` (name -> constraint, with defaults) and `provides`; a
    capability that depends on a setting (the cnn's samples need `mc_samples >= 2`) is
    decided by overriding `provided(params)`. `__init__(info, seed, **params)` checks the
    parameters once and sets them as attributes.
    """

    name: ClassVar[str]
    parameters: ClassVar[dict[str, Constraint]] = {}
    provides: ClassVar[frozenset[str]] = frozenset({"proba", "features"})
    provides_when: ClassVar[dict[str, str]] = {}  # capability -> the settings that add it, in words (for listings)
    semi_supervised: ClassVar[bool] = False  # whether `fit` uses X_unlabeled (and sets transduction_proba_)
    stateful: ClassVar[bool] = False  # whether it carries state between rounds (get_state / set_state)
    blas_threads: ClassVar[int | None] = None  # BLAS threads while it fits; None: all cores
    expensive_fit: ClassVar[bool] = False  # a fit on every label takes minutes: pages compute it on request only
    frozen_features: ClassVar[bool] = False  # whether `embed` is the same every round (a frozen backbone)

    def __init__(self, info: DataInfo, seed: int = 0, **params: Any) -> None:
        self._setup(info, seed, params)

    @classmethod
    def build(cls, info: DataInfo, seed: int, params: Mapping[str, Any]) -> "BaseLearner":
        """The learner with these settings; `Checked` ones (a RunConfig's) are taken as they are."""
        learner = cls.__new__(cls)
        learner._setup(info, seed, params)
        return learner

    def _setup(self, info: DataInfo, seed: int, params: Mapping[str, Any]) -> None:
        self.info, self.seed = info, int(seed)
        self.values = check_params(type(self).parameters, params, owner=f"learner {self.name!r}", prefix="learner_params.")
        for key, value in self.values.items():
            setattr(self, key, value)
        self.transduction_proba_: np.ndarray | None = None
        self.check(self.values)

    def check(self, values: dict[str, Any]) -> None:
        """Cross-setting checks that need the data's shape (raise ParamError); none by default."""

    @classmethod
    def provided(cls, params: Mapping[str, Any]) -> frozenset[str]:
        """What this learner computes with these (checked) settings."""
        return cls.provides

    @classmethod
    def check_pool_size(cls, n_pool: int, params: Mapping[str, Any]) -> None:
        """Limits that depend on the pool size (raise ValueError); none by default."""

    @classmethod
    def label_settings(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """The settings a chart title or Runs label shows, from those given (non-default); these by default."""
        return dict(given)

    @classmethod
    def cache_identity(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """What the run cache key must hold beyond the settings' values (a weights file's content
        hash, so new weights at the same path are new runs); nothing by default."""
        return {}

    def params(self) -> dict[str, Any]:
        return dict(self.values)

    def attach(self, dataset: Any, cache_root: Any) -> None:
        """Called by the runner once before the first round with the whole dataset (every image a run
        may ask about) and the run's cache directory (None: no cache). A learner with per-image work
        to share between runs (the pretrained backbone's features) does it here; nothing by default."""

    def infer(self, X: np.ndarray, want: frozenset[str]) -> dict[str, np.ndarray]:
        """The capabilities in `want` for rows `X`, as {capability: array}; learners that can share
        one pass over X (the cnn) override this."""
        out: dict[str, np.ndarray] = {}
        if "proba" in want:
            out["proba"] = self.predict_proba(X)
        if "features" in want:
            out["features"] = self.embed(X)
        if "proba_samples" in want:
            out["proba_samples"] = self.predict_proba_samples(X)
        return out

    def predict_proba_samples(self, X: np.ndarray) -> np.ndarray:
        raise ParamError(f"learner {self.name!r} provides no probability samples", "learner")

    def get_state(self) -> dict[str, np.ndarray] | None:
        """Arrays a resumed run needs (stateful learners only); None: nothing to keep."""
        return None

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        pass
