"""dropquery against its definition, written the slow way."""

from __future__ import annotations

import numpy as np
import pytest

from core.strategies import make_strategy
from core.strategies import dropquery as dropquery_module
from core.strategies.bald import bald
from core.strategies.dropquery import dropout_candidates, dropout_disagreement, dropquery, nearest_distinct
from tests.conftest import make_pool


def samples_for(S: int, n: int, C: int, seed: int, alpha: float = 0.3) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.full(C, alpha), size=(S, n)).astype(np.float32)


def reference_candidates(samples: np.ndarray) -> list[int]:
    """Gupte et al.: a sample is a candidate when more than half of the passes predict another class
    than the mean prediction does."""
    S, n, C = samples.shape
    out = []
    for i in range(n):
        mean_class = int(np.argmax([sum(float(samples[s, i, c]) for s in range(S)) for c in range(C)]))
        flips = sum(int(np.argmax(samples[s, i])) != mean_class for s in range(S))
        if flips > S / 2:
            out.append(i)
    return out


def reference_dropquery(samples, features, k, init) -> list[int]:
    """Candidates, K-means from `init` on them, then per centre the nearest candidate not yet taken."""
    from sklearn.cluster import KMeans

    candidates = reference_candidates(samples)
    centres = KMeans(n_clusters=k, n_init=1, init=init).fit(features[candidates]).cluster_centers_
    chosen: list[int] = []
    for centre in centres:
        free = [i for i in candidates if i not in chosen]
        chosen.append(min(free, key=lambda i: (float(np.sum((features[i].astype(float) - centre) ** 2)), i)))
    return chosen


@pytest.mark.parametrize("S", [2, 3, 4, 5, 8])
def test_candidates_match_the_definition(S):
    samples = samples_for(S, 300, 4, seed=S)
    np.testing.assert_array_equal(dropout_candidates(dropout_disagreement(samples), S), reference_candidates(samples))


def test_three_passes_need_two_flips_and_four_passes_need_three():
    assert dropout_candidates(np.array([0, 1, 2, 3]), 3).tolist() == [2, 3]
    assert dropout_candidates(np.array([0, 1, 2, 3, 4]), 4).tolist() == [3, 4]


@pytest.mark.parametrize("k, seed", [(3, 0), (8, 1), (15, 2)])
def test_picks_match_the_definition_from_the_same_centres(k, seed):
    samples = samples_for(5, 400, 4, seed)
    features = np.random.default_rng(seed).normal(size=(400, 6)).astype(np.float32)
    candidates = reference_candidates(samples)
    assert len(candidates) > k
    init = features[np.random.default_rng(seed).choice(candidates, k, replace=False)].astype(np.float64)
    ours, _ = dropquery(samples, features, k, np.random.default_rng(0), init=init)
    assert ours.tolist() == reference_dropquery(samples, features, k, init)


def test_nearest_distinct_matches_brute_force_even_when_the_kept_rows_run_out():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5)).astype(np.float32)
    centres = np.repeat(X[:3], 10, axis=0) + 0.001  # 10 centres on each point: their kept rows run out
    rows = np.arange(0, 600, 3)
    got = nearest_distinct(X, centres, rows, keep=4)
    taken: list[int] = []
    for c in centres:
        d = ((X[rows].astype(float) - c) ** 2).sum(axis=1)
        taken.append(next(int(j) for j in np.argsort(d, kind="stable") if j not in taken))
    assert got.tolist() == taken


def test_blocks_do_not_change_the_picks(monkeypatch):
    samples = samples_for(5, 500, 4, seed=3)
    features = np.random.default_rng(3).normal(size=(500, 6)).astype(np.float32)
    whole = dropquery(samples, features, 7, np.random.default_rng(1))[0]
    monkeypatch.setattr(dropquery_module, "_CHUNK_ROWS", 37)
    np.testing.assert_array_equal(dropquery(samples, features, 7, np.random.default_rng(1))[0], whole)


def test_fewer_candidates_than_k_fills_from_the_most_disagreeing_then_bald():
    samples = samples_for(4, 200, 3, seed=5)
    features = np.random.default_rng(5).normal(size=(200, 4)).astype(np.float32)
    disagreement = dropout_disagreement(samples)
    candidates = dropout_candidates(disagreement, 4)
    k = candidates.size + 10
    picks, rate = dropquery(samples, features, k, np.random.default_rng(0))
    assert picks[:candidates.size].tolist() == candidates.tolist()
    fill = picks[candidates.size:]
    rest = np.setdiff1d(np.arange(200), candidates)
    key = [(disagreement[i], bald(samples[:, [i]])[0]) for i in rest]
    expected = rest[sorted(range(len(rest)), key=lambda j: key[j], reverse=True)[:10]]
    assert set(fill.tolist()) == set(expected.tolist())
    np.testing.assert_allclose(rate, disagreement / 4)


def test_a_fit_subset_still_gives_k_distinct_candidates_reproducibly():
    samples = samples_for(3, 2000, 3, seed=6)
    features = np.random.default_rng(6).normal(size=(2000, 4)).astype(np.float32)
    candidates = set(dropout_candidates(dropout_disagreement(samples), 3).tolist())
    assert len(candidates) > 300
    a, _ = dropquery(samples, features, 20, np.random.default_rng(2), fit_size=100)
    np.testing.assert_array_equal(a, dropquery(samples, features, 20, np.random.default_rng(2), fit_size=100)[0])
    assert len(set(a.tolist())) == 20 and set(a.tolist()) <= candidates


def test_strategy_reads_only_its_declared_inputs_and_is_reproducible():
    pool = make_pool(n=300, n_labeled=30, n_classes=3, needs=frozenset({"proba_samples", "pool_features"}),
                     strategy="dropquery")
    first = make_strategy("dropquery").select(pool, 8, rng=np.random.default_rng(0))
    again = make_strategy("dropquery").select(pool, 8, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(first.indices, again.indices)
    assert len(set(first.indices.tolist())) == 8 and not pool.labeled_mask[first.indices].any()
    assert first.measure == "dropout disagreement" and first.scores.shape == (270,)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_sampled_nearest_search_keeps_the_spread_of_the_candidates(seed):
    """Above `search_size` candidates, the centres' nearest are searched among the fit rows plus a sample: the
    picks are still candidates, and the candidates' mean distance to their nearest pick (what one pick per
    K-means centre spreads) stays within 5% of the full search's (random candidates: 13-21% farther)."""
    rng = np.random.default_rng(seed)
    samples = samples_for(3, 8000, 3, seed=seed)
    features = (rng.normal(size=(8, 6))[rng.integers(0, 8, 8000)] * 3 + rng.normal(size=(8000, 6))).astype(np.float32)
    candidates = dropout_candidates(dropout_disagreement(samples), 3)
    assert candidates.size > 2000

    def spread(picks: np.ndarray) -> float:
        d = ((features[candidates][:, None, :] - features[picks][None]) ** 2).sum(-1)
        return float(np.sqrt(d.min(axis=1)).mean())

    full, _ = dropquery(samples, features, 30, np.random.default_rng(seed), fit_size=200)
    sampled, _ = dropquery(samples, features, 30, np.random.default_rng(seed), fit_size=200, search_size=300)
    assert not np.array_equal(np.sort(full), np.sort(sampled))  # the search did change
    assert set(sampled.tolist()) <= set(candidates.tolist()) and len(set(sampled.tolist())) == 30
    random = np.random.default_rng(seed).choice(candidates, 30, replace=False)
    assert spread(sampled) <= 1.05 * spread(full) < spread(random)
