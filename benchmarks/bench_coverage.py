"""Selection time and peak extra memory of coreset, typiclust and probcover, with scikit-activeml's
CoreSet, TypiClust and ProbCover on the same inputs in the same process.

Features: 512-d float32, a mixture of 10 Gaussian classes (centres N(0, 1), spread 0.5: separable,
as self-supervised embeddings of 10 classes are), plus pure N(0, 1) noise for coreset (where no
structure helps its lazy updates). 100 labelled samples. scikit-activeml's versions are quadratic or
one full pass per pick, so they run at a size that fits and the table says how they scale.

Both sides run with one BLAS/OpenMP thread: the bench machine is shared (2 cores, load 3-6), and there
scikit-learn's OpenMP K-means at 2 threads ran 6x slower than at one (10k x 512, 200 clusters: 22 s vs 3.7 s).
"""

from __future__ import annotations

import gc
import resource
import time

import numpy as np

from benchmarks import measure

from core.strategies import make_strategy
from core.types import PoolView

TITLE = "coverage strategies: selection time (s) and peak extra memory (MB), ours vs scikit-activeml"
N_LABELED = 100
D = 512


def mixture(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((10, D), dtype=np.float32)
    label = rng.integers(0, 10, n)
    X = rng.standard_normal((n, D), dtype=np.float32)
    X *= np.float32(0.5)
    X += centres[label]
    return X, label


def noise(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return np.random.default_rng(seed).standard_normal((n, D), dtype=np.float32), np.zeros(n, dtype=int)


def view_of(X: np.ndarray, label: np.ndarray) -> PoolView:
    mask = np.zeros(len(X), dtype=bool)
    mask[:N_LABELED] = True  # the rows are in random order already
    return PoolView(mask, embeddings=X[N_LABELED:], labeled_embeddings=X[:N_LABELED], labels=label[:N_LABELED],
                    strategy="bench")


def timed(fn) -> tuple[float, object]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def peak_mb(fn) -> float:
    return round(measure.peak_mb(fn), 1)


def ours(name: str, X: np.ndarray, label: np.ndarray, k: int, memory: bool = True, repeats: int = 1, **params) -> dict:
    view = view_of(X, label)
    strategy = make_strategy(name, **params)
    select = lambda: strategy.select(view, k, rng=np.random.default_rng(1))  # noqa: E731
    runs = [timed(select) for _ in range(repeats)]  # the median: the machine is shared
    seconds, sel = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    return {"seconds": round(seconds, 2), "peak_MB": peak_mb(select) if memory else "", "picks": sel.indices,
            "measure": sel.measure}


def skactiveml(name: str, X: np.ndarray, k: int) -> tuple[float, np.ndarray] | None:
    try:
        from skactiveml.pool import CoreSet, ProbCover, TypiClust
    except ImportError:
        return None
    y = np.full(len(X), np.nan)
    y[:N_LABELED] = 0
    peer = {"coreset": lambda: CoreSet(random_state=0),
            "typiclust": lambda: TypiClust(random_state=0, k=20),
            "probcover": lambda: ProbCover(random_state=0, n_classes=10)}[name]()
    seconds, picks = timed(lambda: peer.query(X, y, batch_size=k))
    return seconds, np.asarray(picks)


def row(what, n, k, data, our, peer=None, peer_n="", peer_k="", note=""):
    peer_s = "" if peer is None else round(peer[0], 2)
    return {"what": what, "data": data, "pool": n, "k": k, "ours_s": our["seconds"] if our else "",
            "peak_MB": our["peak_MB"] if our else "", "skactiveml_s": peer_s, "their_pool": peer_n,
            "their_k": peer_k, "note": note}


def run(quick: bool = False) -> list[dict]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _run(quick)


def _run(quick: bool) -> list[dict]:
    rows = []
    n_core, k_core = (20_000, 200) if quick else (100_000, 1000)
    for data, make in (("noise", noise), ("mixture", mixture)):
        X, label = make(n_core)
        our = ours("coreset", X, label, k_core, repeats=3)
        k_peer = 20 if quick else 50  # one full pass per pick (plus a k x n float64 utilities matrix): linear in k
        peer = skactiveml("coreset", X, k_peer)
        if peer is not None:
            seconds, picks = peer
            same = f"same first {k_peer} picks" if (our["picks"][:k_peer] == picks).all() else "picks differ"
            peer = (seconds * k_core / k_peer, picks)  # scaled to k_core picks
            note = f"theirs x{k_core // k_peer} from k={k_peer}: {seconds:.1f} s; {same}; {peer[0] / our['seconds']:.0f}x"
        else:
            note = "scikit-activeml not installed"
        rows.append(row("coreset", n_core, k_core, data, our, peer, n_core, k_core, "median of 3; " + note))
        del X

    n_mid, k_mid = (10_000, 100) if quick else (50_000, 100)
    X, label = mixture(n_mid)
    for name in ("typiclust", "probcover"):
        our = ours(name, X, label, k_mid, memory=not quick)
        n_peer = 2_000 if quick else (10_000 if name == "typiclust" else 5_000)
        peer = skactiveml(name, X[:n_peer], k_mid)
        small = ours(name, X[:n_peer], label[:n_peer], k_mid, memory=False)
        scale = ("K-means on n x (|L|+k) clusters" if name == "typiclust"
                 else "dense n x n distances: quadratic time, 8n^2 bytes")
        note = (f"{our['measure']}; at their size ours {small['seconds']} s; theirs: {scale}" if peer else
                "scikit-activeml not installed")
        rows.append(row(name, n_mid, k_mid, "mixture", our, peer, n_peer, k_mid, note))
    del X

    if not quick:
        X, label = mixture(1_000_000)
        coreset_1m = ours("coreset", X, label, 1000, memory=False, repeats=3)
        rows.append(row("coreset", 1_000_000, 1000, "mixture", coreset_1m,
                        note="median of 3; peak not traced at 1M"))
        rows.append(row("typiclust", 1_000_000, 100, "mixture", ours("typiclust", X, label, 100, memory=False),
                        note="500 clusters (the cap); typicality brute force inside each ~2k cluster"))
        rows.append(row("probcover", 1_000_000, 100, "mixture", None,
                        note="not run: the ball graph is n^2 d flops (50k: see above; 1M is 400x that)"))
        del X
    rows.append({"what": "process max RSS (MB)", "data": "", "pool": "", "k": "", "ours_s": "",
                 "peak_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0), "skactiveml_s": "",
                 "their_pool": "", "their_k": "", "note": ""})
    return rows
