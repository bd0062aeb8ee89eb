"""Sweep scaling: a 24-run digits sweep with 1 and 2 local workers, and the same on a local Ray.

Every configuration starts from an empty cache, so each run is computed. Both pools are
warmed up first (a 4-run sweep: workers started, engine imported), as a second sweep in one
process would find them; Ray's start-up is reported on its own row. Ray overhead per task = (Ray wall time - local
wall time at the same parallelism) / runs.

    python -m benchmarks sweep
"""

from __future__ import annotations

import os
import tempfile
import time

from core.cache import Cache
from core.sweep import LocalExecutor, RayExecutor, build_sweep, run_sweep

_load = 0.0
TITLE = "parameter sweep: 24 digits runs (hybrid, alpha x clusters x 2 seeds), local workers vs Ray"


def _sweep(quick: bool):
    base = {"dataset": "digits", "learner": "logistic", "strategies": ["hybrid"], "initial": 20, "batch": 10,
            "rounds": 4 if quick else 10, "repeats": 2}
    grid = {"alpha": [0.3, 1.0] if quick else [0.3, 0.5, 0.7, 1.0], "clusters": [1, 2, 3]}
    return build_sweep(base, grid)  # 4 x 3 points x 2 seeds = 24 runs (12 in quick mode)


def _timed(sweep, executor) -> tuple[float, int, float]:
    global _load
    _load = round(os.getloadavg()[0], 1)  # other processes on the machine share the cores: say how busy it was
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as root:
        t0 = time.perf_counter()
        result = run_sweep(sweep, Cache(root), executor=executor)
        seconds = time.perf_counter() - t0
    assert not result.errors, result.errors
    return seconds, result.progress.computed, result.progress.cpu_seconds


def run(quick: bool) -> list[dict]:
    sweep = _sweep(quick)
    rows = []
    warm_up = build_sweep({"strategies": ["random"], "rounds": 2, "repeats": 2}, {"seed": [100, 200]})
    _timed(warm_up, LocalExecutor(jobs=2))  # start the loky workers and their imports once
    base_seconds = None
    local = {}
    for jobs in (1, 2):
        seconds, runs, cpu = _timed(sweep, LocalExecutor(jobs=jobs))
        base_seconds = base_seconds or seconds
        local[jobs] = seconds
        rows.append({"executor": "local (joblib/loky)", "workers": jobs, "runs": runs, "wall_s": round(seconds, 2),
                     "s_per_run": round(seconds / runs, 3), "cpu_s_per_run": round(cpu / runs, 3), "speed_up_vs_1": round(base_seconds / seconds, 2),
                     "overhead_per_task_ms": None, "load_avg_before": _load})
    try:
        import ray
    except ImportError:
        rows.append({"executor": "ray: not installed (pip install 'albench[ray]')", "workers": 2})
        return rows
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        started = time.perf_counter() - t0
        _timed(warm_up, RayExecutor(address="auto"))  # workers import the engine once, like loky's above
        rows.append({"executor": "ray: ray.init(num_cpus=2) / + first tasks' imports", "workers": 2, "runs": 0,
                     "wall_s": f"{started:.2f} / {time.perf_counter() - t0:.2f}"})
        seconds, runs, cpu = _timed(sweep, RayExecutor(address="auto"))
        rows.append({"executor": "ray (local, 2 CPUs)", "workers": 2, "runs": runs, "wall_s": round(seconds, 2),
                     "s_per_run": round(seconds / runs, 3), "cpu_s_per_run": round(cpu / runs, 3), "speed_up_vs_1": round(base_seconds / seconds, 2),
                     "overhead_per_task_ms": round(1000 * (seconds - local[2]) / runs, 1), "load_avg_before": _load})
    finally:
        ray.shutdown()
    return rows
