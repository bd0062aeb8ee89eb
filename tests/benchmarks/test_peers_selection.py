"""Same pool, same fitted model: ours, modAL and scikit-activeml choose the same samples
(up to exact ties). Skipped unless the `bench` extra is installed."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("modAL")
pytest.importorskip("skactiveml")

from benchmarks.peers.adapters import PEER_LOOP, PEER_SELECT, patch_modal_for_new_sklearn  # noqa: E402
from benchmarks.peers.reference import same_up_to_ties  # noqa: E402
from core.engine.config import RunConfig  # noqa: E402
from core.datasets import load_dataset  # noqa: E402
from core.learners import make_learner  # noqa: E402
from core.engine.runner import run_comparison  # noqa: E402
from core.strategies import make_strategy  # noqa: E402
from core.strategies.measures import (reference_entropy, reference_least_confidence,  # noqa: E402
                                         reference_smallest_margin)
from core.types import PoolView, flat_features  # noqa: E402

REFERENCE = {"entropy": reference_entropy, "least_confidence": reference_least_confidence,
             "smallest_margin": reference_smallest_margin}


@pytest.fixture(scope="module")
def fitted_pool():
    digits = load_dataset("digits")
    learner = make_learner("logistic", digits.info, seed=0).fit(digits.images[:200], digits.labels[:200])
    pool = digits.images[200:1000]
    return learner.predict_proba(pool), flat_features(pool, digits.feature_scale)


@pytest.mark.parametrize("library", sorted(PEER_SELECT))
@pytest.mark.parametrize("measure", sorted(REFERENCE))
@pytest.mark.parametrize("k", [1, 7, 60])
def test_peer_chooses_what_we_choose(fitted_pool, library, measure, k):
    proba, X = fitted_pool
    view = PoolView(np.zeros(len(proba), dtype=bool), proba=proba)
    ours = make_strategy(measure).select(view, k, rng=np.random.default_rng(0)).indices
    theirs = PEER_SELECT[library](measure, proba, X, k)
    same, _ = same_up_to_ties(ours, theirs, REFERENCE[measure](proba))
    assert same, f"{library} {measure} k={k}: {sorted(ours)} vs {sorted(theirs)}"


def test_modal_teach_runs_on_this_scikit_learn():
    from modAL.models import ActiveLearner
    from sklearn.linear_model import LogisticRegression

    patch_modal_for_new_sklearn()
    X, y = np.random.default_rng(0).normal(size=(30, 3)), np.arange(30) % 2
    learner = ActiveLearner(LogisticRegression(), X_training=X[:10], y_training=y[:10])
    learner.teach(X[10:12], y[10:12])
    assert learner.X_training.shape == (12, 3)


@pytest.mark.parametrize("library", sorted(PEER_LOOP))
def test_peer_loop_follows_our_runner(library):
    """Same split, initial set and learner: a 3-round loop gives the same test accuracy every round."""
    digits = load_dataset("digits")
    ours = run_comparison(RunConfig(strategies=("smallest_margin",), rounds=3), cache=None, dataset=digits).frame()
    theirs = PEER_LOOP[library](digits, "smallest_margin", "logistic", 0, rounds=3)
    assert [r["n_labeled"] for r in theirs] == ours.n_labeled.tolist()
    assert [r["test_accuracy"] for r in theirs] == pytest.approx(ours.test_accuracy.tolist())
