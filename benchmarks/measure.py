"""What every benchmark measures the same way."""

from __future__ import annotations

import gc
import tracemalloc


def peak_mb(fn) -> float:
    """Peak memory `fn()` allocates through Python's allocators (numpy included), in MiB."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / 2**20


def median_seconds(fn, repeats: int, *, warmup: bool = False, collect: bool = False) -> float:
    """Median wall time of `repeats` calls of `fn()`; `warmup` calls it once first (numba compilation and
    page faults are not per-round costs), `collect` runs the garbage collector before each call."""
    import time

    import numpy as np

    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        if collect:
            gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))
