"""cluster_margin against the paper's definition, written the slow way."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.strategies import make_strategy
from core.strategies.cluster_margin import (average_linkage_labels, candidate_clusters, cluster_margin,
                                            nearest_mean_labels, round_robin)
from core.strategies.measures import reference_smallest_margin
from tests.conftest import make_pool


def reference_average_linkage(X: np.ndarray, threshold: float) -> list[set[int]]:
    """Agglomerate: merge the two groups with the smallest mean pairwise distance while it is <= the cut."""
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    cut = threshold * np.median(D[np.triu_indices(len(X), 1)])
    groups = [{i} for i in range(len(X))]
    while len(groups) > 1:
        (a, b), dist = min((((a, b), np.mean([D[i, j] for i in groups[a] for j in groups[b]]))
                            for a, b in itertools.combinations(range(len(groups)), 2)), key=lambda t: t[1])
        if dist > cut:
            break
        groups[a] |= groups.pop(b)
    return groups


def reference_round_robin(labels: np.ndarray, k: int, order: np.ndarray) -> list[int]:
    """Algorithm 2's loop: groups by increasing size; each turn takes the next member of each group."""
    groups = {g: [i for i in order if labels[i] == g] for g in np.unique(labels)}
    ranked = sorted(groups, key=lambda g: (len(groups[g]), g))
    picks = []
    while len(picks) < k:
        for g in ranked:
            if groups[g] and len(picks) < k:
                picks.append(groups[g].pop(0))
    return picks


def _partition(labels):
    return sorted(sorted(np.flatnonzero(labels == g).tolist()) for g in np.unique(labels))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("threshold", [0.3, 0.6, 0.9, 2.0])
def test_groups_are_the_agglomerative_definition(seed, threshold):
    X = np.random.default_rng(seed).normal(size=(30, 3))
    expected = sorted(sorted(g) for g in reference_average_linkage(X, threshold))
    assert _partition(average_linkage_labels(X, threshold)) == expected


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 4, 9, 25])
def test_round_robin_is_the_papers_loop(seed, k):
    labels = np.random.default_rng(seed).integers(0, 6, 25)
    labels = np.unique(labels, return_inverse=True)[1]
    picks = round_robin(labels, k, np.random.default_rng(seed))
    order = np.random.default_rng(seed).permutation(25)  # the draw round_robin makes
    assert picks.tolist() == reference_round_robin(labels, k, order)


def test_above_the_cap_a_subsample_is_clustered_and_the_rest_join_the_nearest_mean():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 0.1, size=(40, 2)) for c in ((0, 0), (5, 0), (0, 5))]).astype(np.float32)
    labels = candidate_clusters(X, 0.5, 30, np.random.default_rng(1))
    assert _partition(labels) == [list(range(0, 40)), list(range(40, 80)), list(range(80, 120))]
    members = np.array([0, 1, 40, 41])
    out = nearest_mean_labels(X, members, np.array([0, 0, 1, 1]))
    means = np.array([X[[0, 1]].mean(0), X[[40, 41]].mean(0)])
    assert out.tolist() == np.argmin(((X[:, None] - means[None]) ** 2).sum(-1), axis=1).tolist()


def test_picks_are_low_margin_and_spread_over_groups():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(4), size=300).astype(np.float32)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    picks = cluster_margin(proba, X, 10, 5.0, 0.75, 3000, np.random.default_rng(2))
    margin_rank = np.argsort(np.argsort(-reference_smallest_margin(proba)))
    assert len(set(picks.tolist())) == 10 and margin_rank[picks].max() < 50
    draws = np.random.default_rng(2)  # the same draws, by hand: candidates, then the groups' turns
    from core.strategies.base import top_k
    from core.strategies.measures import smallest_margin
    candidates = top_k(smallest_margin(proba), 50, draws)
    labels = average_linkage_labels(X[candidates], 0.75)
    assert picks.tolist() == candidates[reference_round_robin(labels, 10, draws.permutation(50))].tolist()


def test_margin_factor_one_is_smallest_margin():
    pool = make_pool(n=300, n_labeled=30, seed=4, needs=frozenset({"proba", "pool_features"}))
    margin = make_strategy("smallest_margin").select(pool, 20, rng=np.random.default_rng(0)).indices
    ours = make_strategy("cluster_margin", margin_factor=1.0).select(pool, 20, rng=np.random.default_rng(0)).indices
    np.testing.assert_array_equal(ours, margin)


def test_strategy_is_seeded():
    pool = make_pool(n=400, n_labeled=40, seed=1, needs=frozenset({"proba", "pool_features"}))
    s = make_strategy("cluster_margin", margin_factor=4.0, cap=50)  # 100 candidates: the subsample path too
    a = s.select(pool, 25, rng=np.random.default_rng(3)).indices
    assert np.array_equal(a, s.select(pool, 25, rng=np.random.default_rng(3)).indices)
    assert not np.array_equal(a, s.select(pool, 25, rng=np.random.default_rng(4)).indices)
