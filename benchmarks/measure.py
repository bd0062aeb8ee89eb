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
