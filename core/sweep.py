"""Parameter sweeps: a grid over run options, expanded into independent cached runs.

A sweep is a base RunConfig plus a grid (option -> list of values). Its Cartesian product
gives one RunConfig per grid point; each point expands into its cache units (`RunSpec`:
one strategy x one repeat seed) and units shared by several points (random does not
depend on alpha, say) are computed once. Units run through an executor:

- `LocalExecutor`: joblib/loky worker processes on this machine, BLAS threads per worker
  limited so that `jobs` workers do not oversubscribe the cores;
- `RayExecutor`: the same units as Ray tasks on an existing cluster; the cache directory
  must be one shared directory that every node writes (checked before any work).

Every unit is cached exactly like a single run (`core.runner.run_one`: one atomic record
per round, an exclusive lock per unit), so a sweep interrupted in any way resumes only what
is missing, and a finished sweep starts nothing. Grid file (TOML, or JSON of the same
shape)::

    name = "alpha x clusters"          # optional
    skip_invalid = false               # optional: skip grid points the engine rejects

    [base]                             # options shared by every point (any RunConfig field)
    dataset = "digits"
    strategies = ["random", "entropy", "hybrid"]
    repeats = 3

    [grid]                             # option -> values; the sweep is their product
    alpha = [0.25, 0.5, 1.0]
    clusters = [1, 2, 3]
    learner_params.C = [0.1, 1.0]      # a learner setting

    [heatmap]                          # optional: the two options the AULC heatmap shows
    x = "alpha"
    y = "clusters"

A string value of `strategies` in [grid] means a single strategy at that point.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

import pandas as pd
from threadpoolctl import threadpool_limits

from core.cache import Cache, atomic_write_json
from core.config import ConfigError, RunConfig, RunSpec, stable_hash
from core.datasets import load_dataset
from core.learners import learner_param_names
from core.metrics import default_metric, summary_table
from core.runner import Cancelled, is_finished, load_comparison, prepare, run_comparison, run_one
from core.types import Dataset

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

log = logging.getLogger(__name__)

OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in fields(RunConfig))
FILE_KEYS = ("name", "skip_invalid", "base", "grid", "heatmap")
LEARNER_PARAM_PREFIX = "learner_params."
_DEFAULTS = RunConfig()
_MAX_LISTED = 8  # invalid grid points named in one error message


class GridError(ConfigError):
    """The grid file or grid definition is invalid; the message says what is allowed."""


class ExecutorError(RuntimeError):
    """An executor cannot run the sweep (Ray missing or unreachable, cache not shared, ...)."""


class WorkerLost(ExecutorError):
    """A worker process died mid-run (killed, out of memory); completed rounds are cached."""


# --------------------------------------------------------------------------- grid definition


@dataclass(frozen=True)
class GridPoint:
    """One combination of grid values and the validated RunConfig it gives."""

    index: int
    params: dict[str, Any]  # grid option -> value at this point ("learner_params.C" for learner settings)
    config: RunConfig


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: its definition and its valid grid points."""

    base: dict[str, Any]
    grid: dict[str, list[Any]]
    points: tuple[GridPoint, ...]
    skipped: tuple[tuple[dict[str, Any], str], ...] = ()  # (params, why) of invalid points left out
    name: str = ""
    heatmap: tuple[str, str | None] | None = None
    skip_invalid: bool = False  # points that fail the data checks are skipped too, not an error

    @property
    def key(self) -> str:
        """Depends only on the runs the sweep expands to, not on how the file spelled them."""
        return stable_hash([p.config.key() for p in self.points])

    @property
    def axes(self) -> list[str]:
        """Grid options shown as columns of the results (the strategy has its own column)."""
        return [name for name in self.grid if name != "strategies"]

    def heatmap_axes(self) -> tuple[str, str | None] | None:
        if self.heatmap is not None:
            return self.heatmap
        varying = [a for a in self.axes if len(self.grid[a]) > 1] or self.axes
        return (varying[0], varying[1] if len(varying) > 1 else None) if varying else None

    def definition(self) -> dict[str, Any]:
        """JSON-able, readable back by `parse_grid` (the dashboard launches sweeps with it)."""
        out: dict[str, Any] = {"name": self.name, "skip_invalid": self.skip_invalid, "base": self.base, "grid": self.grid}
        if self.heatmap is not None:
            out["heatmap"] = {"x": self.heatmap[0], **({"y": self.heatmap[1]} if self.heatmap[1] else {})}
        return out


def _flatten(section: dict[str, Any], where: str) -> dict[str, Any]:
    """TOML spells `learner_params.C = [...]` as a nested table; name it "learner_params.C"."""
    out: dict[str, Any] = {}
    for name, value in section.items():
        if name == "learner_params" and isinstance(value, dict):
            for param, v in value.items():
                out[LEARNER_PARAM_PREFIX + param] = v
        else:
            out[name] = value
    return out


def _check_names(names: Iterable[str], where: str, learner: str) -> None:
    for name in names:
        if name.startswith(LEARNER_PARAM_PREFIX):
            continue  # checked with the learner when each point is built, which names the valid ones
        if name not in OPTION_NAMES or name == "learner_params":
            valid = [n for n in OPTION_NAMES if n != "learner_params"]
            try:
                learner_hint = f"; learner settings as learner_params.NAME, for {learner!r}: {learner_param_names(learner)}"
            except ValueError:
                learner_hint = "; learner settings as learner_params.NAME"
            raise GridError(f"{where}: unknown option {name!r}; valid options: {valid}{learner_hint}")


def _coerce(name: str, value: Any) -> Any:
    """TOML `1` for a float option is 1.0, so the sweep's configs match the CLI's (same keys)."""
    default = getattr(_DEFAULTS, name, None)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if name == "strategies":
        return [value] if isinstance(value, str) else list(value)
    return value


def _config_dict(base: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    d: dict[str, Any] = {"learner_params": {}}
    for name, value in {**base, **point}.items():
        if name.startswith(LEARNER_PARAM_PREFIX):
            d["learner_params"][name[len(LEARNER_PARAM_PREFIX):]] = value
        else:
            d[name] = _coerce(name, value)
    return d


def _describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items()) or "(base)"


def build_sweep(
    base: dict[str, Any],
    grid: dict[str, Any],
    *,
    name: str = "",
    heatmap: dict[str, str] | Sequence[str] | None = None,
    skip_invalid: bool = False,
) -> Sweep:
    """Validate a grid and expand it into grid points. Raises GridError naming what is wrong.

    Parameters
    ----------
    base : dict
        RunConfig options shared by every point; `learner_params` may be a dict or
        "learner_params.NAME" entries.
    grid : dict
        Option -> non-empty list of distinct values.
    skip_invalid : bool
        Leave out points the engine rejects (for example clusters > round(alpha * batch))
        instead of failing; they are listed in `Sweep.skipped`.
    """
    base, grid = _flatten(dict(base), "base"), _flatten(dict(grid), "grid")
    learner = base.get("learner", _DEFAULTS.learner)
    _check_names(base, "[base]", learner)
    _check_names(grid, "[grid]", learner)
    if not grid:
        raise GridError("[grid] is empty; give at least one option with a list of values, e.g. alpha = [0.25, 0.5, 1.0]")
    both = sorted(set(base) & set(grid))
    if both:
        raise GridError(f"option(s) {both} are both fixed ([base] or command line) and swept ([grid]); keep each in one place")
    for option, values in grid.items():
        if not isinstance(values, list) or not values:
            raise GridError(f"[grid] {option} must be a non-empty list of values; got {values!r}")
        seen = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(seen)) != len(seen):
            raise GridError(f"[grid] {option} lists a value more than once: {values!r}")
    axes = tuple(heatmap.values()) if isinstance(heatmap, dict) else tuple(heatmap or ())
    if not all(isinstance(axis, str) for axis in axes):
        raise GridError(f"heatmap axes must be grid option names; got {list(axes)}")
    if isinstance(heatmap, dict) and sorted(heatmap) not in (["x"], ["x", "y"]):
        raise GridError(f"[heatmap] takes x and y (grid option names); got {sorted(heatmap)}")
    for axis in axes:
        if axis not in grid or axis == "strategies":
            raise GridError(f"heatmap axis {axis!r} must be a swept option other than strategies; "
                            f"choose from {[g for g in grid if g != 'strategies']}")
    if len(axes) not in (0, 1, 2) or (len(axes) == 2 and axes[0] == axes[1]):
        raise GridError(f"heatmap needs one or two different grid options; got {list(axes)}")

    points, skipped = [], []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values))
        try:
            config = RunConfig.from_dict(_config_dict(base, params))
        except ConfigError as exc:
            skipped.append((params, str(exc)))
            continue
        except TypeError as exc:  # a value of the wrong shape (a table where a number belongs)
            skipped.append((params, f"invalid value ({exc})"))
            continue
        points.append(GridPoint(len(points), params, config))
    if skipped and (not skip_invalid or not points):
        listed = "; ".join(f"{_describe(p)}: {why}" for p, why in skipped[:_MAX_LISTED])
        more = f"; and {len(skipped) - _MAX_LISTED} more" if len(skipped) > _MAX_LISTED else ""
        hint = "" if points else " (no valid point left)"
        raise GridError(f"{len(skipped)} of {len(skipped) + len(points)} grid points are invalid{hint}: {listed}{more}"
                        + ("" if not points else "; set skip_invalid = true (CLI: --skip-invalid) to run only the valid ones"))
    return Sweep(base=base, grid=grid, points=tuple(points), skipped=tuple(skipped), name=str(name),
                 heatmap=(axes[0], axes[1] if len(axes) > 1 else None) if axes else None, skip_invalid=skip_invalid)


def parse_grid(obj: dict[str, Any], *, base: dict[str, Any] | None = None, vary: dict[str, list[Any]] | None = None,
               skip_invalid: bool | None = None) -> Sweep:
    """A grid file's content -> Sweep. `base` (command-line options) and `vary` add to the file."""
    if not isinstance(obj, dict):
        raise GridError(f"grid file: expected a table with keys {list(FILE_KEYS)}; got {obj!r}")
    unknown = sorted(set(obj) - set(FILE_KEYS))
    if unknown:
        raise GridError(f"grid file: unknown key(s) {unknown}; valid top-level keys: {list(FILE_KEYS)}")
    for section in ("base", "grid", "heatmap"):
        if section in obj and not isinstance(obj[section], dict):
            raise GridError(f"grid file: [{section}] must be a table; got {obj[section]!r}")
    if not isinstance(obj.get("skip_invalid", False), bool):
        raise GridError(f"grid file: skip_invalid must be true or false; got {obj['skip_invalid']!r}")
    if not isinstance(obj.get("name", ""), str):
        raise GridError(f"grid file: name must be a string; got {obj['name']!r}")
    file_base = _flatten(obj.get("base", {}), "base")
    cli_base = _flatten(base or {}, "base")
    clash = sorted(set(file_base) & set(cli_base))
    if clash:
        raise GridError(f"option(s) {clash} are given both in the grid file's [base] and on the command line; keep one")
    grid = {**_flatten(obj.get("grid", {}), "grid"), **_flatten(vary or {}, "grid")}
    skip = bool(obj.get("skip_invalid", False)) if skip_invalid is None else skip_invalid
    return build_sweep({**file_base, **cli_base}, grid, name=obj.get("name", ""), heatmap=obj.get("heatmap"),
                       skip_invalid=skip)


def read_grid_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """TOML (or JSON for *.json) -> dict. Raises GridError with the file and the parse error."""
    path = Path(path)
    kind = "JSON" if path.suffix == ".json" else "TOML"
    try:
        if path.suffix == ".json":
            obj = json.loads(path.read_text(encoding="utf-8"))
        else:
            with open(path, "rb") as f:
                obj = tomllib.load(f)
    except FileNotFoundError:
        raise GridError(f"grid file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise GridError(f"grid file {str(path)!r} is a directory; give a {kind} file") from None
    except PermissionError:
        raise GridError(f"grid file {str(path)!r} is not readable (permission denied)") from None
    except OSError as exc:
        raise GridError(f"grid file {str(path)!r} cannot be read ({exc.strerror or exc})") from None
    except (ValueError, RecursionError) as exc:  # TOML, JSON and UTF-8 decoding errors are ValueErrors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__  # RecursionError: absurd nesting
        raise GridError(f"grid file {str(path)!r} is not valid {kind}: {reason}") from None
    if not isinstance(obj, dict):
        raise GridError(f"grid file {str(path)!r}: expected a table with keys {list(FILE_KEYS)}; got {type(obj).__name__}")
    return obj


def load_grid(path: str | os.PathLike[str], **kwargs: Any) -> Sweep:
    return parse_grid(read_grid_file(path), **kwargs)


# --------------------------------------------------------------------------- plan


@dataclass
class Unit:
    """One cache unit of the sweep; `points` are the grid points that share it."""

    spec: RunSpec
    key: str
    dataset_key: str
    points: list[int] = field(default_factory=list)
    complete: bool = False


@dataclass
class Plan:
    sweep: Sweep
    datasets: dict[str, Dataset]  # by dataset options key
    point_datasets: list[str]  # dataset key of each grid point
    units: list[Unit]

    @property
    def pending(self) -> list[Unit]:
        return [u for u in self.units if not u.complete]


def _dataset_key(config: RunConfig) -> str:
    return stable_hash({"dataset": config.dataset, **config.dataset_options})


def plan_sweep(sweep: Sweep, cache: Cache, *, load: Callable[[RunConfig], Dataset] | None = None) -> Plan:
    """Load each dataset once, run the data checks per point, dedupe units, find finished ones.

    Writes nothing. Raises GridError for points that fail the data checks, unless the sweep
    skips invalid points: then the plan's sweep lists them in `skipped`. `load` replaces
    `load_dataset` (the dashboard passes its in-memory copy).
    """
    datasets: dict[str, Dataset] = {}
    point_datasets, valid, skipped = [], [], list(sweep.skipped)
    for point in sweep.points:
        dkey = _dataset_key(point.config)
        if dkey not in datasets:
            datasets[dkey] = (load(point.config) if load is not None
                              else load_dataset(point.config.dataset, **point.config.dataset_options))
        try:
            prepare(point.config, datasets[dkey])
        except ConfigError as exc:
            skipped.append((point.params, str(exc)))
            continue
        valid.append(point)
        point_datasets.append(dkey)
    if len(skipped) > len(sweep.skipped):
        bad = skipped[len(sweep.skipped):]
        if not sweep.skip_invalid or not valid:
            listed = "; ".join(f"{_describe(p)}: {why}" for p, why in bad[:_MAX_LISTED])
            raise GridError(f"{len(bad)} of {len(sweep.points)} grid points do not fit the data: {listed}"
                            + ("; set skip_invalid = true (CLI: --skip-invalid) to run only the valid ones" if valid else ""))
        points = tuple(GridPoint(i, p.params, p.config) for i, p in enumerate(valid))
        sweep = Sweep(sweep.base, sweep.grid, points, tuple(skipped), sweep.name, sweep.heatmap, sweep.skip_invalid)
    units: dict[str, Unit] = {}
    for point, dkey in zip(sweep.points, point_datasets):
        fingerprint = datasets[dkey].fingerprint
        for spec in point.config.specs():
            key = spec.key(fingerprint)
            unit = units.get(key)
            if unit is None or spec.rounds > unit.spec.rounds:  # pool rounds only extend a run: keep the longest
                units[key] = unit = Unit(spec, key, dkey, unit.points if unit else [])
            unit.points.append(point.index)
    for unit in units.values():
        unit.complete = is_finished(unit.spec, cache.run(unit.key).load_rounds()[: unit.spec.rounds])
    return Plan(sweep, datasets, point_datasets, list(units.values()))


# --------------------------------------------------------------------------- executors


@dataclass(frozen=True)
class UnitOutcome:
    """What a worker reports back; the rounds themselves travel through the cache."""

    key: str
    computed_rounds: int = 0
    cached_rounds: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time: wall >> CPU means the worker waited for a core
    host: str = ""
    pid: int = 0
    error: str | None = None


def run_unit(dataset: Dataset, spec: RunSpec, cache_dir: str, blas_threads: int | None = None) -> UnitOutcome:
    """Run or resume one unit into the cache (this is what a worker executes)."""
    counts = [0, 0]

    def on_round(_spec, _result, from_cache: bool) -> None:
        counts[bool(from_cache)] += 1

    key = spec.key(dataset.fingerprint)
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        with threadpool_limits(limits=blas_threads):
            run_one(dataset, spec, cache=Cache(cache_dir), on_round=on_round)
    except Exception as exc:  # reported per unit: one failing run must not hide the other runs' results
        log.exception("unit %s failed", key)
        return UnitOutcome(key, counts[0], counts[1], time.perf_counter() - t0, time.process_time() - cpu0,
                           socket.gethostname(), os.getpid(), error=f"{type(exc).__name__}: {exc}")
    return UnitOutcome(key, counts[0], counts[1], time.perf_counter() - t0, time.process_time() - cpu0,
                       socket.gethostname(), os.getpid())


@dataclass(frozen=True)
class Task:
    dataset: Dataset
    spec: RunSpec
    key: str


class Executor(Protocol):
    """Runs units somewhere and yields their outcomes as they finish (any order)."""

    name: str

    def check_cache(self, cache: Cache) -> None:
        """Fail (ExecutorError) unless every worker can write `cache`, before any work starts."""

    def map(self, tasks: Sequence[Task], cache_dir: str) -> Iterator[UnitOutcome]:
        """Run every task; closing the iterator cancels what has not finished."""


def max_jobs() -> int:
    """More local worker processes than this only compete for the cores (and each holds a dataset copy)."""
    return 4 * (os.cpu_count() or 1)


class LocalExecutor:
    """joblib/loky processes on this machine (in-process when jobs == 1)."""

    name = "local"

    def __init__(self, jobs: int | None = None) -> None:
        cores = os.cpu_count() or 1
        if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or not 1 <= jobs <= max_jobs()):
            raise ValueError(f"jobs must be an integer >= 1 (at most {max_jobs()}: 4 per core); got {jobs!r}")
        self.jobs = jobs or cores
        # Each worker gets its share of the cores for BLAS / OpenMP (set before it starts, so
        # torch and numpy see it too); N workers x default threads would oversubscribe.
        self.blas_threads = max(1, cores // self.jobs)

    def check_cache(self, cache: Cache) -> None:
        cache.check_writable()

    def map(self, tasks: Sequence[Task], cache_dir: str) -> Iterator[UnitOutcome]:
        from joblib import Parallel, delayed, parallel_config
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        jobs = min(self.jobs, len(tasks)) or 1
        with parallel_config(backend="loky", inner_max_num_threads=self.blas_threads if jobs > 1 else None):
            outcomes = Parallel(n_jobs=jobs, return_as="generator_unordered")(
                delayed(run_unit)(t.dataset, t.spec, cache_dir, self.blas_threads) for t in tasks)
            try:
                yield from outcomes
            except TerminatedWorkerError as exc:
                raise WorkerLost(f"a worker process died mid-run ({str(exc).splitlines()[0]}); every completed round "
                                 "is cached: run the sweep again to resume") from None


class RayExecutor:
    """Ray tasks on a cluster (`address` "auto", "ray://host:port"), or an already started Ray.

    Each task gets the dataset from the object store (put once per dataset), so only the
    cache directory must be shared between nodes: `check_cache` proves that every alive
    node sees and writes the same directory before the sweep starts.
    """

    name = "ray"

    def __init__(self, address: str | None = "auto", *, max_retries: int = 2) -> None:
        self.address, self.max_retries = address, max_retries
        self._started_here = False

    def _ray(self):
        try:
            import ray
        except ImportError:
            raise ExecutorError("the ray executor needs Ray: pip install 'albench[ray]'") from None
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            try:
                ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
            except ConnectionError as exc:
                raise ExecutorError(f"cannot reach a Ray cluster at {self.address!r} ({exc}); start one with "
                                    "`ray start --head` or pass --ray-address ray://HOST:PORT") from None
            except (ValueError, ImportError) as exc:  # a ray:// address without Ray Client, or a malformed address
                raise ExecutorError(f"cannot connect to Ray at {self.address!r}: {str(exc).splitlines()[0]} "
                                    "(ray:// addresses need Ray Client: pip install 'albench[ray]')") from None
            self._started_here = True
        return ray

    def close(self) -> None:
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False

    def check_cache(self, cache: Cache) -> None:
        cache.check_writable()
        ray = self._ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        token = uuid.uuid4().hex
        probes = cache.root.resolve() / ".probes"
        atomic_write_json(probes / f"{token}.json", {"token": token})
        probe = ray.remote(num_cpus=0, max_retries=0)(probe_cache)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        refs = {n["NodeID"]: probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(str(cache.root.resolve()), token, n["NodeID"]) for n in nodes}
        try:
            for node in nodes:
                where = f"node {node.get('NodeManagerAddress', node['NodeID'])}"
                try:
                    ray.get(refs[node["NodeID"]], timeout=120)
                except ray.exceptions.GetTimeoutError:
                    raise ExecutorError(f"{where} did not answer the cache check within 120 s (busy, or it cannot "
                                        "start a worker: is this package installed there?)") from None
                except ray.exceptions.RayTaskError as exc:
                    raise ExecutorError(f"cache directory {str(cache.root.resolve())!r} is not usable on {where}: "
                                        f"{exc.cause if hasattr(exc, 'cause') else exc}. Every Ray node must write the "
                                        "same directory: put the cache on a shared filesystem mounted at the same path "
                                        "on every node and pass it as --cache-dir") from None
                if not (probes / f"{token}-{node['NodeID']}").exists():
                    raise ExecutorError(f"{where} wrote its probe into its own {str(cache.root.resolve())!r}, which this "
                                        "machine does not see: the cache is not shared. Mount one shared directory at "
                                        "the same path on every node and pass it as --cache-dir")
        finally:
            for path in probes.glob(f"{token}*"):
                path.unlink(missing_ok=True)

    def map(self, tasks: Sequence[Task], cache_dir: str) -> Iterator[UnitOutcome]:
        ray = self._ray()
        remote = ray.remote(num_cpus=1, max_retries=self.max_retries)(run_unit)
        refs_by_dataset: dict[str, Any] = {}
        pending: dict[Any, Task] = {}
        for task in tasks:
            fingerprint = task.dataset.fingerprint
            if fingerprint not in refs_by_dataset:
                refs_by_dataset[fingerprint] = ray.put(task.dataset)
            pending[remote.remote(refs_by_dataset[fingerprint], task.spec, cache_dir, 1)] = task
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    task = pending.pop(ref)
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as exc:  # worker crashed past its retries, node lost, ...
                        yield UnitOutcome(task.key, error=f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


def probe_cache(cache_dir: str, token: str, node_id: str) -> str:
    """Runs on one node: the driver's token must be visible here, and this node's write must land there."""
    probes = Path(cache_dir) / ".probes"
    try:
        seen = json.loads((probes / f"{token}.json").read_text()).get("token")
    except FileNotFoundError:
        raise ExecutorError("the driver's probe file is missing here, so this is a different directory") from None
    if seen != token:
        raise ExecutorError("the driver's probe file reads differently here")
    try:
        atomic_write_json(probes / f"{token}-{node_id}", {"host": socket.gethostname()})
    except OSError as exc:
        raise ExecutorError(f"cannot write there ({exc.strerror or exc})") from None
    return socket.gethostname()


def make_executor(name: str, *, jobs: int | None = None, ray_address: str | None = "auto") -> Executor:
    if name == "local":
        return LocalExecutor(jobs)
    if name == "ray":
        return RayExecutor(ray_address)
    raise ValueError(f"unknown executor {name!r}; choose one of ['local', 'ray']")


# --------------------------------------------------------------------------- run + progress


@dataclass
class SweepProgress:
    """Whole-sweep progress in runs (cache units); ETA from the throughput so far."""

    total: int
    cached: int = 0  # complete before this sweep started
    computed: int = 0
    failed: int = 0
    cpu_seconds: float = 0.0  # summed over the runs computed
    started: float = field(default_factory=time.time)
    last: UnitOutcome | None = None

    @property
    def done(self) -> int:
        return self.cached + self.computed + self.failed

    @property
    def elapsed(self) -> float:
        return time.time() - self.started

    @property
    def eta_seconds(self) -> float | None:
        finished = self.computed + self.failed
        remaining = self.total - self.done
        if remaining == 0:
            return 0.0
        return None if finished == 0 else self.elapsed / finished * remaining

    def line(self) -> str:
        eta = self.eta_seconds
        eta_text = "ETA --" if eta is None else f"ETA {_duration(eta)}"
        extra = f", {self.cached} cached" if self.cached else ""
        extra += f", {self.failed} failed" if self.failed else ""
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return f"runs {self.done}/{self.total} ({pct:.0f}%{extra}), elapsed {_duration(self.elapsed)}, {eta_text}"

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "done": self.done, "cached": self.cached, "computed": self.computed,
                "failed": self.failed, "started": self.started, "elapsed": self.elapsed, "eta_seconds": self.eta_seconds}


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


@dataclass
class SweepResult:
    sweep: Sweep
    progress: SweepProgress
    runs: pd.DataFrame  # one row per grid point x strategy
    best: pd.DataFrame  # one row per strategy: its best grid point by AULC
    metric: str
    errors: dict[str, str]  # unit key -> error
    dispatched: int  # units handed to the executor (0 for a finished sweep)


def status_path(cache: Cache, sweep_key: str) -> Path:
    return cache.root / "sweeps" / f"{sweep_key}.json"


def _write_status(cache: Cache, key: str, sweep: Sweep, progress: SweepProgress, status: str, executor: str,
                  errors: dict[str, str]) -> None:
    atomic_write_json(status_path(cache, key), {
        "key": key, "name": sweep.name, "definition": sweep.definition(), "status": status, "executor": executor,
        "pid": os.getpid(), "updated": time.time(), **progress.to_dict(),
        "points": [{"index": p.index, "params": p.params, "config": p.config.to_dict(), "config_key": p.config.key()}
                   for p in sweep.points],
        "skipped": [{"params": p, "reason": why} for p, why in sweep.skipped], "errors": errors,
    })


def read_statuses(cache: Cache) -> list[dict[str, Any]]:
    """Every sweep the cache has seen, newest first (unreadable files are skipped)."""
    out = []
    for path in (cache.root / "sweeps").glob("*.json"):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(out, key=lambda s: s.get("updated", 0), reverse=True)


def run_sweep(
    sweep: Sweep,
    cache: Cache,
    *,
    executor: Executor | None = None,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SweepResult:
    """Run every unit the cache does not hold yet, then tabulate all runs of the sweep.

    Raises GridError (a point does not fit the data), ExecutorError / WorkerLost (the cache
    is not shared, a worker died) or Cancelled (`should_stop`); completed rounds stay cached.
    """
    executor = executor or LocalExecutor()
    key = sweep.key  # as launched, even if the data checks leave points out
    plan = plan_sweep(sweep, cache)
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
    failed_keys = set(errors)
    runs, metric = collect_runs(plan, cache, complete={u.key for u in plan.units} - failed_keys, save=True)
    return SweepResult(sweep, progress, runs, best_per_strategy(runs), metric, errors, dispatched=len(pending))


# --------------------------------------------------------------------------- results


RUN_COLUMNS = ["point", "strategy", "repeats", "metric", "final_n_labeled", "aulc", "aulc_ci_low", "aulc_ci_high",
               "aulc_ci_width", "final", "final_ci_low", "final_ci_high", "gain_vs_random", "complete", "config_key"]


def collect_runs(plan: Plan, cache: Cache, complete: set[str] | None = None,
                 save: bool = False) -> tuple[pd.DataFrame, str]:
    """One row per grid point x strategy: its grid values, AULC and final value with 95% CIs.

    With `save`, a point whose units all finished is saved as a comparison (so the other
    pages list it); otherwise this only reads what the cache holds so far.
    """
    sweep = plan.sweep
    complete = {u.key for u in plan.units if u.complete} if complete is None else complete
    frames = []
    for point, dkey in zip(sweep.points, plan.point_datasets):
        dataset = plan.datasets[dkey]
        keys = {spec.key(dataset.fingerprint) for spec in point.config.specs()}
        done = keys <= complete
        comparison = (run_comparison(point.config, cache=cache, dataset=dataset) if done and save
                      else load_comparison(point.config, cache, dataset))
        frame = comparison.frame()
        if len(frame):
            frames.append((point, frame, done))
    if not frames:
        return pd.DataFrame(columns=["point", *sweep.axes, *RUN_COLUMNS[1:]]), "test_accuracy"
    metric = default_metric(pd.concat([f for _, f, _ in frames]))
    rows = []
    for point, frame, done in frames:
        summary = summary_table(frame, metric)
        for r in summary.to_dict("records"):
            rows.append({"point": point.index, **{a: point.params[a] for a in sweep.axes}, "strategy": r["strategy"],
                         "repeats": r["repeats"], "metric": metric, "final_n_labeled": r["final_n_labeled"],
                         "aulc": r["aulc"], "aulc_ci_low": r["aulc_ci_low"], "aulc_ci_high": r["aulc_ci_high"],
                         "aulc_ci_width": r["aulc_ci_high"] - r["aulc_ci_low"], "final": r["final"],
                         "final_ci_low": r["final_ci_low"], "final_ci_high": r["final_ci_high"],
                         "gain_vs_random": r["gain_vs_random"], "complete": done, "config_key": point.config.key()})
    return pd.DataFrame(rows, columns=["point", *sweep.axes, *RUN_COLUMNS[1:]]), metric


# Swept options that change only these strategies' runs (see RunConfig.strategy_params).
_ONLY_FOR = {"alpha": {"hybrid"}, "clusters": {"hybrid"}, "measure": {"hybrid"}}


def best_per_strategy(runs: pd.DataFrame) -> pd.DataFrame:
    """Each strategy's grid point with the highest mean AULC (first one on ties).

    An option that cannot change a strategy's runs (alpha for random) is left empty in that
    strategy's row: every value of it gave the same runs, so naming one would mislead.
    """
    if runs.empty:
        return runs.copy()
    ranked = runs.dropna(subset=["aulc"])
    best = ranked.loc[ranked.groupby("strategy", sort=False)["aulc"].idxmax()].copy()
    for option, strategies in _ONLY_FOR.items():
        if option in best.columns:
            best[option] = best[option].astype(object)
            best.loc[~best.strategy.isin(strategies), option] = None
    return best.sort_values("aulc", ascending=False).reset_index(drop=True)


def load_sweep_results(sweep: Sweep, cache: Cache, *, load: Callable[[RunConfig], Dataset] | None = None) -> SweepResult:
    """Tabulate whatever the cache holds for `sweep`; computes nothing, starts no worker."""
    plan = plan_sweep(sweep, cache, load=load)
    runs, metric = collect_runs(plan, cache)
    progress = SweepProgress(total=len(plan.units), cached=sum(u.complete for u in plan.units))
    return SweepResult(plan.sweep, progress, runs, best_per_strategy(runs), metric, {}, dispatched=0)


# --------------------------------------------------------------------------- background sweeps


def sweep_job_id(sweep: Sweep) -> str:
    return f"sweep-{sweep.key}"


def start_sweep(sweep: Sweep, cache_root: str | os.PathLike[str], *, executor: str = "local", jobs: int | None = None,
                ray_address: str = "auto"):
    """`python -m core sweep` as a detached job (core.jobs): it outlives the page that started it.

    Its progress is read from the status file the sweep writes (`read_statuses`), its
    results from the cache; the definition travels as a JSON grid file.
    """
    import sys

    from core import jobs as background

    root = Path(cache_root).resolve()
    grid_file = root / "sweeps" / "grids" / f"{sweep.key}.json"
    atomic_write_json(grid_file, sweep.definition())
    command = [sys.executable, "-m", "core", "sweep", "--grid", str(grid_file), "--cache-dir", str(root),
               "--out", str(root / "jobs" / sweep_job_id(sweep)), "--quiet", "--executor", executor]
    if executor == "local" and jobs:
        command += ["--jobs", str(int(jobs))]
    if executor == "ray":
        command += ["--ray-address", ray_address]
    return background.start(root, sweep_job_id(sweep), command, kind="sweep", cwd=Path(__file__).resolve().parent.parent,
                            meta={"sweep_key": sweep.key, "name": sweep.name})
