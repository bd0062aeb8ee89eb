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
- batchbald (top `candidates` by BALD, sampled configurations kept and extended, gain `tolerance`), on its own
  pool of BENCH_APPROX_BATCHBALD_SIZE rows (default 20,000), against the greedy over the whole pool with
  configurations drawn afresh each step and the best estimate taken (batchbald_redux's form): the batch's
  joint mutual information I(y_1..y_j; w) of its first j = 5, 10, 20 picks (estimated from 20,000
  configurations drawn for it; with 10 MC samples it cannot exceed log 10 = 2.303 and nears it within ~20
  picks, so longer prefixes do not separate), and the share of the exact picks it also picks, next to that
  of the exact greedy run with another seed (the estimator's own noise).

    BENCH_APPROX_SIZE=100000   pool size (default; --quick: 5000 with k = 50)
    BENCH_APPROX_STRATEGIES=badge   only these (default typiclust,badge,dropquery,batchbald)
    BENCH_APPROX_DROPQUERY_SIZE=1000000
    BENCH_APPROX_BATCHBALD_SIZE=20000
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


def joint_mi_prefixes(samples: np.ndarray, picks: np.ndarray, prefixes=(5, 10, 20), n_configs: int = 20_000,
                      seed: int = 5) -> list[float]:
    """I(y_1..y_j; w) for each prefix j of the picks: H(y_1..y_j) estimated as -mean log q over n_configs
    configurations (drawn once, extended pick by pick) minus the exact sum of the conditional entropies."""
    from core.strategies.bald import _extend_configurations, _importance_table

    S = samples.shape[0]
    rng = np.random.default_rng(seed)
    log_joint = np.zeros(((n_configs // S) * S, S))
    chosen = samples[:, picks[:max(prefixes)]].astype(np.float64)
    conditional = -np.sum(chosen * np.log(np.maximum(chosen, 1e-300)), axis=2).mean(axis=0)
    out = []
    for j, i in enumerate(picks[:max(prefixes)], start=1):
        _extend_configurations(log_joint, samples[:, i], rng)
        if j in prefixes:
            out.append(float(-_importance_table(log_joint)[1].mean() - conditional[:j].sum()))
    return out


def batchbald_rows(n: int, k: int) -> list[dict]:
    from core.strategies.bald import bald, batchbald

    data = pool(n)
    view = view_of(data)
    samples = view.proba_samples
    M = 1000  # batchbald's default joint_samples

    def exact(seed):
        return lambda: batchbald(samples, k, M, np.random.default_rng(seed), candidates=0, tolerance=0.0,
                                 redraw=True)[0]

    variants = [("exact greedy (whole pool, configurations redrawn, best estimate)", exact(1)),
                ("exact greedy, another seed (noise floor)", exact(2)),
                ("defaults (top 5,000 by BALD, configurations kept, tolerance 1e-3)",
                 lambda: make_strategy("batchbald").select(view, k, rng=np.random.default_rng(1)).indices),
                ("top-k BALD (floor)", lambda: np.argsort(-bald(samples), kind="stable")[:k]),
                ("random (floor)", lambda: np.random.default_rng(1).choice(samples.shape[1], k, replace=False))]
    rows, reference = [], None
    for variant, select in variants:
        t0 = time.perf_counter()
        picks = np.asarray(select())
        seconds = time.perf_counter() - t0
        reference = picks if reference is None else reference
        mi = joint_mi_prefixes(samples, picks)
        rows.append({"strategy": "batchbald", "variant": variant, "pool": n, "k": k, "seconds": round(seconds, 2),
                     "joint_MI_5_10_20": [round(v, 3) for v in mi],
                     "share_of_exact_picks": round(len(set(picks.tolist()) & set(reference.tolist())) / k, 3),
                     "threads": describe()})
        print(rows[-1], flush=True)
    return rows


def run(quick: bool = False) -> list[dict]:
    n = 5000 if quick else int(os.environ.get("BENCH_APPROX_SIZE", "100000"))
    k = 50 if quick else 1000
    data = pool(n)
    view = view_of(data)
    X = data["X"][:n - 100]  # the unlabelled rows: view.embeddings
    only = os.environ.get("BENCH_APPROX_STRATEGIES", "typiclust,badge,dropquery,batchbald").split(",")
    rows = []
    if "batchbald" in only:
        rows += batchbald_rows(3000 if quick else int(os.environ.get("BENCH_APPROX_BATCHBALD_SIZE", "20000")), k)
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
