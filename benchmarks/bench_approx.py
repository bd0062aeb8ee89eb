"""The approximations the scale goals rely on, against the exact strategy on a pool where exact runs.

Same pool as `bench_scale` (10 Gaussian classes in 512-d float32, 100 labelled), k = 1000, one thread
unless --threads says otherwise. For each approximated strategy: seconds of the exact and the approximate
selection, and the quality the strategy aims for, measured on the whole pool:
- typiclust (TypiClust on a uniform sample of `sample` unlabelled rows): coverage = mean distance of the
  pool to its nearest pick (lower is better), typicality = mean distance of the picks to their 20 nearest
  pool rows (lower = more typical); random picks as the floor.
- badge (k-means++ seeding on a uniform sample of `sample` unlabelled rows): the k-means potential in
  gradient space (sum over the pool of the squared distance to the nearest pick; lower = better spread)
  relative to exact, and the picks' mean gradient norm (higher = more uncertain) relative to exact.
- dropquery (nearest candidate to each K-means centre searched among the fit rows plus `search_size`
  candidates), on its own pool of BENCH_APPROX_DROPQUERY_SIZE rows (default 1,000,000: exact still runs):
  the candidates' mean distance to their nearest pick (on a uniform 20,000 of them) relative to exact.

    BENCH_APPROX_SIZE=100000   pool size (default; --quick: 5000 with k = 50)
    BENCH_APPROX_STRATEGIES=badge   only these (default typiclust,badge,dropquery)
    BENCH_APPROX_DROPQUERY_SIZE=1000000
"""

from __future__ import annotations

import os
import time

import numpy as np

from benchmarks.bench_scale import pool, view_of
from core.engine.threads import describe
from core.strategies import make_strategy
from core.strategies.distances import min_sq_distance, sq_norms

TITLE = "approximations against the exact strategy: seconds and quality on the whole pool"
K_NEIGHBOURS = 20


def typicality_distance(X: np.ndarray, picks: np.ndarray) -> float:
    """Mean distance of each pick to its K_NEIGHBOURS nearest other pool rows (blocks of picks)."""
    x_sq = sq_norms(X)
    out = []
    for start in range(0, len(picks), 100):
        rows = picks[start:start + 100]
        d2 = x_sq[rows, None] + x_sq[None, :] - 2.0 * (X[rows] @ X.T)
        d2[np.arange(len(rows)), rows] = np.inf
        near = np.partition(d2, K_NEIGHBOURS - 1, axis=1)[:, :K_NEIGHBOURS]
        out.append(np.sqrt(np.maximum(near, 0.0)).mean(axis=1))
    return float(np.concatenate(out).mean())


def coverage_distance(X: np.ndarray, picks: np.ndarray) -> float:
    return float(np.sqrt(min_sq_distance(X, X[picks])).mean())


def badge_quality(data: dict, n_unlabeled: int, picks: np.ndarray) -> tuple[float, float]:
    """k-means potential over the pool in gradient space and the picks' mean gradient norm (factorised distances)."""
    from core.strategies.badge import _row_sq_norms, gradient_factors, gradient_sq_distances

    a = gradient_factors(data["proba"][:n_unlabeled])
    h = data["X"][:n_unlabeled]
    g_sq = _row_sq_norms(a) * _row_sq_norms(h)
    d2 = np.full(n_unlabeled, np.inf)
    for j in picks:
        np.minimum(d2, gradient_sq_distances(a, h, g_sq, int(j)), out=d2)
    return float(d2.sum()), float(np.sqrt(g_sq[picks]).mean())


def badge_rows(data: dict, view, n: int, k: int) -> list[dict]:
    rows, exact = [], None
    for variant, params in [("exact", {"sample": 10_000_000}), ("sample 20,000 (default)", {})]:
        t0 = time.perf_counter()
        picks = make_strategy("badge", **params).select(view, k, rng=np.random.default_rng(1)).indices
        seconds = time.perf_counter() - t0
        quality = badge_quality(data, n - 100, picks)
        exact = exact or quality
        rows.append({"strategy": "badge", "variant": variant, "pool": n, "k": k, "seconds": round(seconds, 2),
                     "potential_vs_exact": round(quality[0] / exact[0], 3),
                     "grad_norm_vs_exact": round(quality[1] / exact[1], 3), "threads": describe()})
        print(rows[-1], flush=True)
    quality = badge_quality(data, n - 100, np.random.default_rng(1).choice(n - 100, k, replace=False))
    rows.append({"strategy": "random", "variant": "floor (badge's measures)", "pool": n, "k": k, "seconds": 0.0,
                 "potential_vs_exact": round(quality[0] / exact[0], 3),
                 "grad_norm_vs_exact": round(quality[1] / exact[1], 3), "threads": describe()})
    return rows


def dropquery_rows(n: int, k: int) -> list[dict]:
    from core.strategies.dropquery import dropout_candidates, dropout_disagreement

    data = pool(n)
    view = view_of(data)
    X = data["X"][:n - 100]
    candidates = dropout_candidates(dropout_disagreement(view.proba_samples), view.proba_samples.shape[0])
    targets = X[np.sort(np.random.default_rng(2).choice(candidates, min(20_000, candidates.size), replace=False))]
    rows, exact = [], None
    variants = [("exact", {"search_size": 10_000_000}), ("search 100,000 (default)", {})]
    for variant, params in variants + [("random candidates (floor)", None)]:
        t0 = time.perf_counter()
        if params is None:
            picks = np.random.default_rng(1).choice(candidates, k, replace=False)
        else:
            picks = make_strategy("dropquery", **params).select(view, k, rng=np.random.default_rng(1)).indices
        seconds = time.perf_counter() - t0
        spread = float(np.sqrt(min_sq_distance(targets, X[picks])).mean())
        exact = exact or spread
        rows.append({"strategy": "dropquery", "variant": variant, "pool": n, "k": k, "seconds": round(seconds, 2),
                     "candidates": int(candidates.size), "spread_vs_exact": round(spread / exact, 3),
                     "threads": describe()})
        print(rows[-1], flush=True)
    return rows


def run(quick: bool = False) -> list[dict]:
    n = 5000 if quick else int(os.environ.get("BENCH_APPROX_SIZE", "100000"))
    k = 50 if quick else 1000
    data = pool(n)
    view = view_of(data)
    X = data["X"][:n - 100]  # the unlabelled rows: view.embeddings
    only = os.environ.get("BENCH_APPROX_STRATEGIES", "typiclust,badge,dropquery").split(",")
    rows = []
    if "dropquery" in only:
        rows += dropquery_rows(5000 if quick else int(os.environ.get("BENCH_APPROX_DROPQUERY_SIZE", "1000000")), k)
    if "typiclust" not in only:
        return rows + (badge_rows(data, view, n, k) if "badge" in only else [])
    variants = [("typiclust", "exact", {"sample": 10_000_000}),
                ("typiclust", "sample 20,000 (default)", {}),
                ("typiclust", "sample 10,000", {"sample": 10_000})]
    for name, variant, params in variants:
        t0 = time.perf_counter()
        sel = make_strategy(name, **params).select(view, k, rng=np.random.default_rng(1))
        seconds = time.perf_counter() - t0
        picks = sel.indices  # the unlabelled rows come first in bench_scale's pool
        rows.append({"strategy": name, "variant": variant, "pool": n, "k": k, "seconds": round(seconds, 2),
                     "coverage": round(coverage_distance(X, picks), 3),
                     "typicality_distance": round(typicality_distance(X, picks), 3), "threads": describe()})
        print(rows[-1], flush=True)
    picks = np.random.default_rng(1).choice(len(X), k, replace=False)
    rows.append({"strategy": "random", "variant": "floor", "pool": n, "k": k, "seconds": 0.0,
                 "coverage": round(coverage_distance(X, picks), 3),
                 "typicality_distance": round(typicality_distance(X, picks), 3), "threads": describe()})
    print(rows[-1], flush=True)
    return rows + (badge_rows(data, view, n, k) if "badge" in only else [])
