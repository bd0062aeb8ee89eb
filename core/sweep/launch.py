"""Running a sweep: in this process (`run_sweep`), or as a detached job that outlives its caller (`start_sweep`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from core.engine.cache import Cache, cache_area

from core.files import atomic_write_json
from core.engine.runner import Cancelled
from core.sweep.executors import Executor, LocalExecutor, Task, WorkerLost
from core.sweep.grid import Sweep
from core.sweep.plan import Plan, plan_sweep
from core.sweep.results import SweepResult, best_per_strategy, collect_runs, save_comparisons
from core.sweep.status import SweepProgress, _write_status

_REPO = Path(__file__).resolve().parents[2]  # where `python -m core` finds the package


def run_sweep(
    sweep: Sweep,
    cache: Cache,
    *,
    executor: Executor | None = None,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    plan: Plan | None = None,
) -> SweepResult:
    """Run every unit the cache does not hold yet, then tabulate all runs of the sweep.

    `plan` is `plan_sweep(sweep, cache)` when the caller has made it already (the CLI
    prints it first); otherwise the sweep is planned here. Either way it is planned once:
    the same plan gives the units to run and the results. Raises GridError (a point does
    not fit the data), ExecutorError / WorkerLost (the cache is not shared, a worker died)
    or Cancelled (`should_stop`); completed rounds stay cached.
    """
    executor = executor or LocalExecutor()
    key = sweep.key  # as launched, even if the data checks leave points out
    if plan is None:
        plan = plan_sweep(sweep, cache)
    plan.check_for(sweep)
    sweep = plan.sweep
    pending = plan.pending
    progress = SweepProgress(total=len(plan.units), cached=len(plan.units) - len(pending))
    errors: dict[str, str] = {}
    cache_dir = str(cache.root.resolve())
    if pending:
        executor.check_cache(cache)
    else:
        cache.check_writable()
    _write_status(cache, key, sweep, progress, "running", executor.name, errors)
    if on_progress:
        on_progress(progress)
    status = "failed"
    try:
        if pending:
            tasks = [Task(plan.datasets[u.dataset_key], u.spec, u.key) for u in pending]
            outcomes = executor.map(tasks, cache_dir)
            try:
                for outcome in outcomes:
                    progress.last = outcome
                    progress.cpu_seconds += outcome.cpu_seconds
                    if outcome.error:
                        progress.failed += 1
                        errors[outcome.key] = outcome.error
                    else:
                        progress.computed += 1
                    _write_status(cache, key, sweep, progress, "running", executor.name, errors)
                    if on_progress:
                        on_progress(progress)
                    if should_stop is not None and should_stop() and progress.done < progress.total:
                        raise Cancelled(f"sweep stopped with {progress.done} of {progress.total} runs done")
            finally:
                outcomes.close()  # cancels whatever is still queued or running
        status = "done" if not errors else "failed"
    except Cancelled:
        status = "cancelled"
        raise
    except WorkerLost:
        if should_stop is not None and should_stop():  # the stop signal reached the workers too
            status = "cancelled"
            raise Cancelled(f"sweep stopped with {progress.done} of {progress.total} runs done") from None
        raise
    finally:
        _write_status(cache, key, sweep, progress, status, executor.name, errors)
        close = getattr(executor, "close", None)
        if close is not None:
            close()
    complete = {u.key for u in plan.units} - set(errors)
    saved = save_comparisons(plan, cache, complete)
    runs, metric = collect_runs(plan, cache, complete, comparisons=saved)
    return SweepResult(sweep, progress, runs, best_per_strategy(runs), metric, errors, dispatched=len(pending))


def sweep_job_id(sweep: Sweep) -> str:
    return f"sweep-{sweep.key}"


def start_sweep(sweep: Sweep, cache_root: str | os.PathLike[str], *, executor: str = "local", jobs: int | None = None,
                ray_address: str = "auto"):
    """`python -m core sweep` as a detached job (core.engine.jobs): it outlives the page that started it.

    Its progress is read from the status file the sweep writes (`read_statuses`), its
    results from the cache; the definition travels as a JSON grid file.
    """
    from core.engine import jobs as background

    root = Path(cache_root).resolve()
    grid_file = cache_area("sweeps", root) / "grids" / f"{sweep.key}.json"
    atomic_write_json(grid_file, sweep.definition())
    command = [sys.executable, "-m", "core", "sweep", "--grid", str(grid_file), "--cache-dir", str(root),
               "--out", str(cache_area("jobs", root) / sweep_job_id(sweep)), "--quiet", "--executor", executor]
    if executor == "local" and jobs:
        command += ["--jobs", str(int(jobs))]
    if executor == "ray":
        command += ["--ray-address", ray_address]
    return background.start(root, sweep_job_id(sweep), command, kind="sweep", cwd=_REPO,
                            meta={"sweep_key": sweep.key, "name": sweep.name})
