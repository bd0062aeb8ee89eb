"""Sweep scaling: a 24-run digits sweep with 1 and 2 local workers, and the same on a local Ray.

Every configuration starts from an empty cache, so each run is computed. Both pools are
warmed up first (a 4-run sweep: workers started, engine imported), as a second sweep in one
process would find them; Ray's start-up is reported on its own row.

Overhead per task: the 24 finished units are handed to the executor again (bypassing the
sweep's own "already cached" check), so each task only ships the dataset, takes the unit's
lock and reads its rounds back; the time per task is the executor's cost around a run.

On a shared machine the wall times depend on what else runs: `cpu_s_per_run` (CPU time
inside the workers) and `load_avg_before` say how much of a core each run really had.

    python -m benchmarks sweep
"""

from __future__ import annotations

import os
import tempfile
import time

from core.engine.cache import Cache
from core.sweep import LocalExecutor, RayExecutor, Task, build_sweep, plan_sweep, run_sweep

TITLE = "parameter sweep: 24 digits runs (hybrid, alpha x clusters x 2 seeds), local workers vs Ray"


def _sweep(quick: bool):
    base = {"dataset": "digits", "learner": "logistic", "strategies": ["hybrid"], "initial": 20, "batch": 10,
            "rounds": 4 if quick else 10, "repeats": 2}
    grid = {"alpha": [0.3, 1.0] if quick else [0.3, 0.5, 0.7, 1.0], "clusters": [1, 2, 3]}
    return build_sweep(base, grid)  # 4 x 3 points x 2 seeds = 24 runs (12 in quick mode)


def _measure(label: str, sweep, executor, workers: int) -> dict:
    """Compute the sweep from an empty cache, then re-dispatch its finished units for the overhead."""
    load = round(os.getloadavg()[0], 1)  # other processes share the cores: say how busy the machine was
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as root:
        t0 = time.perf_counter()
        result = run_sweep(sweep, Cache(root), executor=executor)
        seconds = time.perf_counter() - t0
        assert not result.errors, result.errors
        plan = plan_sweep(sweep, Cache(root))
        tasks = [Task(plan.datasets[u.dataset_key], u.spec, u.key) for u in plan.units]
        t1 = time.perf_counter()
        outcomes = list(executor.map(tasks, root))
        per_task = (time.perf_counter() - t1) / len(tasks)
        assert not any(o.computed_rounds for o in outcomes)  # every round came from the cache
    runs = result.progress.computed
    return {"executor": label, "workers": workers, "runs": runs, "wall_s": round(seconds, 2),
            "s_per_run": round(seconds / runs, 3), "cpu_s_per_run": round(result.progress.cpu_seconds / runs, 3),
            "cached_task_ms": round(1000 * per_task, 1), "load_avg_before": load}


def run(quick: bool) -> list[dict]:
    sweep = _sweep(quick)
    warm_up = build_sweep({"strategies": ["random"], "rounds": 2, "repeats": 2}, {"seed": [100, 200]})
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as root:
        run_sweep(warm_up, Cache(root), executor=LocalExecutor(jobs=2))  # loky keeps these workers for reuse
    rows = [_measure("local (joblib/loky)", sweep, LocalExecutor(jobs=jobs), jobs) for jobs in (1, 2)]
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
        with tempfile.TemporaryDirectory(prefix="bench-sweep-") as root:
            run_sweep(warm_up, Cache(root), executor=RayExecutor(address="auto"))  # workers import the engine
        rows.append({"executor": f"ray start-up: ray.init {started:.1f} s, + first tasks {time.perf_counter() - t0:.1f} s",
                     "workers": 2})
        rows.append(_measure("ray (local, num_cpus=2)", sweep, RayExecutor(address="auto"), 2))
    finally:
        ray.shutdown()
    one = rows[0]["wall_s"]
    for row in rows:
        if row.get("runs"):
            row["speed_up_vs_1"] = round(one / row["wall_s"], 2)
    ray_row = rows[-1] if rows[-1].get("runs") else None
    if ray_row is not None:
        ray_row["ray_overhead_per_task_ms"] = round(ray_row["cached_task_ms"] - rows[1]["cached_task_ms"], 1)
    return rows
