"""Contract tests over every registered strategy, plus each measure against its definition."""

from __future__ import annotations

import numpy as np
import pytest

from core.strategies import STRATEGIES, make_strategy, top_k
from core.strategies.distances import min_sq_distance
from core.strategies.hybrid import Hybrid
from core.strategies.measures import (
    MEASURES, entropy, largest_margin, least_confidence, normalized_score, reference_entropy,
    reference_largest_margin, reference_least_confidence, reference_smallest_margin, smallest_margin,
)
from core.types import PoolView
from tests.conftest import make_pool

HYBRID = {"alpha": 0.5, "clusters": 2}


def build(name):
    return make_strategy(name, **(HYBRID if name == "hybrid" else {}))


def declared_pool(name, **kwargs):
    """A pool holding only what strategy `name` declares it needs: reading more is an error."""
    return make_pool(needs=STRATEGIES[name].needs, strategy=name, **kwargs)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_reads_only_what_it_declares(name):
    pool = declared_pool(name)
    sel = build(name).select(pool, k=7, rng=np.random.default_rng(0))
    assert len(set(sel.indices.tolist())) == 7 and not pool.labeled_mask[sel.indices].any()


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_selects_k_distinct_unlabeled(name, small_pool):
    sel = build(name).select(small_pool, k=7, rng=np.random.default_rng(0))
    assert len(sel.indices) == 7
    assert len(set(sel.indices.tolist())) == 7
    assert not small_pool.labeled_mask[sel.indices].any()


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_same_seed_same_picks(name):
    a = build(name).select(declared_pool(name), k=9, rng=np.random.default_rng(3)).indices
    b = build(name).select(declared_pool(name), k=9, rng=np.random.default_rng(3)).indices
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_k_larger_than_pool_is_a_clear_error(name, small_pool):
    with pytest.raises(ValueError, match="larger than the 180 unlabelled"):
        build(name).select(small_pool, k=181, rng=np.random.default_rng(0))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_k_must_be_positive(name, small_pool):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        build(name).select(small_pool, k=0, rng=np.random.default_rng(0))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_can_take_the_whole_pool(name, small_pool):
    sel = build(name).select(small_pool, k=small_pool.n_unlabeled, rng=np.random.default_rng(0))
    assert sorted(sel.indices.tolist()) == small_pool.unlabeled.tolist()


def test_unknown_strategy_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown strategy 'entropi'; choose one of \[.*'entropy', 'hybrid'"):
        make_strategy("entropi")


REFERENCES = {
    "entropy": reference_entropy,
    "least_confidence": reference_least_confidence,
    "smallest_margin": reference_smallest_margin,
    "largest_margin": reference_largest_margin,
}


@pytest.mark.parametrize("measure", sorted(MEASURES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_measure_matches_its_definition(measure, dtype):
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.full(7, 0.3), size=500).astype(dtype)
    proba[:10] = np.eye(7, dtype=dtype)[rng.integers(0, 7, 10)]  # exact zeros and ones
    got = MEASURES[measure](proba)
    assert got.shape == (500,) and got.dtype == dtype
    np.testing.assert_allclose(got, REFERENCES[measure](proba), rtol=1e-5, atol=1e-6)


def test_measures_order_uncertainty_the_right_way():
    sure = np.array([[0.98, 0.01, 0.01]])
    unsure = np.array([[0.34, 0.33, 0.33]])
    for fn in (entropy, least_confidence, smallest_margin, largest_margin):
        assert fn(unsure)[0] > fn(sure)[0], fn.__name__


def test_margins_use_the_right_classes():
    p = np.array([[0.5, 0.3, 0.2]])
    assert smallest_margin(p)[0] == pytest.approx(1 - (0.5 - 0.3))
    assert largest_margin(p)[0] == pytest.approx(1 - (0.5 - 0.2))
    assert least_confidence(p)[0] == pytest.approx(0.5)


def test_normalized_scores_reach_one_at_uniform():
    p = np.full((1, 5), 0.2)
    for m in MEASURES:
        assert normalized_score(m, p)[0] == pytest.approx(1.0, abs=1e-6), m


def test_measure_rejects_one_class_proba():
    with pytest.raises(ValueError, match="n_classes >= 2"):
        entropy(np.ones((3, 1)))


def test_top_k_picks_highest_first():
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    np.testing.assert_array_equal(top_k(scores, 3, np.random.default_rng(0)), [1, 3, 2])


def test_top_k_breaks_ties_at_the_cut_at_random_but_reproducibly():
    scores = np.array([1.0] + [0.5] * 20)
    picks = {tuple(top_k(scores, 3, np.random.default_rng(s)).tolist()) for s in range(20)}
    assert all(p[0] == 0 for p in picks)
    assert len(picks) > 5  # not always the lowest indices
    assert top_k(scores, 3, np.random.default_rng(4)).tolist() == top_k(scores, 3, np.random.default_rng(4)).tolist()


def test_uncertainty_strategy_returns_its_scores(small_pool):
    sel = make_strategy("smallest_margin").select(small_pool, 5, rng=np.random.default_rng(0))
    np.testing.assert_allclose(sel.scores, reference_smallest_margin(small_pool.proba), rtol=1e-6)
    chosen_scores = sel.scores[np.searchsorted(small_pool.unlabeled, sel.indices)]
    assert chosen_scores.min() >= np.sort(sel.scores)[-5] - 1e-7


def reference_hybrid(proba, feats, k, alpha, centers_fn):
    """The seed paper's description as a plain loop (the uncertain part is fixed by the test)."""
    n_u = round(alpha * k)
    ent = reference_entropy(proba)
    uncertain = list(np.argsort(-ent, kind="stable")[:n_u])
    centers = centers_fn(feats[uncertain])
    dists = []
    for i in range(len(feats)):
        if i in uncertain:
            continue
        dists.append((min(float(((feats[i] - c) ** 2).sum()) for c in centers), i))
    rest = [i for _, i in sorted(dists)[: k - n_u]]
    return set(uncertain) | set(rest)


def test_hybrid_matches_a_plain_loop_over_the_pool():
    from sklearn.cluster import KMeans

    pool = make_pool(n=400, n_classes=5, d=8, seed=2)
    rng_seed = 11
    hybrid = Hybrid(alpha=0.4, clusters=3)
    sel = hybrid.select(pool, 10, rng=np.random.default_rng(rng_seed))
    # replay the generator exactly as the strategy uses it: no tie draws (continuous scores), then K-means seed
    km_seed = int(np.random.default_rng(rng_seed).integers(2**31 - 1))

    def centers(x):
        return KMeans(3, n_init=1, random_state=km_seed).fit(x).cluster_centers_

    expected = reference_hybrid(pool.proba, pool.embeddings, 10, 0.4, centers)
    assert set(pool.unlabeled[list(expected)].tolist()) == set(sel.indices.tolist())


def test_hybrid_with_alpha_one_is_uncertainty_sampling(small_pool):
    h = Hybrid(alpha=1.0, clusters=1).select(small_pool, 6, rng=np.random.default_rng(0))
    e = make_strategy("entropy").select(small_pool, 6, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(np.sort(h.indices), np.sort(e.indices))


def test_hybrid_fill_comes_from_outside_the_uncertain_set():
    pool = make_pool(n=300, seed=5)
    sel = Hybrid(alpha=0.5, clusters=2).select(pool, 10, rng=np.random.default_rng(0))
    top5 = pool.unlabeled[np.argsort(-entropy(pool.proba))[:5]]
    assert set(top5.tolist()) <= set(sel.indices.tolist())
    assert len(set(sel.indices.tolist())) == 10


@pytest.mark.parametrize("params, message", [
    ({"alpha": 0.0}, r"hybrid.alpha must be a number in \(0, 1\]"),
    ({"alpha": 1.5}, r"hybrid.alpha must be a number in \(0, 1\]"),
    ({"clusters": 0}, "hybrid.clusters must be an integer >= 1"),
    ({"measure": "gini"}, r"hybrid.measure must be one of \['entropy'"),
])
def test_hybrid_rejects_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        Hybrid(**params)


def test_hybrid_more_clusters_than_uncertain_samples_says_what_to_change(small_pool):
    with pytest.raises(ValueError, match=r"between 1 and round\(alpha\*batch\) = round\(0.5\*4\) = 2; got 3"):
        Hybrid(alpha=0.5, clusters=3).select(small_pool, 4, rng=np.random.default_rng(0))


def test_nearest_centroid_distance_is_the_squared_euclidean_minimum():
    rng = np.random.default_rng(0)
    X, C = rng.normal(size=(50, 4)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    expected = ((X[:, None, :] - C[None]) ** 2).sum(-1).min(1)
    np.testing.assert_allclose(min_sq_distance(X, C), expected, rtol=1e-4, atol=1e-5)


def test_pool_view_needs_a_source_of_probabilities():
    with pytest.raises(ValueError, match="fitted learner or precomputed proba"):
        PoolView(np.zeros(3, dtype=bool))


def test_declared_measure_names_are_the_measures():
    """base declares the names (no numba at validation time), measures implements them; neither imports the other."""
    from core.strategies.base import MEASURE_NAMES
    from core.strategies.measures import MEASURES as implemented

    assert tuple(implemented) == MEASURE_NAMES
