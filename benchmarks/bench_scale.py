"""Every registered strategy at 100k and 1M pool samples x 512 features (10 classes), k = 1000:
seconds, peak extra memory, threads, and the ratio to one read of the features.

The pool is a mixture of 10 Gaussian classes in 512-d float32 (centres N(0, 1), spread 0.5: separable,
as self-supervised embeddings of 10 classes are), probabilities that favour each sample's class, and
10 MC-dropout-like samples of them for the Bayesian strategies; 100 labelled samples (10 per class).
"One read" is `X.sum(axis=0)` over the pool's features, measured just before each strategy in the same
process (the machine is shared: its speed changes minute to minute, so only the ratio is comparable).
Peak extra memory is what the selection allocates through Python's allocators (tracemalloc, numpy
included), beyond the inputs; seconds are measured on the same call (tracemalloc's overhead on these
array-heavy selections is a few percent).

Environment knobs (a 1M run of all 16 strategies takes many minutes on a shared 2-core machine):
    BENCH_SCALE_SIZES=100000,1000000   pool sizes (default; --quick: 3000)
    BENCH_SCALE_STRATEGIES=hybrid,probcover   only these strategies (default: every registered one)
    BENCH_SCALE_STREAM=10000000        also the streaming strategies on a float16 memory map of this many rows
                                       (written once to BENCH_SCALE_DIR, default /tmp; 10M x 512 is 10 GB)
    BENCH_THREADS=1                    threads for BLAS, OpenMP, numba and torch (core.engine.threads; default 1,
                                       measured fastest on the shared 2-core machine)
"""

from __future__ import annotations

import gc
import os
import time

import numpy as np

from benchmarks import measure
from core.strategies import STRATEGIES, make_strategy
from core.engine.threads import describe, limited_threads
from core.types import PoolView

TITLE = "every strategy at scale: seconds, peak extra memory (MB), threads, ratio to one read of the features"
D = 512
N_CLASSES = 10
N_LABELED = 100
N_SAMPLES = 10  # MC samples for bald, batchbald, powerbald, dropquery
K = 1000
DEFAULT_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (3_000,)
QUICK_K = 50
PARAMS = {"hybrid": {"clusters": 10}}  # the measured setting (10 centroids)
STREAMING = ("entropy", "hybrid", "margin_density", "random")  # read the features block by block
QUICK_STREAM = 20_000
# The others' bounds on a pool that does not fit in memory: what they hold besides the features.
BOUNDS = {
    "badge": "a uniform sample of 20,000 unlabelled rows (max(sample, 10 k)) gathered from the pool, plus n x C",
    "coreset": "float32 features in memory (one pass per pick)",
    "typiclust": "a uniform sample of 20,000 unlabelled rows (max(sample, 10 k)) gathered from the pool: streams",
    "probcover": "a uniform sample of 10,000 rows (max(10,000, 10 k)) gathered from the pool: streams",
    "cluster_margin": "features of the top margin_factor x k by margin only, after scoring proba",
    "dropquery": "proba samples (S x n x C) and the features of its candidates",
    "bald": "proba samples only (S x n x C), no features",
    "batchbald": "proba samples of its candidates only",
    "powerbald": "proba samples only (S x n x C), no features",
}


def bench_threads() -> int:
    return int(os.environ.get("BENCH_THREADS", "1"))


def pool(n: int, seed: int = 0) -> dict:
    """Features (n, 512) float32, labels, proba (n, 10) and proba samples (10, n, 10); the last
    N_LABELED rows (10 per class) are labelled, so the unlabelled features are a view, not a copy."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((N_CLASSES, D), dtype=np.float32)
    label = rng.integers(0, N_CLASSES, n)
    label[-N_LABELED:] = np.arange(N_LABELED) % N_CLASSES
    X = rng.standard_normal((n, D), dtype=np.float32)
    X *= np.float32(0.5)
    for c in range(N_CLASSES):  # in place: no second n x 512 array
        X[label == c] += centres[c]
    logits = rng.standard_normal((n, N_CLASSES), dtype=np.float32)
    logits[np.arange(n), label] += np.float32(2.0)
    samples = logits[None] + rng.standard_normal((N_SAMPLES, n, N_CLASSES), dtype=np.float32)
    return {"X": X, "label": label, "proba": _softmax(logits), "samples": _softmax(samples)}


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def view_of(data: dict) -> PoolView:
    n = len(data["X"])
    mask = np.zeros(n, dtype=bool)
    mask[-N_LABELED:] = True
    u = slice(0, n - N_LABELED)
    return PoolView(mask, proba=data["proba"][u], embeddings=data["X"][u], labeled_embeddings=data["X"][u.stop:],
                    proba_samples=data["samples"][:, u], labels=data["label"][u.stop:], strategy="bench")


def one_read(X: np.ndarray) -> float:
    """Seconds to read the features once: a column sum (float32 in memory; a float16 memory map is summed
    block by block into float32, as the streaming strategies read it)."""
    t0 = time.perf_counter()
    if X.dtype == np.float32:
        X.sum(axis=0)
    else:
        for start in range(0, len(X), 65_536):
            np.add.reduce(X[start:start + 65_536], axis=0, dtype=np.float32)
    return time.perf_counter() - t0


def measure_strategy(name: str, view: PoolView, X: np.ndarray, k: int) -> dict:
    """One selection: seconds, peak extra MB, and the read it is compared with (measured just before)."""
    strategy = make_strategy(name, **PARAMS.get(name, {}))
    read = min(one_read(X) for _ in range(2))
    gc.collect()
    seconds = []
    error = ""

    def select():
        t0 = time.perf_counter()
        strategy.select(view, k, rng=np.random.default_rng(1))
        seconds.append(time.perf_counter() - t0)

    try:
        peak = measure.peak_mb(select)
    except (ValueError, MemoryError) as exc:  # a strategy that refuses a size says so in its row
        peak, error = float("nan"), f"{type(exc).__name__}: {str(exc)[:80]}"
    s = seconds[0] if seconds else float("nan")
    return {"strategy": name, "pool": len(X), "k": k, "seconds": round(s, 3), "peak_extra_MB": round(peak, 1),
            "features_MB": round(X.nbytes / 2**20), "threads": describe(), "read_s": round(read, 4),
            "x_read": round(s / read, 1) if seconds else "", "error": error}


def float16_store(n: int, directory: str, seed: int = 0) -> np.ndarray:
    """A read-only float16 memory map of n x 512 mixture features, written block by block (as the
    feature store holds them); reused when the file is already there."""
    path = os.path.join(directory, f"albench_scale_{n}x{D}_f16.npy")
    if not os.path.exists(path):
        rng = np.random.default_rng(seed)
        centres = rng.standard_normal((N_CLASSES, D), dtype=np.float32)
        out = np.lib.format.open_memmap(path + ".part", mode="w+", dtype=np.float16, shape=(n, D))
        for start in range(0, n, 65_536):
            m = min(65_536, n - start)
            block = rng.standard_normal((m, D), dtype=np.float32)
            block *= np.float32(0.5)
            block += centres[rng.integers(0, N_CLASSES, m)]
            out[start:start + m] = block
        out.flush()
        del out
        os.replace(path + ".part", path)
    return np.load(path, mmap_mode="r")


def stream_rows(n: int, k: int) -> list[dict]:
    X = float16_store(n, os.environ.get("BENCH_SCALE_DIR", "/tmp"))
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((n, N_CLASSES), dtype=np.float32)
    proba = _softmax(logits)
    del logits
    mask = np.zeros(n, dtype=bool)
    view = PoolView(mask, proba=proba, embeddings=X, strategy="bench")
    rows = []
    for name in STREAMING:
        row = measure_strategy(name, view, X, k)
        row["strategy"] += " (float16 memory map)"
        rows.append(row)
        print(rows[-1], flush=True)
    return rows


def run(quick: bool = False) -> list[dict]:
    sizes = QUICK_SIZES if quick else tuple(int(s) for s in os.environ.get(
        "BENCH_SCALE_SIZES", ",".join(map(str, DEFAULT_SIZES))).split(","))
    names = os.environ.get("BENCH_SCALE_STRATEGIES")
    names = [s.strip() for s in names.split(",")] if names else STRATEGIES.names()
    k = QUICK_K if quick else K
    rows = []
    with limited_threads(bench_threads()):
        for n in sizes:
            data = pool(n)
            view = view_of(data)
            for name in names:
                rows.append(measure_strategy(name, view, data["X"], k))
                print(rows[-1], flush=True)  # a long run shows its progress
            del data, view
            gc.collect()
        stream = QUICK_STREAM if quick else int(os.environ.get("BENCH_SCALE_STREAM", "0"))
        if stream:
            rows += stream_rows(stream, k)
    for row in rows:
        row["bound"] = "streams (one block in memory)" if row["strategy"].split(" ")[0] in STREAMING else \
            BOUNDS.get(row["strategy"], "")
    return rows
