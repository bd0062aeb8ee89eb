"""The speed question: query time on large pools, and a whole 10-round digits loop.

One process; the contenders alternate (the order rotates every run) so drift in the machine
hits them alike; every number is the median of several runs after one untimed warm-up.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any, Callable

import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from benchmarks.peers.adapters import PEER_LOOP, PEER_SELECT, patch_modal_for_new_sklearn
from benchmarks.peers.reference import hybrid_loop_select, largest_margin_select, same_up_to_ties
from core.engine.config import RunConfig
from core.datasets import load_dataset
from core.learners import make_learner
from core.engine.runner import run_comparison
from core.strategies import make_strategy
from core.strategies.measures import (reference_entropy, reference_least_confidence,
                                         reference_smallest_margin)
from core.types import PoolView, flat_features

PEER_MEASURES = ("entropy", "least_confidence", "smallest_margin")
REFERENCE_SCORES = {"entropy": reference_entropy, "least_confidence": reference_least_confidence,
                    "smallest_margin": reference_smallest_margin}


def skactiveml_runs(n: int, k: int, runs: int) -> int:
    """Its batch selection loops k times over the pool holding a k x n float64 array (1M x 1000:
    8 GB, seconds a call): few runs there keep the whole report within ~15 minutes."""
    return 2 if n * k > 10**8 else 3 if n * k >= 10**7 else runs


def alternate(contenders: dict[str, Callable[[], Any]], repeats: dict[str, int]) -> dict[str, list[float]]:
    """Seconds per run for each contender, interleaved; contender c runs repeats[c] times."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(max(repeats.values())):
        for name in names[r % len(names):] + names[: r % len(names)]:
            if len(times[name]) >= repeats[name]:
                continue
            gc.collect()
            t0 = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def synthetic_pool(n: int, seed: int = 0) -> np.ndarray:
    """n digit-like uint8 images: digits drawn with replacement plus pixel noise, so no two rows
    (and no two scores) are exact copies."""
    digits = load_dataset("digits")
    rng = np.random.default_rng(seed)
    images = digits.images[rng.integers(len(digits.images), size=n)].astype(np.int16)
    images += rng.integers(-2, 3, size=images.shape, dtype=np.int16)
    return np.clip(images, 0, 16).astype(np.uint8)


def fitted_logistic():
    digits = load_dataset("digits")
    return make_learner("logistic", digits.info, seed=0).fit(digits.images, digits.labels)


def _ours(strategy: str, proba: np.ndarray, k: int, embeddings: np.ndarray | None = None, **params) -> np.ndarray:
    view = PoolView(np.zeros(len(proba), dtype=bool), proba=proba, embeddings=embeddings)
    return make_strategy(strategy, **params).select(view, k, rng=np.random.default_rng(0)).indices


def query_speed(sizes: list[int], ks: list[int], runs: int) -> tuple[list[dict], list[dict]]:
    """(peer rows, no-peer rows): selection seconds per library, measure, pool size and k."""
    model = fitted_logistic()
    peer_rows, own_rows = [], []
    for n in sizes:
        images = synthetic_pool(n)
        t_proba = alternate({"proba": lambda: model.predict_proba(images)}, {"proba": runs})["proba"]
        proba = model.predict_proba(images)
        X = flat_features(images, 1.0)
        for k in ks:
            for measure in PEER_MEASURES:
                ref = REFERENCE_SCORES[measure](proba)
                picks = {"ours": _ours(measure, proba, k)}
                contenders = {"ours": lambda: _ours(measure, proba, k)}
                for lib, select in PEER_SELECT.items():
                    picks[lib] = select(measure, proba, X, k)  # doubles as the warm-up
                    contenders[lib] = (lambda s=select: s(measure, proba, X, k))
                times = alternate(contenders, {"ours": runs, "modAL": runs, "skactiveml": skactiveml_runs(n, k, runs)})
                for lib in contenders:
                    same, swapped = same_up_to_ties(picks["ours"], picks[lib], ref)
                    peer_rows.append({"n": n, "k": k, "measure": measure, "library": lib,
                                      "select_s": statistics.median(times[lib]), "runs": len(times[lib]),
                                      "predict_proba_s": statistics.median(t_proba),
                                      "same_as_ours": same, "tie_swaps": swapped})
            # largest margin: no peer, a plain reference from the definition
            ours_lm = _ours("largest_margin", proba, k)
            ref_lm = largest_margin_select(proba, k)
            times = alternate({"ours": lambda: _ours("largest_margin", proba, k),
                               "reference": lambda: largest_margin_select(proba, k)}, {"ours": runs, "reference": runs})
            same, swapped = same_up_to_ties(ours_lm, ref_lm, 1.0 - (proba.max(1) - proba.min(1)).astype(np.float64))
            own_rows.append({"strategy": "largest_margin", "n": n, "k": k, "reference": "numpy definition + full sort",
                             "ours_s": statistics.median(times["ours"]), "reference_s": statistics.median(times["reference"]),
                             "same": same, "tie_swaps": swapped})
        del images, proba, X
        gc.collect()
    return peer_rows, own_rows


def hybrid_speed(n: int, ks: list[int], runs: int, alpha: float = 0.5, n_clusters: int = 5,
                 measure: str = "entropy") -> list[dict]:
    """Ours against the per-sample Python loop, same K-means seed; pool of n synthetic digits.

    Both run under one BLAS/OpenMP thread, as our runner runs the logistic learner: K-means on
    a few hundred points is many times slower with OpenMP threads on a busy 2-core machine
    (`ours_default_threads_s` shows ours without the limit).
    """
    model = fitted_logistic()
    images = synthetic_pool(n)
    proba = model.predict_proba(images)
    features = model.embed(images)
    params = dict(alpha=alpha, clusters=n_clusters, measure=measure)
    scores = REFERENCE_SCORES[measure](proba)
    # the K-means seed our strategy draws: top_k draws nothing when no scores tie at the cut
    kmeans_seed = int(np.random.default_rng(0).integers(2**31 - 1))
    rows = []
    for k in ks:
        n_u = int(round(alpha * k))
        with threadpool_limits(limits=1):
            ours = _ours("hybrid", proba, k, features, **params)
            ref_u, ref_fill = hybrid_loop_select(proba, features, k, kmeans_seed=kmeans_seed, **params)
            times = alternate({"ours": lambda: _ours("hybrid", proba, k, features, **params),
                               "loop": lambda: hybrid_loop_select(proba, features, k, kmeans_seed=kmeans_seed, **params)},
                              {"ours": runs, "loop": max(3, runs // 2)})
            cents = KMeans(n_clusters=n_clusters, n_init=1, random_state=kmeans_seed).fit(features[ref_u]).cluster_centers_
        default = alternate({"ours": lambda: _ours("hybrid", proba, k, features, **params)}, {"ours": runs})["ours"]
        same_u, _ = same_up_to_ties(ours[:n_u], ref_u, scores)
        same_order = bool(np.array_equal(ours[:n_u], ref_u))  # K-means sees S_u in this order
        # the fill, judged by float64 distances to the centroids the reference fitted; ours works in
        # float32, so distances equal to ~1e-7 relative are ties
        dist = ((features.astype(np.float64)[:, None, :] - cents[None]) ** 2).sum(-1).min(1)
        dist[ref_u] = np.inf
        same_fill, swaps = same_up_to_ties(ours[n_u:], ref_fill, -dist, rtol=1e-6)
        rows.append({"strategy": f"hybrid (alpha={alpha}, {n_clusters} clusters, {measure})", "n": n, "k": k,
                     "reference": "Python loop over the pool", "ours_s": statistics.median(times["ours"]),
                     "reference_s": statistics.median(times["loop"]), "same": same_u and same_order and same_fill,
                     "tie_swaps": swaps, "ours_default_threads_s": statistics.median(default)})
    return rows


def loop_speed(strategies: tuple[str, ...], runs: int, rounds: int = 10) -> list[dict]:
    """A whole `rounds`-round digits loop, logistic learner: our runner (no cache) vs each peer's loop."""
    patch_modal_for_new_sklearn()
    digits = load_dataset("digits")
    rows = []
    for strategy in strategies:
        contenders = {"ours": lambda s=strategy: run_comparison(
            RunConfig(strategies=(s,), learner="logistic", rounds=rounds), cache=None, dataset=digits)}
        for lib, loop in PEER_LOOP.items():
            contenders[lib] = lambda s=strategy, f=loop: f(digits, s, "logistic", 0, rounds=rounds)
        for fn in contenders.values():
            fn()  # warm-up
        times = alternate(contenders, {name: runs for name in contenders})
        for lib, t in times.items():
            rows.append({"strategy": strategy, "library": lib, "rounds": rounds, "loop_s": statistics.median(t),
                         "runs": len(t)})
    return rows
