"""Features: a learner's per round (for the query map), and a frozen backbone's per dataset (the feature store).

A run whose learner keeps state (`get_state`, e.g. the CNN) stores it after every round
(`runs/<key>/state_<round>.npz`). `round_features` rebuilds that round's learner from the
run's spec, embeds every image of the dataset (dataset order, like the pixel space of
`core.projection`) and caches the result next to the round, so the map's second view is
instant. Project it with `core.projection` under `feature_space(run_key, round)`.

`stored_features` keeps what a frozen extractor (the `pretrained` learner's backbone) gives a
whole dataset, once per (data content, backbone, weights, input size, preprocessing), in
`<cache>/features/<key>/`; `RowIndex` finds the rows of any image array in it by content.
"""

from __future__ import annotations

import contextlib
import logging
import sys

import numpy as np

from core.cache import Cache
from core.datasets import load_dataset
from core.learners import make_learner
from core.types import Dataset

log = logging.getLogger(__name__)


class NoStoredState(LookupError):
    """The run has no stored learner state for that round (the learner keeps none, or it was not run)."""


def feature_space(run_key: str, round_index: int) -> str:
    """The feature-space name for projections: letters, digits, '_' and '.' only."""
    return f"learner.{run_key}.r{int(round_index)}"


def rounds_with_state(cache: Cache, run_key: str) -> list[int]:
    """Rounds of `run_key` whose learner state is stored (the rounds a feature map can show)."""
    root = cache.run(run_key).root
    if not root.is_dir():
        return []
    return sorted(int(p.stem.split("_")[1]) for p in root.glob("state_*.npz"))


def round_features(cache: Cache, run_key: str, round_index: int, dataset: Dataset | None = None) -> np.ndarray:
    """float32 (n_dataset, d): the learner of round `round_index` embedding every dataset image.

    Raises NoStoredState when the round's learner state is not in the cache, and ValueError
    when `dataset` (or the one the spec names) is not the data the run was computed on.
    """
    store = cache.run(run_key)
    path = store.features_path(round_index)
    cached = store.read_arrays(path)
    if cached is not None and "features" in cached:
        return cached["features"]
    spec = store.read_spec()
    state = store.read_state(round_index)
    if spec is None or state is None:
        raise NoStoredState(f"run {run_key} has no stored learner state for round {round_index}; "
                            f"rounds with state: {rounds_with_state(cache, run_key)}")
    if dataset is None:
        dataset = load_dataset(spec["dataset"], **spec.get("dataset_options", {}))
    if dataset.fingerprint != spec["dataset_fingerprint"]:
        raise ValueError(f"run {run_key} was computed on dataset {spec['dataset_fingerprint']}, "
                         f"not on the given {dataset.name!r} ({dataset.fingerprint})")
    learner = make_learner(spec["learner"], dataset.info, seed=spec["seed"], **spec["learner_params"])
    learner.attach(dataset, cache.root)
    learner.set_state(state)
    features = np.asarray(learner.embed(dataset.images), dtype=np.float32)
    store.write_arrays(path, {"features": features})
    return features


# -- the feature store ---------------------------------------------------------------------------------
#
# Features of a whole image array under one frozen extractor (a pretrained backbone), computed
# once per (data content, extractor) and reused by every run, strategy, repeat, sweep point and
# the query map. Layout under `<cache>/features/<key>/`:
#   manifest.json        what the key was made of, the row count and the chunk size (JSON)
#   chunk_00000.npy ...  float32 rows [i * chunk_rows, (i + 1) * chunk_rows), each written to a
#                        temporary file and renamed: a chunk is there whole or not at all
#   features.npy         all rows, once every chunk is there (the chunks are then removed)
# A killed extraction resumes at the first missing chunk. Nothing is pickled.

FEATURE_STORE_VERSION = 1
CHUNK_ROWS = 1024
_LOADED: dict[tuple[str | None, str], np.ndarray] = {}  # (root, key) -> features: a comparison's runs load once
_MAX_LOADED = 4


def feature_key(fields: dict) -> str:
    """The store's directory name: a hash of everything the features depend on."""
    from core.config import stable_hash

    return stable_hash({**fields, "store_version": FEATURE_STORE_VERSION}, 24)


class FeatureStore:
    """The features of `n_rows` images under one extractor, described by `fields` (JSON-able)."""

    def __init__(self, root, fields: dict, n_rows: int, chunk_rows: int = CHUNK_ROWS) -> None:
        from core.cache import cache_area

        self.fields, self.n_rows = dict(fields), int(n_rows)
        self.key = feature_key({**self.fields, "n_rows": self.n_rows})
        self.directory = cache_area("features", root) / self.key
        self.chunk_rows = int(chunk_rows)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_rows // self.chunk_rows)

    def chunk_path(self, index: int):
        return self.directory / f"chunk_{index:05d}.npy"

    def load(self) -> np.ndarray | None:
        """The finished features as a read-only memory map, or None when the store is not complete."""
        path = self.directory / "features.npy"
        try:
            features = np.load(path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # a truncated or foreign file: computed again
            log.warning("feature store %s is unreadable (%s); computing it again", path, exc)
            return None
        return features if features.ndim == 2 and len(features) == self.n_rows else None

    def _read_chunk(self, index: int) -> np.ndarray | None:
        expected = min(self.chunk_rows, self.n_rows - index * self.chunk_rows)
        try:
            chunk = np.load(self.chunk_path(index), allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None
        return chunk if chunk.ndim == 2 and len(chunk) == expected else None

    def missing_chunks(self) -> list[int]:
        return [i for i in range(self.n_chunks) if self._read_chunk(i) is None]

    def _start(self) -> None:
        """Write the manifest; an existing one fixes the chunk size (a resumed extraction continues its chunks)."""
        import json

        from core.cache import atomic_write_json

        manifest = self.directory / "manifest.json"
        try:
            previous = json.loads(manifest.read_text())
            self.chunk_rows = int(previous["chunk_rows"])
            return
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            pass
        atomic_write_json(manifest, {"fields": self.fields, "n_rows": self.n_rows, "chunk_rows": self.chunk_rows,
                                     "complete": False})

    def compute(self, images: np.ndarray, extract, *, desc: str = "features", setup=None) -> np.ndarray:
        """Compute the missing chunks with `extract(uint8 images) -> float32 (n, d)`, then assemble features.npy.

        `setup()`, when given, runs once before the first missing chunk (building the backbone, loading
        its weights: an error there comes before any progress bar).

        Holds an exclusive lock on the store meanwhile: a second process computing the same
        features waits and then finds them done.
        """
        import fcntl

        from core.cache import save_npy_atomic

        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                done = self.load()
                if done is not None:
                    return done
                self._start()
                missing = self.missing_chunks()
                if missing and setup is not None:
                    setup()
                rows = sum(min(self.chunk_rows, self.n_rows - i * self.chunk_rows) for i in missing)
                with _progress(rows, desc) as bar:
                    for index in missing:
                        part = images[index * self.chunk_rows:(index + 1) * self.chunk_rows]
                        features = np.ascontiguousarray(extract(np.asarray(part)), dtype=np.float32)
                        if features.shape[0] != len(part) or features.ndim != 2:
                            raise ValueError(f"feature extractor returned {features.shape} for {len(part)} images")
                        save_npy_atomic(self.chunk_path(index), features)
                        bar.update(len(part))
                self._assemble()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return self.load()

    def _assemble(self) -> None:
        import json

        from core.cache import atomic_output, atomic_write_json

        chunks = [self._read_chunk(i) for i in range(self.n_chunks)]
        if any(c is None for c in chunks):
            raise RuntimeError(f"feature store {self.directory}: chunks went missing while assembling")
        dim = chunks[0].shape[1]
        with atomic_output(self.directory / "features.npy", suffix=".npy") as tmp:  # the umask's mode, not 0600
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(self.n_rows, dim))
            for i, chunk in enumerate(chunks):
                out[i * self.chunk_rows:i * self.chunk_rows + len(chunk)] = chunk
            out.flush()
            del out
        manifest = json.loads((self.directory / "manifest.json").read_text())
        atomic_write_json(self.directory / "manifest.json", {**manifest, "complete": True, "dim": int(dim)})
        for i in range(self.n_chunks):
            with contextlib.suppress(FileNotFoundError):
                self.chunk_path(i).unlink()


@contextlib.contextmanager
def _progress(total: int, desc: str):
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit="img", file=sys.stderr, mininterval=1.0, disable=total == 0) as bar:
        yield bar


def stored_features(images: np.ndarray, fields: dict, extract, *, root=None, desc: str = "features",
                    chunk_rows: int = CHUNK_ROWS, setup=None) -> np.ndarray:
    """float32 (len(images), d): the features `extract` gives `images`, computed at most once.

    `fields` must name everything the features depend on (the images' content, the
    extractor and its weights, the preprocessing). With `root` (a cache directory) they are
    kept in the feature store under it; without one, only in this process. Reports a store
    hit, or the extraction and its time, on stderr.
    """
    import time

    store = FeatureStore(root if root is not None else ".", fields, len(images), chunk_rows)
    memo = (None if root is None else str(root), store.key)
    if memo in _LOADED:
        return _LOADED[memo]
    t0 = time.perf_counter()
    features = store.load() if root is not None else None
    if features is not None:
        print(f"feature store hit: {desc} for {len(images)} images loaded from {store.directory} "
              f"in {time.perf_counter() - t0:.2f} s (no backbone time)", file=sys.stderr)
    elif root is not None:
        features = store.compute(images, extract, desc=desc, setup=setup)
        print(f"feature store: computed {desc} for {len(images)} images in {time.perf_counter() - t0:.1f} s, "
              f"kept in {store.directory}", file=sys.stderr)
    else:
        if setup is not None and len(images):
            setup()
        features = np.concatenate([np.asarray(extract(images[i:i + chunk_rows]), dtype=np.float32)
                                   for i in range(0, len(images), chunk_rows)]) if len(images) else np.zeros((0, 0), np.float32)
    while len(_LOADED) >= _MAX_LOADED:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[memo] = features
    return features


def forget_loaded_features() -> None:
    """Drop this process's loaded features (tests that count extractions start clean)."""
    _LOADED.clear()


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



def frozen_space(learner: str, learner_params: dict) -> str:
    """The feature-space name of a frozen learner's features (for projections): one per extractor."""
    from core.config import stable_hash
    from core.learners import LEARNERS, check_learner_params

    identity = {"learner": learner, "params": check_learner_params(learner, learner_params),
                "extra": LEARNERS[learner].cache_identity(learner_params)}
    return f"frozen.{learner}.{stable_hash(identity)}"


def frozen_features(cache: Cache, dataset: Dataset, learner: str, learner_params: dict):
    """(features of every dataset image, the .npy file holding them or None) for a learner whose
    embedding is the same every round (`frozen_features`: the pretrained backbone), via its feature store."""
    model = make_learner(learner, dataset.info, **learner_params)
    model.attach(dataset, cache.root)
    return np.asarray(model.embed(dataset.images), dtype=np.float32), getattr(model, "features_file_", None)
