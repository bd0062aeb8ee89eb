"""The four uncertainty measures, each a pure function of the class probabilities.

Every measure returns one float per row, higher = more uncertain, so one `top_k` ranks
them all. The margin and confidence kernels are fused single passes compiled with numba (already
installed for umap-learn): numpy's reductions along a 10-wide axis (`p.max(1)`,
`np.partition`) cost 30-100 ms on a 1M x 10 float32 pool, the loops 2-6 ms. Entropy is
bound by `log`, where numpy's SIMD float32 log is fastest (~13 ms). Serial on purpose:
numba's parallel loops cost a few ms of thread wake-up, more than they save below 1M rows.
`reference_*` are the plain numpy definitions the kernels are tested against.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_TINY = 1e-30  # p log p -> 0 as p -> 0; clamp so log(0) never produces NaN


_CHUNK_ROWS = 16_384  # 16k x 10 float32 = 640 kB: the log buffer stays in cache


def _entropy(p: np.ndarray) -> np.ndarray:
    # numpy's SIMD float32 log beats a scalar-log numba loop 5x here; chunking keeps the
    # temporary in cache so the pass reads the probabilities once.
    out = np.empty(len(p), p.dtype)
    buf = np.empty((min(_CHUNK_ROWS, len(p)), p.shape[1]), p.dtype)
    tiny = p.dtype.type(_TINY)
    for start in range(0, len(p), _CHUNK_ROWS):
        block = p[start:start + _CHUNK_ROWS]
        logs = buf[: len(block)]
        np.add(block, tiny, out=logs)
        np.log(logs, out=logs)
        out[start:start + _CHUNK_ROWS] = np.einsum("ij,ij->i", block, logs)
    np.negative(out, out=out)
    return out


@numba.njit(fastmath=True, cache=True)
def _least_confidence(p):
    n, c = p.shape
    out = np.empty(n, p.dtype)
    for i in range(n):
        top = p[i, 0]
        for j in range(1, c):
            top = max(top, p[i, j])
        out[i] = 1.0 - top
    return out


@numba.njit(fastmath=True, cache=True)
def _smallest_margin(p):
    n, c = p.shape
    out = np.empty(n, p.dtype)
    for i in range(n):
        first, second = p[i, 0], -1.0
        for j in range(1, c):
            v = p[i, j]
            second = max(second, min(first, v))  # branch-free running top-2
            first = max(first, v)
        out[i] = 1.0 - (first - second)
    return out


@numba.njit(fastmath=True, cache=True)
def _largest_margin(p):
    n, c = p.shape
    out = np.empty(n, p.dtype)
    for i in range(n):
        top, low = p[i, 0], p[i, 0]
        for j in range(1, c):
            v = p[i, j]
            top = max(top, v)
            low = min(low, v)
        out[i] = 1.0 - (top - low)
    return out


def _prepared(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba)
    if proba.ndim != 2 or proba.shape[1] < 2:
        raise ValueError(f"proba must have shape (n_samples, n_classes >= 2); got {proba.shape}")
    if proba.dtype not in (np.float32, np.float64):
        proba = proba.astype(np.float32)
    return np.ascontiguousarray(proba)


def entropy(proba: np.ndarray) -> np.ndarray:
    """Shannon entropy -sum p log p (nats); higher = more uncertain. Shape (n,)."""
    return _entropy(_prepared(proba))


def least_confidence(proba: np.ndarray) -> np.ndarray:
    """1 - p_top1; higher = more uncertain. Shape (n,)."""
    return _least_confidence(_prepared(proba))


def smallest_margin(proba: np.ndarray) -> np.ndarray:
    """1 - (p_top1 - p_top2); higher = more uncertain. Shape (n,)."""
    return _smallest_margin(_prepared(proba))


def largest_margin(proba: np.ndarray) -> np.ndarray:
    """1 - (p_top1 - p_lowest); higher = more uncertain. Shape (n,)."""
    return _largest_margin(_prepared(proba))


MEASURES = {
    "entropy": entropy,
    "least_confidence": least_confidence,
    "smallest_margin": smallest_margin,
    "largest_margin": largest_margin,
}


def measure_max(measure: str, n_classes: int) -> float:
    """The largest value `measure` takes with `n_classes` classes (the uniform distribution)."""
    return {
        "entropy": math.log(n_classes),
        "least_confidence": 1.0 - 1.0 / n_classes,
        "smallest_margin": 1.0,
        "largest_margin": 1.0,
    }[measure]


def normalized_score(measure: str, proba: np.ndarray) -> np.ndarray:
    """`measure` scaled to [0, 1], so that one threshold means the same for every measure."""
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose one of {sorted(MEASURES)}")
    return MEASURES[measure](proba) / np.float32(measure_max(measure, proba.shape[1]))


# Plain numpy definitions: the specification the kernels are tested against.
def reference_entropy(proba: np.ndarray) -> np.ndarray:
    p = np.clip(proba.astype(np.float64), _TINY, None)
    return -(p * np.log(p)).sum(axis=1)


def reference_least_confidence(proba: np.ndarray) -> np.ndarray:
    return 1.0 - proba.max(axis=1)


def reference_smallest_margin(proba: np.ndarray) -> np.ndarray:
    top2 = np.sort(proba, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def reference_largest_margin(proba: np.ndarray) -> np.ndarray:
    return 1.0 - (proba.max(axis=1) - proba.min(axis=1))
