"""Per-round store on disk: one .npz file per completed round, written atomically.

Layout under the cache directory::

    runs/<key>/spec.json          what the run is (written once)
    runs/<key>/round_0003.npz     one completed round: metrics JSON + arrays
    runs/<key>/state_0003.npz     the learner's state after that round's fit (learners with
                                  get_state, e.g. the CNN's weights): resuming restores it
    runs/<key>/features_0003.npz  that round's learner features of the dataset (query map)
    runs/<key>/.lock              held (flock) by the process computing the run
    comparisons/<key>.json        a comparison: its RunConfig and the run keys it uses

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
import tempfile
import time
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from core.types import RoundResult

log = logging.getLogger(__name__)

_ARRAYS = ("labeled", "queried", "scores", "predicted", "confusion")
_META = tuple(f.name for f in fields(RoundResult) if f.name not in _ARRAYS)
_ROUND_FILE = re.compile(r"^round_(\d{4,})\.npz$")


class CorruptRecord(Exception):
    """A cache file could not be read back; it is moved aside and recomputed."""


def check_writable_dir(path: Path, what: str, *, create: bool = True) -> None:
    """Prove a file can be written in `path` (creating it unless `create` is False); PermissionError names `what`.

    With create=False nothing is left behind: the probe goes to the deepest directory that
    exists, so a caller can check several directories before creating any of them.
    """
    path = Path(path)
    try:
        existing = next(p for p in (path, *path.parents) if p.exists())
        if not existing.is_dir():
            raise NotADirectoryError(f"{str(existing)!r} is a file")
        if create:
            path.mkdir(parents=True, exist_ok=True)
            existing = path
        with tempfile.NamedTemporaryFile(prefix=".tmp-probe-", dir=existing):
            pass
    except OSError as exc:
        raise PermissionError(f"{what} {str(path)!r} is not writable ({exc.strerror or exc})") from None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())


def _encode_round(result: RoundResult) -> bytes:
    import io

    meta = {name: getattr(result, name) for name in _META}
    arrays = {name: np.asarray(getattr(result, name)) for name in _ARRAYS}
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return buf.getvalue()


def _decode_round(path: Path) -> RoundResult:
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {name: z[name] for name in (*_ARRAYS, "meta")}  # reading checks each member's CRC
        meta = json.loads(data.pop("meta").tobytes().decode())
        missing = [name for name in _META if name not in meta]
        if missing:
            raise CorruptRecord(f"missing fields {missing}")
        return RoundResult(**meta, **data)
    except CorruptRecord:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError, TypeError) as exc:
        raise CorruptRecord(f"{type(exc).__name__}: {exc}") from None


class RunStore:
    """The records of one run (one cache key)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[str] = []  # corrupt files found and moved aside, for the caller to report

    @property
    def key(self) -> str:
        return self.root.name

    def report(self, message: str) -> None:
        """Note a problem for the caller to show (the CLI prints `problems`) and log it."""
        self.problems.append(message)
        log.warning(message)

    def round_path(self, index: int) -> Path:
        return self.root / f"round_{index:04d}.npz"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive while computing: a second process running the same run waits, then reads."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released by the kernel even on SIGKILL
            try:
                for stale in self.root.glob(".tmp-*"):  # leftovers of a killed writer
                    stale.unlink(missing_ok=True)
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write_spec(self, spec: dict[str, Any]) -> None:
        path = self.root / "spec.json"
        if not path.exists():
            atomic_write_json(path, {**spec, "created": time.time()})

    def read_spec(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.root / "spec.json").read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self.report(f"{self.root / 'spec.json'} is corrupt ({exc})")
            return None

    def write_round(self, result: RoundResult) -> None:
        atomic_write_bytes(self.round_path(result.round), _encode_round(result))

    def state_path(self, index: int) -> Path:
        return self.root / f"state_{index:04d}.npz"

    def features_path(self, index: int) -> Path:
        return self.root / f"features_{index:04d}.npz"

    def write_arrays(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        """A dict of plain arrays as an npz, atomically (no object arrays, so no pickle)."""
        import io

        buf = io.BytesIO()
        np.savez(buf, **{name: np.asarray(value) for name, value in arrays.items()})
        atomic_write_bytes(path, buf.getvalue())

    def read_arrays(self, path: Path) -> dict[str, np.ndarray] | None:
        """The arrays of `path`; None when absent, or unreadable (then noted in `problems`)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                return {name: z[name] for name in z.files}  # reading checks each member's CRC
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            self.report(f"cache file {path} is unreadable ({type(exc).__name__}: {exc})")
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

    def load_rounds(self, *, repair: bool = False) -> list[RoundResult]:
        """Completed rounds 0..r-1, stopping at the first missing or corrupt record.

        With `repair`, a corrupt record is moved aside to `*.corrupt` so it gets recomputed
        (only the process holding the lock repairs; readers only report).
        """
        out: list[RoundResult] = []
        for expected, index in enumerate(self.round_indices()):
            if index != expected:
                break
            path = self.round_path(index)
            try:
                record = _decode_round(path)
            except FileNotFoundError:
                break
            except CorruptRecord as exc:
                message = f"cache record {path} is corrupt ({exc}); it will be recomputed"
                self.report(message)
                if repair:
                    shutil.move(path, path.with_suffix(".npz.corrupt"))
                break
            if record.round != index:
                self.report(f"cache record {path} holds round {record.round}; recomputing")
                if repair:
                    shutil.move(path, path.with_suffix(".npz.corrupt"))
                break
            out.append(record)
        return out


class Cache:
    """The on-disk cache directory shared by the CLI, the dashboard and sweeps."""

    def __init__(self, root: str | os.PathLike[str] = "cache") -> None:
        self.root = Path(root)

    def run(self, key: str) -> RunStore:
        return RunStore(self.root / "runs" / key)

    def check_writable(self) -> None:
        """Fail before any work when the cache directory cannot be written."""
        check_writable_dir(self.root, "cache directory")
        (self.root / "runs").mkdir(exist_ok=True)

    def write_comparison(self, key: str, payload: dict[str, Any]) -> None:
        atomic_write_json(self.root / "comparisons" / f"{key}.json", payload)

    def read_comparison(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.root / "comparisons" / f"{key}.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def comparisons(self) -> list[dict[str, Any]]:
        """Every saved comparison, newest first (unreadable files are skipped)."""
        out = []
        for path in (self.root / "comparisons").glob("*.json"):
            try:
                item = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            item["key"] = path.stem
            out.append(item)
        return sorted(out, key=lambda c: c.get("updated", 0), reverse=True)

    def delete_comparison(self, key: str, *, runs: bool = True) -> None:
        """Remove a comparison and (by default) the runs no other comparison uses."""
        item = self.read_comparison(key)
        (self.root / "comparisons" / f"{key}.json").unlink(missing_ok=True)
        if not runs or item is None:
            return
        still_used = {r for c in self.comparisons() for r in c.get("runs", [])}
        for run_key in item.get("runs", []):
            if run_key not in still_used:
                shutil.rmtree(self.root / "runs" / run_key, ignore_errors=True)
