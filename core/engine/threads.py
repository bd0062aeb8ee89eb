"""Thread counts of every pool a run can use (BLAS, OpenMP, numba, torch), set in one place.

On a loaded 2-core machine two threads ran 2.5-5x slower than one for the hybrid, typiclust,
dropquery and the resnet extraction (issue 22): oversubscribed pools spin against each other.
The runner and every benchmark go through `limited_threads`, and the benchmarks report
`thread_settings()` in each result line, so a figure always says what it ran with.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

AUTO = 0  # the run option's "leave as is": each learner's declared BLAS threads (core.learners.base.blas_threads)


def thread_settings() -> dict[str, int | None]:
    """The threads each pool would use now; None where the library is not loaded (numba, torch)."""
    from threadpoolctl import threadpool_info

    pools = threadpool_info()
    out: dict[str, int | None] = {
        "blas": max((p["num_threads"] for p in pools if p["user_api"] == "blas"), default=None),
        "openmp": max((p["num_threads"] for p in pools if p["user_api"] == "openmp"), default=None),
        "numba": None, "torch": None}
    if "numba" in sys.modules:
        out["numba"] = sys.modules["numba"].get_num_threads()
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].get_num_threads()
    return out


def describe(settings: dict[str, int | None] | None = None) -> str:
    """"blas 1, openmp 1, torch 1" (libraries not loaded are left out): one column of a result line."""
    settings = thread_settings() if settings is None else settings
    return ", ".join(f"{k} {v}" for k, v in settings.items() if v is not None) or "none loaded"


def _load_pools() -> None:
    import importlib.util

    import sklearn.utils._openmp_helpers  # noqa: F401  loads the OpenMP runtime K-means uses

    if "numba" not in sys.modules and importlib.util.find_spec("numba") is not None:
        import numba  # noqa: F401


@contextlib.contextmanager
def limited_threads(n: int | None, *, torch: bool = True) -> Iterator[None]:
    """Inside the block BLAS, OpenMP, numba (when loaded) and torch (when loaded, and `torch`) use `n`
    threads; `None` (or `AUTO`) changes nothing. The previous counts come back on exit.

    threadpoolctl only sees the pools loaded when the block starts, so scikit-learn's OpenMP runtime
    and numba (0.2 s to import; its compilation is paid per function, later) are loaded first; torch
    is only set when something already imported it (5 s cold).
    """
    if not n:
        yield
        return
    from threadpoolctl import threadpool_limits

    _load_pools()
    restore = []
    numba = sys.modules.get("numba")
    if numba is not None:
        previous_numba = numba.get_num_threads()
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        restore.append(lambda: numba.set_num_threads(previous_numba))
    module = sys.modules.get("torch") if torch else None
    if module is not None:
        previous_torch = module.get_num_threads()
        module.set_num_threads(n)
        restore.append(lambda: module.set_num_threads(previous_torch))
    try:
        with threadpool_limits(limits=n):  # BLAS and OpenMP (scikit-learn's K-means, numpy's products)
            yield
    finally:
        for undo in restore:
            undo()
