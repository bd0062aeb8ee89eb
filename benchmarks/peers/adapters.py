"""The peers driven the way their own documentation drives them, on our data and our learners.

Selection-only calls get a classifier whose `predict_proba` hands back a precomputed array, so
the model's prediction is timed once, apart, and what remains is each library's own work
(input checks, scores, ranking). Loops use the peers' own objects: modAL's `ActiveLearner`
with `query` / `teach`, scikit-activeml's `SklearnClassifier` + `query`.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelSpreading
from threadpoolctl import threadpool_limits

from core.learners import make_learner
from core.analysis.metrics import evaluate
from core.engine.runner import make_split
from core.types import Dataset, flat_features

MISSING = -1  # the label scikit-learn's semi-supervised models and scikit-activeml read as "unlabelled"

# Our strategy name -> the peer's spelling of the same strategy (None: the peer has none).
MODAL_NAMES = {"entropy": "entropy_sampling", "least_confidence": "uncertainty_sampling",
               "smallest_margin": "margin_sampling"}
SKACTIVEML_NAMES = {"entropy": "entropy", "least_confidence": "least_confident",
                    "smallest_margin": "margin_sampling", "random": "random"}
PEER_NAMES = {"modAL": MODAL_NAMES, "skactiveml": SKACTIVEML_NAMES}


def patch_modal_for_new_sklearn() -> bool:
    """Let modAL 0.4.2.1's `teach` run on scikit-learn >= 1.8; True when a patch was needed.

    modAL passes `force_all_finite=` to `check_X_y`; scikit-learn 1.8 renamed it
    `ensure_all_finite`. Renaming the keyword is the whole change, so modAL runs in the
    same process and on the same scikit-learn as the other contenders.
    """
    import modAL.models.learners as learners
    from sklearn.utils import check_X_y

    if "force_all_finite" in inspect.signature(check_X_y).parameters:
        return False

    def check_X_y_renamed(*args, force_all_finite=True, **kwargs):
        return check_X_y(*args, ensure_all_finite=force_all_finite, **kwargs)

    learners.check_X_y = check_X_y_renamed
    return True


class FixedProba:
    """A fitted-model stand-in for modAL: `predict_proba` returns the array it was given."""

    def __init__(self, proba: np.ndarray) -> None:
        self.proba = proba

    def predict_proba(self, X):
        if len(X) != len(self.proba):
            raise ValueError(f"FixedProba holds {len(self.proba)} rows; asked for {len(X)}")
        return self.proba


def fixed_proba_skactiveml(proba: np.ndarray, n_classes: int):
    """The same stand-in as a scikit-activeml classifier (its `query` type-checks the model)."""
    from skactiveml.base import SkactivemlClassifier

    class FixedProbaClassifier(SkactivemlClassifier):
        def fit(self, X, y, sample_weight=None):
            return self

        def predict_proba(self, X):
            if len(X) != len(proba):
                raise ValueError(f"FixedProbaClassifier holds {len(proba)} rows; asked for {len(X)}")
            return proba

    return FixedProbaClassifier(classes=np.arange(n_classes), missing_label=MISSING)


def modal_select(strategy: str, proba: np.ndarray, X: np.ndarray, k: int) -> np.ndarray:
    """modAL's query function for `strategy` on a pool whose probabilities are `proba`."""
    import modAL.uncertainty as mu

    indices, _ = getattr(mu, MODAL_NAMES[strategy])(FixedProba(proba), X, n_instances=k)
    return np.asarray(indices)


def skactiveml_select(strategy: str, proba: np.ndarray, X: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """scikit-activeml's `UncertaintySampling.query` for `strategy`; every row of X unlabelled."""
    from skactiveml.pool import UncertaintySampling

    qs = UncertaintySampling(method=SKACTIVEML_NAMES[strategy], missing_label=MISSING, random_state=seed)
    y = np.full(len(X), MISSING)
    return np.asarray(qs.query(X, y, fixed_proba_skactiveml(proba, proba.shape[1]), fit_clf=False, batch_size=k))


PEER_SELECT: dict[str, Callable[..., np.ndarray]] = {"modAL": modal_select, "skactiveml": skactiveml_select}


# ---------------------------------------------------------------- full active-learning loops


@dataclass(frozen=True)
class LoopData:
    """One repeat's split, exactly as our runner makes it (same seed -> same pool, test, initial set)."""

    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @classmethod
    def from_dataset(cls, dataset: Dataset, seed: int, test_size: float = 0.25) -> "LoopData":
        split = make_split(dataset, seed, test_size, None)
        feats = flat_features(dataset.images, dataset.feature_scale)
        return cls(feats[split.pool], dataset.labels[split.pool], feats[split.test], dataset.labels[split.test],
                   dataset.n_classes)


def sklearn_model(learner: str, dataset: Dataset, seed: int):
    """The scikit-learn estimator inside our learner of that name, with our learner's settings."""
    params = make_learner(learner, dataset.info, seed=seed).params()
    if learner == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=params["C"], max_iter=params["max_iter"],
                                                                  random_state=seed))
    if learner == "label_spreading":
        return LabelSpreading(kernel=params["kernel"], gamma=params["gamma"], max_iter=params["max_iter"],
                              n_neighbors=params["n_neighbors"], alpha=params["alpha"])
    raise ValueError(f"learner must be one of ['label_spreading', 'logistic']; got {learner!r}")


def _blas_threads(learner: str, dataset: Dataset):
    return make_learner(learner, dataset.info).blas_threads


def _row(strategy, library, seed, index, n_labeled, test_pred, pool_pred, data, unlabeled, fit_s, select_s):
    test_acc, test_f1, _ = evaluate(data.y_test, test_pred, data.n_classes)
    pool_acc, pool_f1, _ = evaluate(data.y_pool[unlabeled], pool_pred, data.n_classes)
    return {"strategy": strategy, "library": library, "seed": seed, "round": index, "n_labeled": n_labeled,
            "test_accuracy": test_acc, "test_macro_f1": test_f1, "pool_accuracy": pool_acc, "pool_macro_f1": pool_f1,
            "fit_seconds": fit_s, "select_seconds": select_s}


def modal_loop(dataset: Dataset, strategy: str, learner: str, seed: int, *, initial: int = 20, batch: int = 10,
               rounds: int = 10, test_size: float = 0.25) -> list[dict]:
    """modAL's documented pool loop: query the unlabelled rows, teach the chosen ones, repeat.

    Logistic: `ActiveLearner(estimator, query_strategy)` + `teach` (which refits on everything
    taught so far). LabelSpreading needs the unlabelled rows at fit time, which `ActiveLearner`
    never passes, so there modAL's query function runs on the model fitted the scikit-learn
    way (whole pool, -1 = unlabelled), as in scikit-learn's label-spreading tutorial.
    """
    import modAL.uncertainty as mu
    from modAL.models import ActiveLearner

    patch_modal_for_new_sklearn()
    query = getattr(mu, MODAL_NAMES[strategy])
    data = LoopData.from_dataset(dataset, seed, test_size)
    labeled = np.zeros(len(data.y_pool), dtype=bool)
    labeled[:initial] = True
    rows, chosen = [], np.arange(initial)
    with threadpool_limits(limits=_blas_threads(learner, dataset)):
        model = active = None
        for index in range(rounds):
            t0 = time.perf_counter()
            if learner == "logistic":
                if active is None:
                    active = ActiveLearner(sklearn_model(learner, dataset, seed), query_strategy=query,
                                           X_training=data.X_pool[chosen], y_training=data.y_pool[chosen])
                else:
                    active.teach(data.X_pool[chosen], data.y_pool[chosen])
                model = active
            else:
                y = np.where(labeled, data.y_pool, MISSING)
                model = sklearn_model(learner, dataset, seed).fit(data.X_pool.astype(np.float64), y)
            t1 = time.perf_counter()
            unlabeled = np.flatnonzero(~labeled)
            X_unl = data.X_pool[unlabeled] if learner == "logistic" else data.X_pool[unlabeled].astype(np.float64)
            X_test = data.X_test if learner == "logistic" else data.X_test.astype(np.float64)
            classes = model.estimator.classes_ if learner == "logistic" else model.classes_
            pool_pred = classes[model.predict_proba(X_unl).argmax(axis=1)]
            test_pred = classes[model.predict_proba(X_test).argmax(axis=1)]
            t2 = time.perf_counter()
            k = min(batch, unlabeled.size)
            if learner == "logistic":
                picked, _ = active.query(X_unl, n_instances=k)
            else:
                picked, _ = query(model, X_unl, n_instances=k)
            t3 = time.perf_counter()
            rows.append(_row(strategy, "modAL", seed, index, int(labeled.sum()), test_pred, pool_pred, data, unlabeled,
                             t1 - t0, t3 - t2))
            chosen = unlabeled[np.asarray(picked)]
            labeled[chosen] = True
    return rows


def skactiveml_loop(dataset: Dataset, strategy: str, learner: str, seed: int, *, initial: int = 20, batch: int = 10,
                    rounds: int = 10, test_size: float = 0.25) -> list[dict]:
    """scikit-activeml's documented pool loop: `clf.fit(X, y)`, `qs.query(X, y, clf, batch_size)`, reveal."""
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import RandomSampling, UncertaintySampling

    data = LoopData.from_dataset(dataset, seed, test_size)
    X = data.X_pool if learner == "logistic" else data.X_pool.astype(np.float64)
    X_test = data.X_test if learner == "logistic" else data.X_test.astype(np.float64)
    y = np.full(len(data.y_pool), MISSING)
    y[:initial] = data.y_pool[:initial]
    clf = SklearnClassifier(sklearn_model(learner, dataset, seed), classes=np.arange(data.n_classes),
                            missing_label=MISSING, include_unlabeled_samples=learner == "label_spreading")
    if strategy == "random":
        qs = RandomSampling(missing_label=MISSING, random_state=seed)
    else:
        qs = UncertaintySampling(method=SKACTIVEML_NAMES[strategy], missing_label=MISSING, random_state=seed)
    rows = []
    with threadpool_limits(limits=_blas_threads(learner, dataset)):
        for index in range(rounds):
            t0 = time.perf_counter()
            clf.fit(X, y)
            t1 = time.perf_counter()
            unlabeled = np.flatnonzero(y == MISSING)
            pool_pred = clf.predict_proba(X[unlabeled]).argmax(axis=1)
            test_pred = clf.predict_proba(X_test).argmax(axis=1)
            t2 = time.perf_counter()
            k = min(batch, unlabeled.size)
            if strategy == "random":
                picked = qs.query(X, y, batch_size=k)
            else:
                picked = qs.query(X, y, clf, fit_clf=False, batch_size=k)
            t3 = time.perf_counter()
            rows.append(_row(strategy, "skactiveml", seed, index, int((y != MISSING).sum()), test_pred, pool_pred, data,
                             unlabeled, t1 - t0, t3 - t2))
            y[picked] = data.y_pool[picked]
    return rows


PEER_LOOP: dict[str, Callable[..., list[dict]]] = {"modAL": modal_loop, "skactiveml": skactiveml_loop}
