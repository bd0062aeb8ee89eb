"""BADGE (Ash et al. 2020): k-means++ seeding on gradient embeddings, without building them.

The gradient of the cross-entropy loss at the model's own prediction, with respect to the
last linear layer, is the outer product g_i = a_i (x) h_i with a_i = p_i - onehot(argmax p_i)
and h_i the sample's features (the sign is irrelevant to distances). Its norm is large when
the model is unsure (uncertainty); k-means++ seeding on the g_i spreads the batch (diversity).

Materialising g is n x (C*d) numbers: 20,000 x 100 classes x 768 features is 12 GB in
float64 (scikit-activeml 1.0.1 builds it, twice: ~25 GB, their issue #589). The Gram of the
outer products factorises, <g_i, g_j> = <a_i, a_j> <h_i, h_j>, so

    ||g_i - g_j||^2 = ||a_i||^2 ||h_i||^2 + ||a_j||^2 ||h_j||^2 - 2 <a_i, a_j> <h_i, h_j>

and each new centre costs one pass over A (n x C) and H (n x d): O(n (C + d)) time and O(n)
extra memory instead of O(n C d). No library does this (scikit-learn's `kmeans_plusplus`
wants the embedding matrix), so the seeding loop is written here.

Seeding follows the reference code (JordanAsh/badge, `init_centers`): the first centre is
the sample with the largest gradient norm (no draw), each next one is drawn with
probability proportional to its squared distance to the nearest chosen centre. One uniform
draw per centre, inverted through the normalised cumulative sum as `RandomState.choice`
does, so given the same draws the picks are those of the reference code. Where every
remaining squared distance is 0 (all gradients zero, or duplicates of chosen centres), the
next centre is drawn uniformly among the samples not chosen yet (scikit-activeml's rule;
the reference code stops in the debugger there).

Pools over `sample` unlabelled rows seed on a uniform sample of that many: k passes over 1M x 512
cost minutes; the README's Scale table states the approximation and its measured quality.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from core.params import Interval
from core.strategies.base import STRATEGIES, Strategy, check_k
from core.types import PoolView, Selection

_CHUNK_ROWS = 8192  # rows of A and H per block: bounds the float64 temporaries at 8192 x 8 bytes


def gradient_factors(proba: np.ndarray) -> np.ndarray:
    """a = p - onehot(argmax p): the class factor of the last-layer gradient at the predicted label."""
    a = np.array(proba, dtype=np.float32 if proba.dtype == np.float32 else np.float64)
    a[np.arange(len(a)), np.argmax(proba, axis=1)] -= 1.0
    return a


def _row_sq_norms(X: np.ndarray) -> np.ndarray:
    out = np.empty(len(X), dtype=np.float64)
    for start in range(0, len(X), _CHUNK_ROWS):
        block = X[start:start + _CHUNK_ROWS]
        out[start:start + _CHUNK_ROWS] = np.einsum("ij,ij->i", block, block, dtype=np.float64)
    return out


def gradient_sq_distances(a: np.ndarray, h: np.ndarray, sq_norms: np.ndarray, j: int) -> np.ndarray:
    """||g_i - g_j||^2 for every row i, from the factors: two matrix-vector products, O(n) memory.

    `sq_norms` is ||g_i||^2 = ||a_i||^2 ||h_i||^2. Rounding can take a distance a little below
    zero (near-duplicates); it is clipped, and row j's own distance is exactly 0.
    """
    out = np.empty(len(a), dtype=np.float64)
    aj, hj = a[j], h[j]
    for start in range(0, len(a), _CHUNK_ROWS):
        stop = start + _CHUNK_ROWS
        cross = (a[start:stop] @ aj).astype(np.float64)
        cross *= h[start:stop] @ hj
        out[start:stop] = sq_norms[start:stop] - 2.0 * cross
    out += sq_norms[j]
    np.maximum(out, 0.0, out=out)
    out[j] = 0.0
    return out


def _inverse_cdf(weights: np.ndarray, u: float) -> int:
    """The index `RandomState.choice(n, p=weights/sum)` returns for the uniform draw u."""
    cdf = np.cumsum(weights / weights.sum())
    cdf /= cdf[-1]
    return int(np.searchsorted(cdf, u, side="right"))


def badge_kmeanspp(proba: np.ndarray, features: np.ndarray, k: int,
                   uniform: Callable[[], float]) -> np.ndarray:
    """Positions of k samples chosen by k-means++ seeding on the gradient embeddings, in pick order.

    `uniform()` returns one draw in [0, 1) per drawn centre (k - 1 of them, k when every
    gradient is zero). O(k n (C + d)) time, O(n (C + 1)) extra memory: the embeddings
    (n x C*d) are never built.
    """
    n = len(proba)
    check_k(k, n)
    if len(features) != n:
        raise ValueError(f"proba has {n} rows but features has {len(features)}")
    from threadpoolctl import threadpool_limits

    # The products are memory-bound matrix-vector ones: one BLAS thread reads about as fast as
    # two, and on a busy machine threads waiting for a core made them 13x slower (0.6 -> 8 ms).
    with threadpool_limits(limits=1):
        return _kmeanspp(proba, features, k, uniform)


def _kmeanspp(proba: np.ndarray, features: np.ndarray, k: int, uniform: Callable[[], float]) -> np.ndarray:
    n = len(proba)
    a = gradient_factors(proba)
    h = features if features.dtype in (np.float32, np.float64) else np.asarray(features, dtype=np.float32)
    sq_norms = _row_sq_norms(a) * _row_sq_norms(h)
    chosen = np.empty(k, dtype=np.int64)
    taken = np.zeros(n, dtype=bool)
    d2 = None
    for i in range(k):
        if i == 0 and sq_norms.max() > 0:
            j = int(np.argmax(sq_norms))  # the reference code's first centre: the largest gradient
        elif i > 0 and d2.sum() > 0:
            j = _inverse_cdf(d2, uniform())
        else:  # nothing left at a positive distance: uniform among the samples not chosen yet
            j = _inverse_cdf((~taken).astype(np.float64), uniform())
        chosen[i], taken[j] = j, True
        if i + 1 < k:
            new = gradient_sq_distances(a, h, sq_norms, j)
            d2 = new if d2 is None else np.minimum(d2, new, out=d2)
            d2[j] = 0.0
    return chosen


BADGE_SAMPLE = 20_000  # unlabelled rows the seeding runs on in a larger pool (benchmarks/RESULTS.md: quality)


@STRATEGIES.register("badge")
class Badge(Strategy):
    """BADGE: k-means++ seeding on last-layer gradient embeddings (uncertain and diverse), never built in memory."""

    parameters = {
        "sample": Interval(int, 1000, None, default=BADGE_SAMPLE, at_most=10_000_000, label="Pool sample",
                           help="larger pools: the seeding runs on a uniform sample of max(this, 10 x batch) "
                                "unlabelled rows"),
    }
    needs = frozenset({"proba", "pool_features"})

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        check_k(k, view.n_unlabeled)
        proba = view.proba
        size = max(self.sample, 10 * k)
        # The seeding reads the features once per centre (k passes: 1,000 x 2 GB at 1M x 512). On a
        # uniform sample each D^2 draw is the exact draw restricted to the sample, so the batch keeps
        # BADGE's mix of large gradients and spread, at size / n of the cost.
        rows = np.sort(rng.choice(view.n_unlabeled, size, replace=False)) if view.n_unlabeled > size else None
        if rows is None:
            chosen = badge_kmeanspp(proba, view.embeddings, k, rng.random)
        else:
            chosen = rows[badge_kmeanspp(proba[rows], np.asarray(view.embeddings[rows]), k, rng.random)]
        a = gradient_factors(proba)
        scores = np.sqrt(_row_sq_norms(a) * _row_sq_norms(view.embeddings)).astype(np.float32)
        measure = "gradient norm" if rows is None else f"gradient norm (seeded on a sample of {size:,})"
        return Selection(view.unlabeled[chosen], scores, measure)
