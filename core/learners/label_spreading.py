"""Semi-supervised label spreading over the whole pool (the scikit-learn digits tutorial)."""

from __future__ import annotations

import numpy as np

from core.learners.base import LEARNERS, BaseLearner, LearnerError, full_proba, one_class_proba
from core.params import Interval, Options, ParamError
from core.types import flat_features

_MAX_RBF_SAMPLES = 20_000  # the rbf graph is dense: n^2 float64 (20k -> 3.2 GB)
MAX_ITER = 100_000
MAX_NEIGHBORS = 10_000  # knn graph: n_pool x n_neighbors entries
KERNELS = ("knn", "rbf")


@LEARNERS.register("label_spreading")
class LabelSpreadingLearner(BaseLearner):
    """LabelSpreading fitted on labelled + unlabelled pool; its transduction labels the pool."""

    parameters = {
        "gamma": Interval(float, 0.0, None, closed="neither", default=0.25, help="rbf kernel width (digits units)"),
        "max_iter": Interval(int, 1, None, default=20, at_most=MAX_ITER, help="spreading iterations"),
        "kernel": Options(KERNELS, default="rbf", help="rbf: dense graph (at most 20,000 samples); knn: sparse"),
        "n_neighbors": Interval(int, 1, None, default=7, at_most=MAX_NEIGHBORS, help="neighbours (kernel=knn)"),
        "alpha": Interval(float, 0.0, 1.0, closed="neither", default=0.2, help="clamping factor"),
    }
    semi_supervised = True
    blas_threads = None  # dense n x n kernel products: let BLAS use every core

    @classmethod
    def check_pool_size(cls, n_pool: int, params) -> None:
        """The limits that depend on the pool (labelled + unlabelled: the graph spans it all), checked up front."""
        if params["kernel"] == "knn" and params["n_neighbors"] > n_pool:
            raise ParamError(f"learner_params.n_neighbors must be at most the pool size ({n_pool} samples) with "
                             f"kernel='knn'; got {params['n_neighbors']}", "learner_params.n_neighbors")
        if params["kernel"] == "rbf" and n_pool > _MAX_RBF_SAMPLES:
            raise ParamError(f"label_spreading with kernel='rbf' builds a dense {n_pool}^2 graph; "
                             f"use kernel=knn (--learner-param kernel=knn) or --subset <= {_MAX_RBF_SAMPLES}",
                             "learner_params.kernel")

    def _features(self, X: np.ndarray) -> np.ndarray:
        return flat_features(X, self.info.feature_scale)

    def fit(self, X, y, *, X_unlabeled=None):
        n_unl = 0 if X_unlabeled is None else len(X_unlabeled)
        if self.kernel == "rbf" and len(X) + n_unl > _MAX_RBF_SAMPLES:
            raise ValueError(
                f"label_spreading with kernel='rbf' builds a dense {len(X) + n_unl}^2 graph; "
                f"use kernel=knn (--learner-param kernel=knn) or --subset <= {_MAX_RBF_SAMPLES}"
            )
        self.classes_ = np.unique(y)
        F = self._features(X) if n_unl == 0 else np.concatenate([self._features(X), self._features(X_unlabeled)])
        if self.classes_.size == 1:
            self.model_ = None
            self.transduction_proba_ = one_class_proba(n_unl, self.classes_[0], self.info.n_classes)
            return self
        y_all = np.concatenate([np.asarray(y), np.full(n_unl, -1)])
        from sklearn.semi_supervised import LabelSpreading  # here: building the learner imports no scikit-learn

        # float64 as in the tutorial: the narrow rbf kernel (exp(-0.25 d^2)) underflows in float32
        self.model_ = LabelSpreading(
            kernel=self.kernel, gamma=self.gamma, n_neighbors=self.n_neighbors, alpha=self.alpha, max_iter=self.max_iter
        ).fit(F.astype(np.float64), y_all)
        dist = self.model_.label_distributions_
        finite = np.isfinite(dist).all(axis=1)
        if not finite.any():
            raise LearnerError(
                f"label_spreading: the rbf kernel with gamma={self.gamma} underflows on this data "
                "(every affinity is 0); lower gamma or use kernel=knn"
            )
        if not finite.all():  # points with no neighbour within reach of the kernel: uniform
            dist = np.where(finite[:, None], dist, 1.0 / dist.shape[1])
        self.transduction_proba_ = full_proba(dist[len(X):], self.model_.classes_, self.info.n_classes)
        return self

    def predict_proba(self, X):
        if self.model_ is None:
            return one_class_proba(len(X), self.classes_[0], self.info.n_classes)
        p = self.model_.predict_proba(self._features(X).astype(np.float64))
        p = np.nan_to_num(p, nan=1.0 / p.shape[1])  # rows with no neighbour in the graph: uniform
        return full_proba(p, self.model_.classes_, self.info.n_classes)

    def embed(self, X):
        return self._features(X)
