"""The logistic learner's warnings: one line per run when lbfgs stops at max_iter, others untouched."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from core.engine.config import RunConfig
from core.learners.linear import LogisticLearner
from core.engine.runner import run_comparison
from core.types import DataInfo


def _data(n=60, d=20, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, d)) + y[:, None]
    return X.reshape(n, d, 1, 1).astype(np.float32), y


def _fit_rounds(learner, X, y, sizes):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in sizes:
            learner.fit(X[:n], y[:n])
    return caught


def test_a_fit_stopped_at_max_iter_warns_once_per_learner_in_one_line():
    X, y = _data()
    learner = LogisticLearner(DataInfo(3, (20, 1, 1), 1.0, ("a", "b", "c")), max_iter=1)
    caught = _fit_rounds(learner, X, y, (30, 45, 60))
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(convergence) == 1 and not learner.converged_
    message = str(convergence[0].message)
    assert "\n" not in message
    assert message.startswith("logistic: lbfgs did not converge within max_iter=1 iterations;")
    assert "max_iter=4" in message
    assert convergence[0].filename == __file__  # the caller's line, not scikit-learn's


def test_other_warnings_from_the_fit_still_reach_the_user(monkeypatch):
    real_fit = LogisticRegression.fit

    def fit(self, *args, **kwargs):
        warnings.warn("something else", RuntimeWarning)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", fit)
    X, y = _data()
    caught = _fit_rounds(LogisticLearner(DataInfo(3, (20, 1, 1), 1.0, ("a", "b", "c"))), X, y, (30, 60))
    assert [str(w.message) for w in caught if w.category is RuntimeWarning] == ["something else"] * 2


def test_a_converging_fit_is_silent():
    X, y = _data()
    learner = LogisticLearner(DataInfo(3, (20, 1, 1), 1.0, ("a", "b", "c")))
    assert not [w for w in _fit_rounds(learner, X, y, (30, 60)) if issubclass(w.category, ConvergenceWarning)]
    assert learner.converged_


def test_a_comparison_warns_once_per_run_not_per_round():
    config = RunConfig(dataset="digits", learner="logistic", learner_params={"max_iter": 1}, strategies=("random",),
                       initial=20, batch=10, rounds=4, repeats=2, subset=300)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_comparison(config)
    lines = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(lines) == 2 and all(line.startswith("logistic: lbfgs did not converge") for line in lines)
