"""Where a sweep's units run: worker processes on this machine, or Ray tasks on a cluster."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterator, Protocol, Sequence

from threadpoolctl import threadpool_limits

from core.engine.cache import Cache, cache_area

from core.files import atomic_write_json, read_regular_text
from core.engine.config import RunSpec
from core.engine.runner import run_one
from core.types import Dataset

log = logging.getLogger(__name__)


class ExecutorError(RuntimeError):
    """An executor cannot run the sweep (Ray missing or unreachable, cache not shared, ...)."""


class WorkerLost(ExecutorError):
    """A worker process died mid-run (killed, out of memory); completed rounds are cached."""


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
        probes = cache.area(".probes").resolve()
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
    probes = cache_area(".probes", cache_dir)
    try:
        seen = json.loads(read_regular_text(probes / f"{token}.json")).get("token")
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

