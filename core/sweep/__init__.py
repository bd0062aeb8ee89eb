"""Parameter sweeps: a grid over run options, expanded into independent cached runs.

A sweep is a base RunConfig plus a grid (option -> list of values). Its Cartesian product
gives one RunConfig per grid point; each point expands into its cache units (`RunSpec`:
one strategy x one repeat seed) and units shared by several points (random does not
depend on alpha, say) are computed once. Units run through an executor:

- `LocalExecutor`: joblib/loky worker processes on this machine, BLAS threads per worker
  limited so that `jobs` workers do not oversubscribe the cores;
- `RayExecutor`: the same units as Ray tasks on an existing cluster; the cache directory
  must be one shared directory that every node writes (checked before any work).

Every unit is cached exactly like a single run (`core.engine.runner.run_one`: one atomic record
per round, an exclusive lock per unit), so a sweep interrupted in any way resumes only what
is missing, and a finished sweep starts nothing. Grid file (TOML, or JSON of the same
shape)::

    name = "alpha x clusters"          # optional
    skip_invalid = false               # optional: skip grid points the engine rejects

    [base]                             # options shared by every point (any RunConfig field)
    dataset = "digits"
    strategies = ["random", "entropy", "hybrid"]
    repeats = 3

    [grid]                             # option -> values; the sweep is their product (at most
                                       # MAX_GRID_POINTS = 10,000 points, refused before any is built)
    alpha = [0.25, 0.5, 1.0]
    clusters = [1, 2, 3]
    learner_params.C = [0.1, 1.0]      # a learner setting

    [heatmap]                          # optional: the two options the AULC heatmap shows
    x = "alpha"
    y = "clusters"

A string value of `strategies` in [grid] means a single strategy at that point.

The package, one concern a module: `grid` (the definition and its validation), `plan`
(grid points -> deduplicated cache units, planned once per command and passed along),
`executors` (where units run), `status` (progress and the status file the dashboard
reads), `results` (tables from the cache; `save_comparisons` is the only writer there) and
`launch` (`run_sweep` in this process, `start_sweep` as a detached job).
"""

from core.sweep.executors import (
    Executor, ExecutorError, LocalExecutor, RayExecutor, Task, UnitOutcome, WorkerLost, make_executor, max_jobs,
    probe_cache, run_unit,
)
from core.sweep.grid import (
    FILE_KEYS, LEARNER_PARAM_PREFIX, MAX_GRID_POINTS, OPTION_NAMES, GridError, GridPoint, Sweep, build_sweep, load_grid,
    parse_grid, read_grid_file,
)
from core.sweep.launch import run_sweep, start_sweep, sweep_job_id
from core.sweep.plan import Plan, Unit, plan_sweep
from core.sweep.results import (
    RUN_COLUMNS, SweepResult, best_per_strategy, collect_runs, load_sweep_results, save_comparisons,
)
from core.sweep.status import SweepProgress, read_statuses, status_path

__all__ = [
    # grid
    "FILE_KEYS", "LEARNER_PARAM_PREFIX", "MAX_GRID_POINTS", "OPTION_NAMES", "GridError", "GridPoint", "Sweep", "build_sweep", "load_grid",
    "parse_grid", "read_grid_file",
    # plan
    "Plan", "Unit", "plan_sweep",
    # executors
    "Executor", "ExecutorError", "LocalExecutor", "RayExecutor", "Task", "UnitOutcome", "WorkerLost", "make_executor",
    "max_jobs", "probe_cache", "run_unit",
    # status
    "SweepProgress", "read_statuses", "status_path",
    # results
    "RUN_COLUMNS", "SweepResult", "best_per_strategy", "collect_runs", "load_sweep_results", "save_comparisons",
    # launch
    "run_sweep", "start_sweep", "sweep_job_id",
]
