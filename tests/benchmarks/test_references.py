"""The plain references that stand in for a peer (largest margin, hybrid) and the tie rule."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.peers.reference import hybrid_loop_select, largest_margin_select, same_up_to_ties
from core.learners import make_learner
from core.datasets import load_dataset
from core.strategies import make_strategy
from core.types import PoolView


def test_same_up_to_ties_accepts_only_swaps_at_the_cut():
    scores = np.array([0.9, 0.8, 0.5, 0.5, 0.1])
    assert same_up_to_ties([0, 1, 2], [1, 0, 2], scores) == (True, 0)
    assert same_up_to_ties([0, 1, 2], [0, 1, 3], scores) == (True, 1)  # 2 and 3 tie at the cut
    assert same_up_to_ties([0, 1, 2], [0, 2, 3], scores)[0] is False  # 1 is above the cut
    assert same_up_to_ties([0, 1, 2], [0, 1, 4], scores)[0] is False
    assert same_up_to_ties([0, 1, 2], [0, 1, 1], scores)[0] is False  # duplicates are never the same choice


@pytest.fixture(scope="module")
def digits_pool():
    digits = load_dataset("digits")
    learner = make_learner("logistic", digits.info, seed=0).fit(digits.images[:300], digits.labels[:300])
    pool = digits.images[300:1300]
    return learner.predict_proba(pool), learner.embed(pool)


def _ours(name, proba, k, embeddings=None, **params):
    view = PoolView(np.zeros(len(proba), dtype=bool), proba=proba, embeddings=embeddings)
    return make_strategy(name, **params).select(view, k, rng=np.random.default_rng(0)).indices


@pytest.mark.parametrize("k", [1, 10, 100])
def test_largest_margin_matches_its_definition(digits_pool, k):
    proba, _ = digits_pool
    scores = 1.0 - (proba.max(1) - proba.min(1)).astype(np.float64)
    assert same_up_to_ties(_ours("largest_margin", proba, k), largest_margin_select(proba, k), scores)[0]


@pytest.mark.parametrize("k, alpha, n_clusters, measure", [(10, 0.5, 5, "entropy"), (40, 0.25, 3, "smallest_margin")])
def test_hybrid_matches_the_python_loop(digits_pool, k, alpha, n_clusters, measure):
    proba, features = digits_pool
    ours = _ours("hybrid", proba, k, features, alpha=alpha, clusters=n_clusters, measure=measure)
    seed = int(np.random.default_rng(0).integers(2**31 - 1))  # the K-means seed ours draws (no ties at the cut)
    s_u, fill = hybrid_loop_select(proba, features, k, alpha=alpha, n_clusters=n_clusters, measure=measure,
                                   kmeans_seed=seed)
    n_u = round(alpha * k)
    np.testing.assert_array_equal(ours[:n_u], s_u)
    assert set(ours[n_u:]) == set(fill)
