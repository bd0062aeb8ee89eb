"""Linear models on scaled pixels."""

from __future__ import annotations

import warnings

import numpy as np

from core.learners.base import LEARNERS, BaseLearner, full_proba, one_class_proba
from core.params import Interval
from core.types import flat_features


@LEARNERS.register("logistic")
class LogisticLearner(BaseLearner):
    """Multinomial logistic regression on standardised pixels; embeds as raw pixel features."""

    parameters = {
        "C": Interval(float, 0.0, None, closed="neither", default=1.0, help="inverse regularisation strength"),
        "max_iter": Interval(int, 1, None, default=500, at_most=100_000, help="lbfgs iterations per fit"),
    }
    blas_threads = 1  # small fits: one BLAS thread measured fastest (ENVIRONMENT.md)
    converged_ = True  # False once a fit of this run stopped at max_iter: warned about once, not per round

    def _features(self, X: np.ndarray) -> np.ndarray:
        return flat_features(X, self.info.feature_scale)

    def fit(self, X, y, *, X_unlabeled=None):
        # imported here: building the learner (to check a config) must not import scikit-learn
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        F = self._features(X)
        self.scaler_ = StandardScaler().fit(F)
        self.classes_ = np.unique(y)
        if self.classes_.size == 1:
            self.model_ = None
        else:
            self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed)
            self._fit_quietly(self.scaler_.transform(F), y)
        return self

    def _fit_quietly(self, F: np.ndarray, y: np.ndarray) -> None:
        """Fit; scikit-learn's 8-line ConvergenceWarning becomes one line per learner (per run), other warnings pass."""
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            self.model_.fit(F, y)
        converged = True
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                converged = False
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
        if not converged and self.converged_:
            self.converged_ = False
            # One text per setting: the command line prints each distinct warning once per invocation.
            warnings.warn(f"logistic: lbfgs did not converge within max_iter={self.max_iter} iterations; results may "
                          f"be less accurate; raise it with the learner parameter max_iter={4 * self.max_iter}", ConvergenceWarning, stacklevel=3)

    def predict_proba(self, X):
        if self.model_ is None:
            return one_class_proba(len(X), self.classes_[0], self.info.n_classes)
        p = self.model_.predict_proba(self.scaler_.transform(self._features(X)))
        return full_proba(p, self.model_.classes_, self.info.n_classes)

    def embed(self, X):
        return self._features(X)
