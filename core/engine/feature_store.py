"""The feature store: what a frozen extractor (a pretrained backbone) gives the rows of one image array.

Features are computed once per (data content, extractor) and reused by every run, strategy,
repeat, sweep point and the query map; only the rows a run asks for are extracted (a 2,000
image subset of a 60,000 image folder extracts the subset and the test split, not the
folder). Layout under `<cache>/features/<key>/`:

    manifest.json          what the key was made of, the row count, the feature width and dtype,
                           and once every row is there the sha256, shape and dtype of features.npy
    part_<sha256>.npy      a structured array (row: int64, features: float32[dim]) of some rows,
                           named by the sha256 of its bytes (it verifies itself), written to a
                           temporary file and renamed: whole or absent
    features.npy           all rows in row order, once every row is there (the parts are then removed)

A killed extraction keeps every finished part and resumes with the rows still missing. Every
file is checked before use (the part's name against its bytes; features.npy against the
manifest's checksum, shape and dtype, hashed once per process and file version); a damaged
file is moved aside as `*.corrupt`, reported in one warning, and its rows are computed
again. Nothing is pickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from core.engine.cache import cache_area

from core.files import NotRegularFile, atomic_write_bytes, atomic_write_json, open_regular
from core.stopping import Cancelled, interruptible

FEATURE_STORE_VERSION = 2
CHUNK_ROWS = 1024
FEATURE_DTYPE = np.dtype("<f4")
ESTIMATE_OVER_SECONDS = 30.0  # an extraction expected to take longer says so (and what is faster) up front
_MAX_LOADED = 4

Extract = Callable[[np.ndarray], np.ndarray]


class FeatureStoreWarning(UserWarning):
    """A damaged store file was moved aside; its rows are computed again."""


class ExtractorError(ValueError):
    """The extractor returned something that cannot be features (wrong shape, NaN or inf)."""


class _Damaged(Exception):
    """A store file that cannot be believed (the message says why)."""


def feature_key(fields: dict) -> str:
    """The store's directory name: a hash of everything the features depend on."""
    # core.engine.config.stable_hash's canonical JSON, written here: core.engine.config imports the learners, and
    # the pretrained learner imports this module (no import circle).
    canonical = json.dumps({**fields, "store_version": FEATURE_STORE_VERSION}, sort_keys=True, separators=(",", ":"),
                           default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def _part_dtype(dim: int) -> np.dtype:
    return np.dtype([("row", "<i8"), ("features", FEATURE_DTYPE, (dim,))])


_VERIFIED: dict[tuple, str] = {}  # (path, inode, size, mtime_ns) -> sha256: a file is hashed once per process


def _regular_bytes_sha256(path: Path) -> tuple[os.stat_result, str]:
    """(stat, sha256) of a plain file; _Damaged for anything else (a FIFO would block the read forever)."""
    try:
        f = open_regular(path, "rb")  # the cache's one regular-file open: a FIFO is refused, never waited on
    except NotRegularFile:
        raise _Damaged("not a regular file") from None
    with f:
        st = os.fstat(f.fileno())
        signature = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        if signature not in _VERIFIED:
            h = hashlib.sha256()
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
            _VERIFIED[signature] = h.hexdigest()
    return st, _VERIFIED[signature]


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class FeatureStore:
    """The features of `n_rows` images under one extractor described by `fields` (JSON-able).

    With `root` None nothing is written: rows are kept in this process only.
    """

    def __init__(self, root, fields: dict, n_rows: int, chunk_rows: int = CHUNK_ROWS) -> None:
        self.fields, self.n_rows = dict(fields), int(n_rows)
        self.key = feature_key({**self.fields, "n_rows": self.n_rows})
        self.directory = cache_area("features", root) / self.key if root is not None else None
        self.chunk_rows = max(1, int(chunk_rows))
        self.dim: int | None = None
        self._pos = np.full(self.n_rows, -1, dtype=np.int64)  # row -> its line in _data, -1 while not held
        self._data: np.ndarray | None = None
        self._blocks: list[np.ndarray] = []  # parts read or computed, joined into _data when rows are asked
        self._complete: np.ndarray | None = None  # the verified features.npy (memory-mapped)

    # -- reading ---------------------------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    @property
    def features_path(self) -> Path:
        return self.directory / "features.npy"

    def _report(self, path: Path, problem: str) -> None:
        message = f"feature store {path} is damaged ({problem}); it was moved aside and its rows are computed again"
        warnings.warn(message, FeatureStoreWarning, stacklevel=3)
        with contextlib.suppress(OSError):
            os.replace(path, path.with_name(path.name + ".corrupt"))

    def _read_manifest(self) -> dict | None:
        """The manifest when it describes this store; None when absent. Damaged: moved aside with everything
        whose meaning it carried (features.npy's checksum, the parts' width), then None."""
        try:
            try:
                with open_regular(self.manifest_path, "rb") as f:
                    data = f.read((1 << 20) + 1)
            except NotRegularFile:
                raise _Damaged("not a regular file") from None
            if len(data) > 1 << 20:
                raise _Damaged("larger than a manifest can be")
            manifest = json.loads(data)
            if not isinstance(manifest, dict):
                raise _Damaged("not a JSON object")
            if manifest.get("store_version") != FEATURE_STORE_VERSION or manifest.get("fields") != self.fields \
                    or manifest.get("n_rows") != self.n_rows:
                raise _Damaged("it describes another store")
            dim = manifest.get("dim")
            if dim is not None and (type(dim) is not int or not 0 < dim <= 1 << 20):
                raise _Damaged(f"feature width {dim!r}")
            if manifest.get("dtype") != FEATURE_DTYPE.str:
                raise _Damaged(f"dtype {manifest.get('dtype')!r}, not {FEATURE_DTYPE.str!r}")
            complete = manifest.get("complete")
            if complete is not None and not (isinstance(complete, dict) and isinstance(complete.get("sha256"), str)
                                             and complete.get("shape") == [self.n_rows, dim]):
                raise _Damaged(f"complete={complete!r}")
            return manifest
        except FileNotFoundError:
            return None
        except (_Damaged, OSError, ValueError) as exc:  # ValueError: JSON or UTF-8 decoding
            self._report(self.manifest_path, str(exc) or type(exc).__name__)
            for path in [self.features_path, *self.directory.glob("part_*.npy")]:
                with contextlib.suppress(OSError):
                    os.replace(path, path.with_name(path.name + ".corrupt"))
            return None

    def _verified_complete(self, manifest: dict) -> np.ndarray | None:
        """features.npy memory-mapped, once its bytes, shape and dtype match the manifest; None otherwise."""
        complete = manifest.get("complete")
        if complete is None:
            return None
        path = self.features_path
        try:
            _, digest = _regular_bytes_sha256(path)
            if digest != complete["sha256"]:
                raise _Damaged("its checksum does not match the manifest")
            features = np.load(path, mmap_mode="r", allow_pickle=False)
            if features.dtype != FEATURE_DTYPE or features.shape != (self.n_rows, manifest["dim"]):
                raise _Damaged(f"{features.dtype} {features.shape}, the manifest says {FEATURE_DTYPE} "
                               f"{(self.n_rows, manifest['dim'])}")
            return features
        except FileNotFoundError:
            problem = "features.npy is missing"
        except (_Damaged, OSError, ValueError) as exc:
            problem = str(exc) or type(exc).__name__
        self._report(path, problem)
        atomic_write_json(self.manifest_path, {**manifest, "complete": None})
        return None

    def _read_part(self, path: Path) -> np.ndarray | None:
        try:
            _, digest = _regular_bytes_sha256(path)
            if not path.stem.startswith("part_") or digest[:32] != path.stem[5:]:
                raise _Damaged("its bytes do not match its name")
            part = np.load(path, allow_pickle=False)
            shape = part.dtype.fields["features"][0].shape if part.dtype.names == ("row", "features") else ()
            if len(shape) != 1 or part.dtype != _part_dtype(shape[0]) or part.ndim != 1:
                raise _Damaged(f"dtype {part.dtype} shape {part.shape}, expected rows of float32 features")
            rows = part["row"]
            if len(rows) and (rows.min() < 0 or rows.max() >= self.n_rows):
                raise _Damaged("row numbers outside the store")
            return part
        except FileNotFoundError:
            return None  # assembled and removed by another process meanwhile
        except (_Damaged, OSError, ValueError) as exc:
            self._report(path, str(exc) or type(exc).__name__)
            return None

    def _take(self, rows: np.ndarray, features: np.ndarray) -> None:
        new = self._pos[rows] < 0
        rows, features = rows[new], features[new]
        if not len(rows):
            return
        first = (0 if self._data is None else len(self._data)) + sum(len(b) for b in self._blocks)
        self._pos[rows] = first + np.arange(len(rows))
        self._blocks.append(np.ascontiguousarray(features, dtype=FEATURE_DTYPE))

    def _held(self) -> np.ndarray:
        if self._complete is not None:
            return self._complete
        if self._blocks:
            parts = ([self._data] if self._data is not None else []) + self._blocks
            self._data, self._blocks = np.concatenate(parts), []
        return self._data

    def refresh(self) -> dict | None:
        """Read what the disk holds into this process (new parts only). Returns the manifest."""
        if self.directory is None:
            return None
        manifest = self._read_manifest()
        if manifest is None:
            return None
        self.dim = manifest.get("dim")
        if self._complete is None:
            self._complete = self._verified_complete(manifest)
            if self._complete is not None:
                self._pos, self._data, self._blocks = np.arange(self.n_rows), None, []
                return manifest
        if self.dim is not None and self._complete is None:
            parts = [p for p in map(self._read_part, sorted(self.directory.glob("part_*.npy"))) if p is not None]
            widths = sorted({p.dtype.fields["features"][0].shape[0] for p in parts})
            if widths and widths != [self.dim]:  # the parts verify themselves: the manifest is the liar
                self._report(self.manifest_path, f"feature width {self.dim}, its parts have {widths}")
                for part in parts[1:]:
                    if part.dtype != parts[0].dtype:  # never written so by one extractor: computed again
                        parts = []
                self.dim = widths[0] if parts else None
                self._write_manifest()
            for part in parts:
                if self.dim == part.dtype.fields["features"][0].shape[0]:
                    self._take(part["row"], part["features"])
        return manifest

    def load(self) -> np.ndarray | None:
        """Every row's features (memory-mapped, verified), or None while some are missing."""
        self.refresh()
        return self._complete

    def held_rows(self) -> int:
        return int((self._pos >= 0).sum())

    # -- computing -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):
        if self.directory is None:
            yield
            return
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW, 0o666)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(f"feature store lock {self.directory / '.lock'} is not a regular file")
            fcntl.flock(fd, fcntl.LOCK_EX)  # a second process computing the same rows waits, then finds them
            yield
        finally:
            os.close(fd)

    def rows(self, wanted, images: np.ndarray, extract: Extract, *, setup: Callable[[], object] | None = None,
             desc: str = "features", hint: str = "", first_chunk: int | None = None,
             chunks_on: "ChunkRunner | None" = None) -> np.ndarray:
        """float32 (len(wanted), d): the features of rows `wanted` of `images`, extracting only those not held.

        `setup()` runs once before the first extraction (building the backbone: its errors come
        before any progress bar). Extracted rows are kept a part (`chunk_rows`, the first one
        `first_chunk` rows, so the time estimate comes early) at a time. `chunks_on` runs the chunks
        elsewhere (`RayChunks`: tasks on a cluster); this process writes each part as it comes back.
        """
        wanted = np.asarray(wanted, dtype=np.int64)
        if len(wanted) and (self._pos[wanted] < 0).any():
            with self._locked():
                self.refresh()
                missing = np.unique(wanted[self._pos[wanted] < 0])
                if len(missing):
                    self._extract(missing, images, extract, setup=setup, desc=desc, hint=hint,
                                  first_chunk=first_chunk, chunks_on=chunks_on)
                    self._assemble_if_complete()
        held = self._held()
        if held is None:
            return np.zeros((len(wanted), self.dim or 0), dtype=FEATURE_DTYPE)
        if self._complete is not None and len(wanted) == self.n_rows and (wanted == np.arange(self.n_rows)).all():
            return held  # the whole store: the memory map itself
        return held[self._pos[wanted]]

    def compute(self, images: np.ndarray, extract: Extract, *, desc: str = "features", setup=None,
                hint: str = "", chunks_on: "ChunkRunner | None" = None) -> np.ndarray:
        """Every row's features (see `rows`)."""
        return self.rows(np.arange(self.n_rows), images, extract, setup=setup, desc=desc, hint=hint,
                         chunks_on=chunks_on)

    def _write_manifest(self, complete: dict | None = None) -> None:
        atomic_write_json(self.manifest_path, {"store_version": FEATURE_STORE_VERSION, "fields": self.fields,
                                               "n_rows": self.n_rows, "dim": self.dim, "dtype": FEATURE_DTYPE.str,
                                               "complete": complete})

    def _extract(self, missing: np.ndarray, images, extract: Extract, *, setup, desc, hint, first_chunk,
                 chunks_on: "ChunkRunner | None" = None) -> None:
        from tqdm import tqdm

        size = max(1, min(first_chunk or self.chunk_rows, self.chunk_rows))
        bounds = [0, *range(size, len(missing), self.chunk_rows), len(missing)]
        chunks = [missing[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
        if chunks_on is None:
            if setup is not None:
                setup()
            results = ((rows, extract(np.asarray(images[rows]))) for rows in chunks)
        else:  # the extractor builds its backbone where it runs
            results = chunks_on(chunks, images, extract)
        started, done, first = time.perf_counter(), 0, True
        with tqdm(total=len(missing), desc=desc, unit="img", file=sys.stderr, mininterval=1.0) as bar:
            while True:
                try:
                    with interruptible():
                        rows, features = next(results)
                except StopIteration:
                    break
                except Cancelled as exc:
                    kept = f"{self.held_rows()} of {self.n_rows} images' features kept" + (
                        f" in {self.directory}" if self.directory is not None else " (in this process only)")
                    raise Cancelled(f"{exc} during {desc} extraction ({done} of {len(missing)} images done); "
                                    f"{kept}") from None
                features = np.ascontiguousarray(features, dtype=FEATURE_DTYPE)
                if self.held_rows() == 0 and features.ndim == 2:
                    self.dim = None  # nothing held: the extractor's width is the store's (a manifest may say otherwise)
                if features.ndim != 2 or features.shape[0] != len(rows) or (self.dim not in (None, features.shape[1])):
                    raise ExtractorError(f"the feature extractor ({desc}) returned shape {features.shape} for "
                                         f"{len(rows)} images" + (f" of width {self.dim}" if self.dim else ""))
                if not np.isfinite(features).all():
                    raise ExtractorError(f"the feature extractor ({desc}) gave NaN or infinite features for "
                                         f"{int((~np.isfinite(features)).any(axis=1).sum())} of {len(rows)} images "
                                         "(check its weights)")
                self._keep(rows, features)
                done += len(rows)
                bar.update(len(rows))
                left = len(missing) - done
                if first and left:
                    rate = done / max(time.perf_counter() - started, 1e-9)
                    if left / rate > ESTIMATE_OVER_SECONDS:
                        print(f"feature store: extracting {len(missing):,} images with {desc} takes about "
                              f"{_duration(len(missing) / rate)} at {rate:.1f} images/s"
                              + (f"; faster: {hint}" if hint else ""), file=sys.stderr)
                first = False

    def _keep(self, rows: np.ndarray, features: np.ndarray) -> None:
        if self.directory is not None:
            if self.dim is None:
                self.dim = int(features.shape[1])
                self._write_manifest()
            part = np.empty(len(rows), dtype=_part_dtype(self.dim))
            part["row"], part["features"] = rows, features
            data = _npy_bytes(part)
            atomic_write_bytes(self.directory / f"part_{hashlib.sha256(data).hexdigest()[:32]}.npy", data)
        self.dim = int(features.shape[1])
        self._take(rows, features)

    def _assemble_if_complete(self) -> None:
        """Once every row is held, write features.npy (row order), its checksum in the manifest, and drop the parts."""
        if self.directory is None or self._complete is not None or self.held_rows() < self.n_rows:
            return
        held = self._held()
        header = io.BytesIO()  # np.save's bytes, built in place: one buffer besides the rows held, no reordered copy
        np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(FEATURE_DTYPE),
                                                      "fortran_order": False, "shape": (self.n_rows, self.dim)})
        start = len(header.getvalue())
        payload = bytearray(start + self.n_rows * self.dim * FEATURE_DTYPE.itemsize)
        payload[:start] = header.getvalue()
        rows = np.frombuffer(payload, dtype=FEATURE_DTYPE, offset=start).reshape(self.n_rows, self.dim)
        np.take(held, self._pos, axis=0, out=rows)
        del rows
        digest = hashlib.sha256(payload).hexdigest()
        atomic_write_bytes(self.features_path, memoryview(payload))
        st = os.stat(self.features_path)  # hashed as written: this process need not read it back to verify it
        _VERIFIED[(str(self.features_path), st.st_ino, st.st_size, st.st_mtime_ns)] = digest
        self._write_manifest({"sha256": digest, "shape": [self.n_rows, self.dim], "dtype": FEATURE_DTYPE.str})
        for path in self.directory.glob("part_*.npy"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self.refresh()


ChunkRunner = Callable[[list, np.ndarray, Extract], "Iterator[tuple[np.ndarray, np.ndarray]]"]


def _extract_chunk(extract: Extract, images: np.ndarray) -> np.ndarray:
    """What one Ray task runs: the extractor on one chunk of images (its backbone is built in the worker)."""
    return np.ascontiguousarray(extract(images), dtype=FEATURE_DTYPE)


class RayChunks:
    """Run a store's chunks as independent Ray tasks (the sweep's Ray cluster: `address` 'auto' or ray://HOST:PORT).

    Each task gets its chunk's images and returns the features to this process, which writes
    the part: the nodes need no shared filesystem, and every part is kept as soon as it comes
    back, so a rerun after the driver dies extracts only what is missing. A task whose worker
    dies is run again by Ray (`max_retries`). Tasks ask for a GPU when the cluster has one.
    """

    def __init__(self, address: str | None = "auto", *, max_retries: int = 3, gpu: bool | None = None) -> None:
        self.address, self.max_retries, self.gpu = address, max_retries, gpu

    def __call__(self, chunks: list, images: np.ndarray, extract: Extract):
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        gpu = self.gpu if self.gpu is not None else ray.cluster_resources().get("GPU", 0) >= 1
        task = ray.remote(_extract_chunk).options(num_gpus=1 if gpu else 0, max_retries=self.max_retries)
        function = ray.put(extract)
        pending = {task.remote(function, np.ascontiguousarray(images[rows])): rows for rows in chunks}
        try:
            while pending:
                (ready,), _ = ray.wait(list(pending), num_returns=1)
                rows = pending.pop(ready)
                yield rows, ray.get(ready)
        finally:  # stopped (Cancel, an error): the rest of the cluster's work is not wanted
            for ref in pending:
                ray.cancel(ref, force=True)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


_STORES: dict[tuple[str | None, str], FeatureStore] = {}  # (root, key): a comparison's runs share one


def open_store(root, fields: dict, n_rows: int, chunk_rows: int = CHUNK_ROWS) -> FeatureStore:
    """The store of (root, fields, n_rows), one object per process (what it holds is read from disk once)."""
    store = FeatureStore(root, fields, n_rows, chunk_rows)
    memo = (None if root is None else str(Path(root).resolve()), store.key)
    if memo not in _STORES:
        while len(_STORES) >= _MAX_LOADED:
            _STORES.pop(next(iter(_STORES)))
        _STORES[memo] = store
    return _STORES[memo]


def stored_features(images: np.ndarray, fields: dict, extract: Extract, *, root=None, desc: str = "features",
                    chunk_rows: int = CHUNK_ROWS, setup=None, rows=None, hint: str = "",
                    first_chunk: int | None = None, chunks_on: ChunkRunner | None = None) -> np.ndarray:
    """float32 (len(rows), d): the features `extract` gives `images[rows]` (every row by default), computed at most once.

    `fields` must name everything the features depend on (the images' content, the extractor
    and its weights, the preprocessing). With `root` (a cache directory) they are kept in the
    feature store under it; without one, only in this process. Reports a store hit, or the
    extraction and its time, on stderr.
    """
    store = open_store(root, fields, len(images), chunk_rows)
    wanted = np.arange(len(images)) if rows is None else np.asarray(rows, dtype=np.int64)
    before, t0 = store.held_rows(), time.perf_counter()
    if before == 0 and root is not None:
        store.refresh()
        if store.held_rows():
            print(f"feature store hit: {desc} for {store.held_rows()} of {len(images)} images loaded from "
                  f"{store.directory} in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
        before = store.held_rows()
    out = store.rows(wanted, images, extract, setup=setup, desc=desc, hint=hint, first_chunk=first_chunk,
                     chunks_on=chunks_on)
    computed = store.held_rows() - before
    if computed:
        where = f"kept in {store.directory}" if root is not None else "kept in this process"
        print(f"feature store: computed {desc} for {computed} images in {time.perf_counter() - t0:.1f} s, {where}",
              file=sys.stderr)
    return out


def forget_loaded_features() -> None:
    """Drop this process's stores and checksums (tests that count extractions start as a new process)."""
    _STORES.clear()
    _VERIFIED.clear()


_DIGEST_WEIGHTS: dict[int, np.ndarray] = {}


def row_digests(images: np.ndarray) -> np.ndarray:
    """uint64 (n, 2): a content hash of each image (row), identical rows giving identical digests.

    Two fixed random odd multipliers per 8-byte word, summed modulo 2**64 (a matrix product:
    about 30 ms for 50k 32x32x3 images). It indexes rows in memory and is never stored.
    """
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    pad = -flat.shape[1] % 8
    if pad:
        flat = np.concatenate([flat, np.zeros((len(flat), pad), np.uint8)], axis=1)
    words = flat.view(np.uint64)
    d = words.shape[1]
    if d not in _DIGEST_WEIGHTS:
        _DIGEST_WEIGHTS[d] = np.random.default_rng(20261123).integers(1, 2**63, (2, d), dtype=np.uint64) | np.uint64(1)
    return words @ _DIGEST_WEIGHTS[d].T


class RowIndex:
    """Finds rows of an image array by content: `lookup(X)` gives each row of X its index there, or -1."""

    def __init__(self, images: np.ndarray) -> None:
        digests = row_digests(images)
        self._order = np.lexsort((digests[:, 1], digests[:, 0]))
        self._first, self._second = digests[self._order, 0], digests[self._order, 1]

    def lookup(self, X: np.ndarray) -> np.ndarray:
        digests = row_digests(X)
        result = np.full(len(X), -1, dtype=np.int64)
        pos = np.searchsorted(self._first, digests[:, 0])
        pending = np.arange(len(X))
        while pending.size:  # rows sharing a first half are adjacent after sorting: step through them
            p = pos[pending]
            inside = p < len(self._first)
            pending, p = pending[inside], p[inside]
            same = self._first[p] == digests[pending, 0]
            pending, p = pending[same], p[same]
            match = self._second[p] == digests[pending, 1]
            result[pending[match]] = self._order[p[match]]
            pending = pending[~match]
            pos[pending] += 1
        return result
