"""The on-disk cache: where it is, what lives under it, and how every file in it is written and opened.

Where: `cache_dir(given)` is the one rule, used by the CLI, the dashboard, jobs, sweeps,
the feature store and decoded folder datasets alike: `--cache-dir` when given, else
`$ALBENCH_CACHE_DIR`, else the checkout's `cache/` (`DEFAULT_CACHE_DIR`, next to `core/`).
The default is the checkout's folder, not the current directory, so a CLI run from any
directory and the dashboard find the same results; not a per-user folder, because the
design places `cache/` at the top of the repository (git-ignored) and existing caches live there.

What: every folder under the cache is named in `LAYOUT` (and only there)::

    runs/         one folder per run key (below)
    comparisons/  <key>.json: a comparison's RunConfig and run keys; <key>.lock held while computed
    features/     <key>/: the feature store (chunks, features.npy, manifest.json), core.engine.features
    datasets/     folder-<key>.npz: decoded image folders, core.datasets.folder
    figures/      curves-<hash>.html: charts the CLI copies into a new --out
    jobs/         <id>.json, <id>.log, <id>/: background runs the dashboard starts, core.engine.jobs
    sweeps/       <key>.json: a sweep's status, core.sweep
    projections/  2-D maps per dataset and feature space, core.analysis.projection
    ceilings/     <key>.json: all-labels ceilings, core.analysis.verdicts
    .probes/      tokens a Ray sweep writes from every node to prove they share the cache, core.sweep

How: one atomic write (`atomic_write_bytes`: temp file, fsync, rename, the umask's file
mode; `atomic_output` for writers that need a path, e.g. a memory map; `save_npy_atomic`),
and one regular-file open (`open_regular`: never blocks on a named pipe, refuses devices,
directories and, where asked, symlinks). Writes into a run folder refuse a run folder or
`runs/` that is a symlink (a shared cache must not write or delete through a planted link).

Layout of one run::

    runs/<key>/spec.json          what the run is (written once)
    runs/<key>/round_0003.npz     one completed round: metrics JSON + arrays
    runs/<key>/state_0003.npz     the learner's state after that round's fit (learners with
                                  get_state, e.g. the CNN's weights): resuming restores it
    runs/<key>/features_0003.npz  that round's learner features of the dataset (query map)
    runs/<key>/.lock              held (flock) by the process computing the run
    comparisons/<key>.json        a comparison: its RunConfig and the run keys it uses
    comparisons/<key>.lock        held shared (flock) by every process computing the comparison

Keys are 16 lower-case hex digits (`core.engine.config.stable_hash`); anything else read from a
file (a comparison's run list, a key passed in) is refused before it becomes a path, so a
planted record cannot point a delete outside the cache. Every round record carries its
run key and round number and is checked against the invariants of the round loop
(`check_round`) before it is believed: a record copied from another run, or one that
passes its CRC but holds impossible indices, is reported, moved aside and recomputed.

A record is written to a temporary file in the same directory, fsynced, then renamed over
its final name, so a reader sees a whole record or none; a process killed mid-write
leaves only a temporary file that the next writer removes. Records are data (npz with
`allow_pickle=False` and JSON), never pickle. A record that fails to read (truncated,
bad CRC, missing fields) is reported and recomputed from the round before it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import stat
import time
import zipfile
from collections import OrderedDict
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from core.files import (  # noqa: F401  (re-exported: the cache's file helpers live on the ground floor)
    check_writable_dir,
    NotRegularFile,
    open_regular,
    read_regular_text,
    atomic_output,
    atomic_write_bytes,
    save_npy_atomic,
    file_sha256,
    atomic_write_json,
    CorruptRecord,
    load_npz,
    _check_npz_sizes,
    _current_umask,
    _kind,
)
from core.types import PENDING, SKIPPED, RoundResult

log = logging.getLogger(__name__)

_ARRAYS = ("labeled", "queried", "scores", "predicted", "confusion", "revealed")
_META = tuple(f.name for f in fields(RoundResult) if f.name not in _ARRAYS)
_ROUND_FILE = re.compile(r"^round_(\d{4,})\.npz$")


class CacheError(RuntimeError):
    """The cache directory is unusable as it is, or an action on it is refused; the message says why."""


class RunInUse(CacheError):
    """Another process is computing a run this action would change."""


KEY_PATTERN = re.compile(r"[0-9a-f]{16}")


def check_key(key: object, what: str = "run key") -> str:
    """`key` if it is a cache key (16 hex digits, what `stable_hash` makes); CacheError otherwise."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise CacheError(f"{what} {key!r} is not a cache key (16 lower-case hex digits)")
    return key


CACHE_ENV = "ALBENCH_CACHE_DIR"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parents[2] / "cache"  # the checkout: core/engine/cache.py -> ../../cache

# Every folder under the cache directory, and what it holds (the module docstring says more).
LAYOUT = {
    "runs": "one folder per run key: spec.json, round_*.npz, state_*.npz, features_*.npz, .lock",
    "comparisons": "<key>.json (a comparison's config and run keys), <key>.lock",
    "features": "the feature store, one folder per extractor and image set",
    "datasets": "decoded image folders",
    "figures": "charts kept for reuse by a rerun into a new --out",
    "jobs": "background runs started by the dashboard: record, log, output",
    "sweeps": "sweep status files",
    "projections": "2-D maps per dataset and feature space",
    "ceilings": "all-labels ceilings",
    ".probes": "tokens a Ray sweep writes to prove every node sees this cache",
}


def cache_dir(given: str | os.PathLike[str] | None = None) -> Path:
    """The cache directory: `given` (a --cache-dir), else $ALBENCH_CACHE_DIR, else DEFAULT_CACHE_DIR."""
    if given is not None:
        return Path(given).expanduser()
    env = os.environ.get(CACHE_ENV, "").strip()
    return Path(env).expanduser() if env else DEFAULT_CACHE_DIR


def cache_area(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The folder `name` of LAYOUT under the cache directory `cache_dir(root)`."""
    if name not in LAYOUT:
        raise ValueError(f"unknown cache folder {name!r}; choose one of {sorted(LAYOUT)}")
    return cache_dir(root) / name


@contextlib.contextmanager
def using_cache_dir(root: str | os.PathLike[str]) -> Iterator[Path]:
    """$ALBENCH_CACHE_DIR set to `root` meanwhile, so what is cached without a Cache object (decoded
    folder datasets) and child processes go under the --cache-dir the user gave."""
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(Path(root).expanduser().absolute())
    try:
        yield Path(root)
    finally:
        if previous is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = previous


def refuse_links(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> None:
    """CacheError when `path` or a folder between `root` (excluded) and it is a symlink.

    A shared cache where someone replaced a run folder (or runs/) by a link would otherwise
    receive records, locks and temp-file sweeps in the link's target.
    """
    path, root = Path(path), Path(root)
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise CacheError(f"cache folder {str(current)!r} is a symlink; refused to write through it "
                             "(remove the link and rerun)")


def _encode_round(result: RoundResult, run_key: str) -> bytes:
    import io

    meta = {name: getattr(result, name) for name in _META}
    meta["run_key"] = run_key  # a record copied into another run's folder is recognised as foreign
    arrays = {name: np.asarray(getattr(result, name)) for name in _ARRAYS}
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return buf.getvalue()


def _regular_file(path: Path) -> os.stat_result:
    """stat of `path`; CorruptRecord unless it is a plain file (a FIFO would block np.load forever)."""
    st = path.stat()  # FileNotFoundError passes through: a missing record is not a corrupt one
    if not stat.S_ISREG(st.st_mode):
        raise CorruptRecord("not a regular file")
    return st


def _decode_round(path: Path) -> tuple[str | None, RoundResult]:
    """(the run key the record names, the record); CorruptRecord when it cannot be read or typed."""
    try:
        arrays = load_npz(path)
        data = {name: arrays[name] for name in (*_ARRAYS, "meta")}
        meta = json.loads(data.pop("meta").tobytes().decode())
        if not isinstance(meta, dict):
            raise CorruptRecord("metadata is not a JSON object")
        missing = [name for name in _META if name not in meta]
        if missing:
            raise CorruptRecord(f"missing fields {missing}")
        run_key = meta.pop("run_key", None)
        unknown = sorted(set(meta) - set(_META))
        if unknown:
            raise CorruptRecord(f"unknown fields {unknown}")
        return run_key, RoundResult(**meta, **data)
    except CorruptRecord:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError, TypeError,
            UnicodeDecodeError) as exc:
        raise CorruptRecord(f"{type(exc).__name__}: {exc}") from None


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_rate(x: Any) -> bool:
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool) and 0.0 <= x <= 1.0)


def check_round(record: RoundResult, previous: RoundResult | None, *, n_pool: int | None = None,
                initial: int | None = None) -> str | None:
    """What makes `record` impossible as the round after `previous`, or None when it holds.

    The invariants of the round loop: metadata of the right types, metrics in [0, 1];
    indices in range and distinct; queried disjoint from labelled; labelled = the previous
    round's labelled + the queried samples the oracle labelled (the first `initial` pool samples in round 0); per-sample
    arrays as long as the pool.
    """
    r = record
    if not _is_int(r.round) or not _is_int(r.n_labeled):
        return f"round/n_labeled are not integers ({r.round!r}, {r.n_labeled!r})"
    if not all(_is_rate(r.metric(name)) for name in RoundResult.METRICS):
        return "a metric is not a number in [0, 1]: " + ", ".join(f"{n}={r.metric(n)!r}" for n in RoundResult.METRICS)
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and t >= 0
               for t in (r.fit_seconds, r.score_seconds, r.select_seconds)):
        return "timings are not non-negative numbers"
    if r.confusion_on not in ("test", "pool") or not (r.measure is None or isinstance(r.measure, str)) \
            or not isinstance(r.state, dict):
        return "confusion_on, measure or state has the wrong type"
    for name in ("labeled", "queried", "predicted", "confusion", "revealed"):
        if getattr(r, name).dtype.kind not in "iu":
            return f"{name} is not an integer array"
    if r.scores.dtype.kind != "f" or r.scores.ndim != 1 or r.predicted.ndim != 1 or r.labeled.ndim != 1 \
            or r.queried.ndim != 1:
        return "per-sample arrays have the wrong shape or type"
    n = len(r.scores) if n_pool is None else n_pool
    if len(r.scores) != n or len(r.predicted) != n:
        return f"per-sample arrays hold {len(r.scores)}/{len(r.predicted)} values for a pool of {n}"
    if r.confusion.ndim != 2 or r.confusion.shape[0] != r.confusion.shape[1] or (r.confusion < 0).any():
        return f"confusion matrix of shape {r.confusion.shape} is not square and non-negative"
    for name in ("labeled", "queried"):
        idx = getattr(r, name)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            return f"{name} indices outside the pool [0, {n})"
        if np.unique(idx).size != idx.size:
            return f"{name} indices repeat"
    if r.revealed.shape != r.queried.shape or (r.revealed.size and (
            r.revealed.min() < SKIPPED or r.revealed.max() >= r.confusion.shape[0])):
        return "revealed labels are not one class, pending or skipped answer per queried sample"
    if r.n_labeled != r.labeled.size:
        return f"n_labeled={r.n_labeled} but {r.labeled.size} labelled indices"
    if np.intersect1d(r.labeled, r.queried).size:
        return "queried samples that were already labelled"
    if previous is not None:
        if len(previous.scores) != n:
            return "pool size differs from the previous round's"
        if (previous.revealed == PENDING).any():
            return "follows a round whose labels are still pending"
        expected = np.union1d(previous.labeled, previous.queried[previous.revealed >= 0])
    elif initial is not None:
        expected = np.arange(initial)
    else:
        return None
    if not np.array_equal(np.sort(r.labeled), expected):
        return "labelled set is not the previous round's labelled + queried samples"
    return None


# Decoded and checked records by path, reused while the file is unchanged (same inode, size
# and mtime: an atomic rename makes a new inode). The dashboard re-reads a growing
# comparison every second; with this it decodes only the new rounds. Bounded by bytes.
_MEMO: "OrderedDict[str, tuple[tuple[int, int, int], RoundResult, int]]" = OrderedDict()
_MEMO_LIMIT_BYTES = 256 * 2**20
_memo_bytes = 0


def _memo_get(path: Path, signature: tuple[int, int, int]) -> RoundResult | None:
    hit = _MEMO.get(str(path))
    if hit is None or hit[0] != signature:
        return None
    _MEMO.move_to_end(str(path))
    return hit[1]


def _memo_put(path: Path, signature: tuple[int, int, int], record: RoundResult) -> None:
    global _memo_bytes
    size = sum(np.asarray(getattr(record, name)).nbytes for name in _ARRAYS) + 512
    old = _MEMO.pop(str(path), None)
    if old is not None:
        _memo_bytes -= old[2]
    _MEMO[str(path)] = (signature, record, size)
    _memo_bytes += size
    while _memo_bytes > _MEMO_LIMIT_BYTES and _MEMO:
        _memo_bytes -= _MEMO.popitem(last=False)[1][2]


def _open_lock(path: Path):
    """The lock file (created when absent), opened for flock; CacheError when it is not a plain file
    (a directory, a named pipe, a symlink: never opened through)."""
    try:
        return open_regular(path, "a+", create=True, follow_symlinks=False)
    except NotRegularFile as exc:
        raise CacheError(f"cache lock {path} is not a regular file ({exc.kind}); remove it and rerun") from None


def _hold_exclusive(path: Path, held: contextlib.ExitStack) -> bool:
    """Take `path`'s flock exclusively without waiting, kept until `held` closes; False when busy."""
    try:
        handle = held.enter_context(open_regular(path, follow_symlinks=False))
    except FileNotFoundError:
        return True  # nobody has ever computed it
    except NotRegularFile as exc:
        raise CacheError(f"cache lock {path} is not a regular file ({exc.kind}); remove it and rerun") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class RunStore:
    """The records of one run (one cache key)."""

    def __init__(self, root: Path, cache_root: Path | None = None) -> None:
        self.root = root
        self.cache_root = cache_root if cache_root is not None else root.parent.parent
        self.problems: list[str] = []  # corrupt files found and moved aside, for the caller to report

    @property
    def key(self) -> str:
        return self.root.name

    def report(self, message: str) -> None:
        """Note a problem for the caller to show (the CLI prints `problems`) and log it."""
        if message not in self.problems:
            self.problems.append(message)
            log.warning(message)

    def round_path(self, index: int) -> Path:
        return self.root / f"round_{index:04d}.npz"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive while computing: a second process running the same run waits, then reads."""
        self._writable()
        with _open_lock(self.root / ".lock") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released by the kernel even on SIGKILL
            try:
                for stale in self.root.glob(".tmp-*"):  # leftovers of a killed writer
                    stale.unlink(missing_ok=True)
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _writable(self) -> None:
        """The run folder, created; CacheError when it or runs/ is a symlink (writes would land in its target)."""
        refuse_links(self.root, self.cache_root)
        self.root.mkdir(parents=True, exist_ok=True)
        refuse_links(self.root, self.cache_root)  # made by someone else meanwhile

    def write_spec(self, spec: dict[str, Any]) -> None:
        path = self.root / "spec.json"
        self._writable()
        if not path.exists():
            atomic_write_json(path, {**spec, "created": time.time()})

    def read_spec(self) -> dict[str, Any] | None:
        try:
            spec = json.loads(read_regular_text(self.root / "spec.json"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            self.report(f"{self.root / 'spec.json'} is unreadable ({exc})")
            return None
        if not isinstance(spec, dict):
            self.report(f"{self.root / 'spec.json'} is not a JSON object")
            return None
        return spec

    def write_round(self, result: RoundResult) -> None:
        self._writable()
        atomic_write_bytes(self.round_path(result.round), _encode_round(result, self.key))

    def state_path(self, index: int) -> Path:
        return self.root / f"state_{index:04d}.npz"

    def features_path(self, index: int) -> Path:
        return self.root / f"features_{index:04d}.npz"

    def write_arrays(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        """A dict of plain arrays as an npz, atomically (no object arrays, so no pickle)."""
        import io

        buf = io.BytesIO()
        np.savez(buf, **{name: np.asarray(value) for name, value in arrays.items()})
        self._writable()
        atomic_write_bytes(path, buf.getvalue())

    def read_arrays(self, path: Path) -> dict[str, np.ndarray] | None:
        """The arrays of `path`; None when absent, or unreadable (then noted in `problems`)."""
        try:
            return load_npz(path)
        except FileNotFoundError:
            return None
        except CorruptRecord as exc:
            self.report(f"cache file {path} is unreadable ({exc})")
            return None

    def write_state(self, index: int, state: dict[str, np.ndarray]) -> None:
        self.write_arrays(self.state_path(index), state)

    def read_state(self, index: int) -> dict[str, np.ndarray] | None:
        return self.read_arrays(self.state_path(index))

    def round_indices(self) -> list[int]:
        if not self.root.is_dir():
            return []
        found = (_ROUND_FILE.match(p.name) for p in self.root.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def _spec_sizes(self) -> tuple[int | None, int | None]:
        spec = self.read_spec() or {}
        n_pool, initial = spec.get("n_pool"), spec.get("initial")
        return (n_pool if _is_int(n_pool) else None), (initial if _is_int(initial) else None)

    def _set_aside(self, path: Path, repair: bool) -> None:
        if repair:
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, path.with_name(path.name + ".corrupt"))

    def load_rounds(self, *, repair: bool = False) -> list[RoundResult]:
        """Completed rounds 0..r-1, stopping at the first missing, corrupt or impossible record.

        With `repair`, such a record is moved aside to `*.corrupt` so it gets recomputed
        (only the process holding the lock repairs; readers only report).
        """
        out: list[RoundResult] = []
        n_pool, initial = None, None
        for expected, index in enumerate(self.round_indices()):
            if index != expected:
                break
            if expected == 0:
                n_pool, initial = self._spec_sizes()
            path = self.round_path(index)
            try:
                st = _regular_file(path)
                signature = (st.st_ino, st.st_size, st.st_mtime_ns)
                record = _memo_get(path, signature)
                if record is None:
                    run_key, record = _decode_round(path)
                    if run_key != self.key:
                        raise CorruptRecord(f"it belongs to run {run_key!r}, not {self.key!r}")
                    problem = check_round(record, out[-1] if out else None, n_pool=n_pool, initial=initial)
                    if problem:
                        raise CorruptRecord(problem)
                    if record.round != index:
                        raise CorruptRecord(f"it holds round {record.round}")
                    _memo_put(path, signature, record)
            except FileNotFoundError:
                break
            except CorruptRecord as exc:
                self.report(f"cache record {path} is corrupt ({exc}); it will be recomputed")
                self._set_aside(path, repair)
                break
            out.append(record)
        return out


def _malformed_comparison(item: dict[str, Any]) -> str | None:
    """What makes a comparison record unusable by its readers (Runs page, report, delete), or None."""
    if not isinstance(item.get("config"), dict):
        return "'config' is not an object"
    runs, units = item.get("runs", []), item.get("units", [])
    if not isinstance(runs, list) or not all(isinstance(k, str) and KEY_PATTERN.fullmatch(k) for k in runs):
        return "'runs' is not a list of run keys"
    if not isinstance(units, list) or not all(
            isinstance(u, dict) and isinstance(u.get("key"), str) and KEY_PATTERN.fullmatch(u["key"])
            and isinstance(u.get("strategy"), str) and _is_int(u.get("repeat")) for u in units):
        return "'units' is not a list of {strategy, repeat, key}"
    if not isinstance(item.get("status", ""), str):
        return "'status' is not text"
    return None


class Cache:
    """The on-disk cache directory shared by the CLI, the dashboard and sweeps."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = cache_dir(root)
        self._stores: dict[str, RunStore] = {}
        self.skipped: dict[str, str] = {}  # comparison records the last listing skipped: path -> why

    def area(self, name: str) -> Path:
        """The folder `name` (one of LAYOUT) under this cache."""
        return cache_area(name, self.root)

    def run(self, key: str) -> RunStore:
        """The store of run `key` (one object per key, so the problems it found stay with it)."""
        check_key(key)
        if key not in self._stores:
            self._stores[key] = RunStore(self.area("runs") / key, self.root)
        return self._stores[key]

    def check_writable(self) -> None:
        """Fail before any work when the cache directory cannot be written, or its layout is broken."""
        check_writable_dir(self.root, "cache directory")
        for sub in ("runs", "comparisons"):
            path = self.area(sub)
            if path.exists() and not path.is_dir():
                raise CacheError(f"cache directory {str(self.root)!r} is damaged: {sub!r} is a file, not a "
                                 "directory; move it away or use another --cache-dir")
            path.mkdir(exist_ok=True)

    def _comparison_path(self, key: str, suffix: str = ".json") -> Path:
        return self.area("comparisons") / f"{check_key(key, 'comparison key')}{suffix}"

    def write_comparison(self, key: str, payload: dict[str, Any]) -> None:
        path = self._comparison_path(key)
        refuse_links(path.parent, self.root)
        atomic_write_json(path, payload)

    def read_comparison(self, key: str) -> dict[str, Any] | None:
        try:
            path = self._comparison_path(key)
        except CacheError:
            return None
        try:
            item = json.loads(read_regular_text(path))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            return None
        return item if isinstance(item, dict) else None

    def comparisons(self) -> list[dict[str, Any]]:
        """Every saved comparison, newest first. Unreadable or malformed records are skipped (and named in
        `self.skipped`, path -> why), so one damaged file never hides the others."""
        out = []
        self.skipped = {}
        for path in self.area("comparisons").glob("*.json"):
            if not KEY_PATTERN.fullmatch(path.stem):
                continue
            item = self.read_comparison(path.stem)
            problem = "unreadable or not a JSON object" if item is None else _malformed_comparison(item)
            if problem is not None:
                self.skipped[str(path)] = problem
                log.warning("comparison record %s skipped: %s", path, problem)
                continue
            item["key"] = path.stem
            out.append(item)
        return sorted(out, key=lambda c: c.get("updated", 0) if isinstance(c.get("updated", 0), (int, float)) else 0,
                      reverse=True)

    @contextlib.contextmanager
    def computing(self, key: str) -> Iterator[None]:
        """Held (shared) while a process computes comparison `key`, so a delete can tell and refuse."""
        path = self._comparison_path(key, ".lock")
        refuse_links(path.parent, self.root)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _open_lock(path) as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def delete_comparison(self, key: str, *, runs: bool = True) -> None:
        """Remove a comparison and (by default) the runs no other comparison uses.

        Refused (RunInUse) while any process computes the comparison or one of its runs;
        refused (CacheError) when its record names anything but run keys: nothing is deleted then.
        """
        path = self._comparison_path(key)
        item = self.read_comparison(key)
        run_keys: list[str] = []
        if item is not None and runs:
            listed = item.get("runs", [])
            if not isinstance(listed, list):
                raise CacheError(f"comparison record {path} is malformed ('runs' is not a list); nothing deleted")
            try:
                run_keys = [check_key(k) for k in listed]
            except CacheError as exc:
                raise CacheError(f"comparison record {path} is malformed ({exc}); nothing deleted") from None
        with contextlib.ExitStack() as held:
            # Exclusive, non-blocking, held until the files are gone: a writer that holds one
            # now makes the delete refuse; one that starts later waits and then starts afresh.
            lock_path = self._comparison_path(key, ".lock")
            if not _hold_exclusive(lock_path, held):
                raise RunInUse(f"comparison {key} is being computed by another process; cancel it first")
            busy = [k for k in run_keys if not _hold_exclusive(self.run(k).root / ".lock", held)]
            if busy:
                raise RunInUse(f"{len(busy)} run(s) of comparison {key} are being computed by another process "
                               f"(e.g. {busy[0]}); cancel that run or sweep first")
            path.unlink(missing_ok=True)
            lock_path.unlink(missing_ok=True)
            if not run_keys:
                return
            still_used = {r for c in self.comparisons() for r in (c.get("runs") or []) if isinstance(r, str)}
            runs_dir = self.area("runs").resolve()
            for run_key in run_keys:
                if run_key in still_used:
                    continue
                run_dir = self.area("runs") / run_key
                if run_dir.is_symlink():  # never follow a link out of the cache; drop the link only
                    run_dir.unlink()
                    continue
                if not run_dir.is_dir() or run_dir.resolve().parent != runs_dir:
                    continue
                # Renamed first, so a writer that starts now finds no half-deleted run, then removed.
                doomed = run_dir.with_name(f".deleting-{run_key}-{os.getpid()}")
                try:
                    os.replace(run_dir, doomed)
                except FileNotFoundError:
                    continue
                shutil.rmtree(doomed, ignore_errors=True)
