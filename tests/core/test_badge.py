"""badge against the reference code's k-means++ on materialised gradient embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from core.strategies import make_strategy
from core.strategies.badge import badge_kmeanspp, gradient_sq_distances, gradient_factors
from core.types import PoolView
from tests.conftest import make_pool


def reference_gradient_embeddings(proba: np.ndarray, features: np.ndarray) -> np.ndarray:
    """g_i = (p_i - onehot(argmax p_i)) (x) h_i, built in full (n x C*d), one sample at a time."""
    n, C = proba.shape
    g = np.zeros((n, C * features.shape[1]))
    for i in range(n):
        y = int(np.argmax(proba[i]))
        for c in range(C):
            g[i, c * features.shape[1]:(c + 1) * features.shape[1]] = (proba[i, c] - (c == y)) * features[i]
    return g


def reference_badge(proba: np.ndarray, features: np.ndarray, k: int, uniforms: list[float]) -> list[int]:
    """JordanAsh/badge `init_centers`: first the largest gradient, then D^2 draws, written with loops."""
    g = reference_gradient_embeddings(proba.astype(np.float64), features.astype(np.float64))
    first = max(range(len(g)), key=lambda i: np.linalg.norm(g[i]))
    chosen, draws = [first], iter(uniforms)
    D2 = [float(np.sum((g[i] - g[first]) ** 2)) for i in range(len(g))]
    while len(chosen) < k:
        total, u, acc = sum(D2), next(draws), 0.0
        for i, w in enumerate(D2):  # inverse CDF, as RandomState.choice(p=D2/sum) does
            acc += w / total
            if u < acc and w > 0:
                break
        chosen.append(i)
        D2 = [min(D2[m], float(np.sum((g[m] - g[i]) ** 2))) for m in range(len(g))]
    return chosen


def _inputs(n=60, C=5, d=7, seed=0):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(C), size=n).astype(np.float32), rng.normal(size=(n, d)).astype(np.float32)


def test_factorised_distances_match_the_materialised_embeddings():
    proba, h = _inputs()
    g = reference_gradient_embeddings(proba.astype(np.float64), h.astype(np.float64))
    a = gradient_factors(proba)
    sq = (a.astype(np.float64) ** 2).sum(1) * (h.astype(np.float64) ** 2).sum(1)
    for j in (0, 17, 59):
        np.testing.assert_allclose(gradient_sq_distances(a, h, sq, j), ((g - g[j]) ** 2).sum(1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 2, 10, 30])
def test_picks_are_the_reference_codes_given_the_same_draws(seed, k):
    proba, h = _inputs(seed=seed)
    uniforms = np.random.default_rng(100 + seed).random(k).tolist()
    draws = iter(uniforms)
    ours = badge_kmeanspp(proba, h, k, lambda: next(draws))
    assert ours.tolist() == reference_badge(proba, h, k, uniforms)


def test_no_duplicates_and_uniform_fallback_when_all_gradients_vanish():
    proba = np.eye(4, dtype=np.float32)[np.arange(20) % 4]  # certain everywhere: every gradient is zero
    h = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    picks = badge_kmeanspp(proba, h, 20, np.random.default_rng(0).random)
    assert sorted(picks.tolist()) == list(range(20))


def test_duplicates_of_chosen_centres_are_never_picked_again():
    proba, h = _inputs(n=10)
    proba, h = np.repeat(proba, 3, axis=0), np.repeat(h, 3, axis=0)  # each sample three times
    picks = badge_kmeanspp(proba, h, 10, np.random.default_rng(0).random)
    assert len({p // 3 for p in picks.tolist()}) == 10  # ten distinct originals before any copy
    assert len(set(badge_kmeanspp(proba, h, 30, np.random.default_rng(0).random).tolist())) == 30


def test_strategy_is_seeded_and_prefers_large_gradients():
    pool = make_pool(n=400, n_classes=5, d=8, n_labeled=40, needs=frozenset({"proba", "pool_features"}))
    strategy = make_strategy("badge")
    first = strategy.select(pool, 25, rng=np.random.default_rng(3))
    assert np.array_equal(first.indices, strategy.select(pool, 25, rng=np.random.default_rng(3)).indices)
    assert not np.array_equal(first.indices, strategy.select(pool, 25, rng=np.random.default_rng(4)).indices)
    position = np.searchsorted(pool.unlabeled, first.indices)
    assert position[0] == np.argmax(first.scores)
    assert np.median(first.scores[position]) > np.median(first.scores)  # D^2 favours large gradients


def test_gradient_embeddings_are_never_built():
    import tracemalloc

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(50), size=2000).astype(np.float32)
    h = rng.normal(size=(2000, 300)).astype(np.float32)  # built, g would be 2000 x 15000 float32: 114 MB
    tracemalloc.start()
    badge_kmeanspp(proba, h, 20, rng.random)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * 2**20  # a few vectors of length n and the n x C class factors


def gradient_pool(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """5 Gaussian classes in 16-d and a linear model's softmax that is unsure on part of them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, n)
    X = (rng.normal(size=(5, 16))[y] * 2 + rng.normal(size=(n, 16))).astype(np.float32)
    z = X @ (rng.normal(size=(16, 5)) * 0.3)
    z[np.arange(n), y] += 1.0
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return X, (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 2])
def test_badge_seeded_on_a_sample_keeps_its_quality(seed):
    """The approximation for large pools (seeding on a uniform sixth of the pool), averaged over 5 draws, keeps
    the k-means++ potential in gradient space within 5% of exact BADGE's and 90% of its picks' mean gradient norm
    (random picks: 58-80% of it)."""
    X, p = gradient_pool(6000, seed)
    g = reference_gradient_embeddings(p.astype(np.float64), X.astype(np.float64))
    g_sq = (g ** 2).sum(axis=1)
    norm = np.sqrt(g_sq)
    view = PoolView(np.zeros(len(X), bool), proba=p, embeddings=X, strategy="badge")

    def quality(sample: int) -> tuple[float, float]:
        potential, mean_norm = [], []
        for draw in range(5):
            sel = make_strategy("badge", sample=sample).select(view, 30, rng=np.random.default_rng(draw))
            c = g[sel.indices]
            potential.append(np.maximum(g_sq[:, None] + (c ** 2).sum(1)[None] - 2 * g @ c.T, 0).min(axis=1).sum())
            mean_norm.append(norm[sel.indices].mean())
        return float(np.mean(potential)), float(np.mean(mean_norm))

    exact, approx = quality(100_000), quality(1000)
    assert make_strategy("badge", sample=1000).select(view, 30, rng=np.random.default_rng(0)).measure == \
        "gradient norm (seeded on a sample of 1,000)"
    assert approx[0] <= 1.05 * exact[0] and approx[1] >= 0.90 * exact[1]
