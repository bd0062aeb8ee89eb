"""2-D maps of a feature space: UMAP (fast settings), PCA as the instant first view.

A projection is keyed by (dataset fingerprint, feature space, method) and cached on disk as
``<cache>/projections/<fingerprint>-<space>-<method>.npz`` (float32 coordinates, no pickle),
so every page, tab and process computes it once. Any (n, d) float array can be projected
under a caller-chosen feature-space name; raw pixels (``"pixels"``) are the default space.

UMAP's first fit in a process pays numba compilation (ENVIRONMENT.md), which would freeze
a Streamlit server, so the dashboard runs it in a separate process::

    python -m core.analysis.projection --dataset digits --cache-dir cache
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from core.engine.cache import cache_area

from core.files import CorruptRecord, atomic_write_bytes, load_npz
from core.types import Dataset, flat_features

METHODS = ("pca", "umap")
PIXELS = "pixels"
_SPACE_NAME = re.compile(r"^[A-Za-z0-9_.]+$")
_UMAP_INPUT_DIMS = 50  # UMAP on a 50-d PCA of wide inputs: same neighbourhoods, far faster kNN


def pca_2d(features: np.ndarray) -> np.ndarray:
    """First two principal components, float32 (n, 2); deterministic (full SVD solver)."""
    from sklearn.decomposition import PCA

    X = np.asarray(features, dtype=np.float32)
    if X.shape[1] < 2:
        return np.column_stack([X[:, 0] if X.shape[1] else np.zeros(len(X)), np.zeros(len(X))]).astype(np.float32)
    return PCA(n_components=2, svd_solver="full").fit_transform(X).astype(np.float32)


def umap_2d(features: np.ndarray, *, n_neighbors: int = 15, n_epochs: int = 120) -> np.ndarray:
    """UMAP with the fast settings measured in ENVIRONMENT.md, float32 (n, 2).

    The k nearest neighbours come from scikit-learn rather than pynndescent: same graph
    for map-sized inputs, and it skips pynndescent's numba compilation, which cost over a
    minute in every fresh process (its on-disk numba cache did not help). `init="pca"` and
    few epochs keep the layout fast; no `random_state`, because setting one makes UMAP
    single-threaded (2x slower).
    """
    import warnings

    import umap  # imported here: only callers that need UMAP pay for numba
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(features, dtype=np.float32)
    if X.shape[1] > _UMAP_INPUT_DIMS and len(X) > _UMAP_INPUT_DIMS:
        X = PCA(n_components=_UMAP_INPUT_DIMS, svd_solver="randomized", random_state=0).fit_transform(X)
    k = max(2, min(n_neighbors, len(X) - 1))
    distances, indices = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)  # self first, as UMAP expects
    reducer = umap.UMAP(n_components=2, n_neighbors=k, init="pca", n_epochs=n_epochs,
                        precomputed_knn=(indices, distances.astype(np.float32), None))
    with warnings.catch_warnings():  # "n_jobs overridden" / precomputed-kNN notices: expected here
        warnings.simplefilter("ignore", UserWarning)
        return reducer.fit_transform(X).astype(np.float32)


def pixel_features(dataset: Dataset) -> np.ndarray:
    """The default feature space: flat pixels in the learners' units, float32 (n, height*width*channels)."""
    return flat_features(dataset.images, dataset.feature_scale)


def check_space(space: str) -> str:
    if not isinstance(space, str) or not _SPACE_NAME.match(space):
        raise ValueError(f"feature space name must be letters, digits, '_' or '.'; got {space!r}")
    return space


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown projection method {method!r}; choose one of {list(METHODS)}")
    return method


class ProjectionStore:
    """On-disk projections under `<cache>/projections/`; atomic writes, npz without pickle."""

    def __init__(self, cache_root: str | Path) -> None:
        self.root = cache_area("projections", cache_root)

    def path(self, fingerprint: str, space: str, method: str) -> Path:
        return self.root / f"{fingerprint}-{check_space(space)}-{check_method(method)}.npz"

    def load(self, fingerprint: str, space: str, method: str) -> np.ndarray | None:
        """The stored coordinates, or None when absent or unreadable (then it is recomputed)."""
        try:
            return load_npz(self.path(fingerprint, space, method))["coords"]
        except FileNotFoundError:
            return None
        except (CorruptRecord, KeyError):
            return None

    def save(self, fingerprint: str, space: str, method: str, coords: np.ndarray, seconds: float) -> None:
        buf = io.BytesIO()
        np.savez(buf, coords=np.asarray(coords, dtype=np.float32), seconds=np.float64(seconds))
        atomic_write_bytes(self.path(fingerprint, space, method), buf.getvalue())


def project(features: np.ndarray, *, fingerprint: str, space: str = PIXELS, method: str = "umap",
            cache_root: str | Path | None = None) -> np.ndarray:
    """Coordinates (n, 2) of `features` under `method`, read from or written to the cache."""
    check_space(space)
    check_method(method)
    store = ProjectionStore(cache_root) if cache_root is not None else None
    if store is not None:
        cached = store.load(fingerprint, space, method)
        if cached is not None and len(cached) == len(features):
            return cached
    t0 = time.perf_counter()
    coords = pca_2d(features) if method == "pca" else umap_2d(features)
    if store is not None:
        store.save(fingerprint, space, method, coords, time.perf_counter() - t0)
    return coords


def background_command(dataset: str, dataset_options: dict, cache_root: str | Path, *,
                       space: str = PIXELS, features_file: str | Path | None = None) -> list[str]:
    """argv that computes a UMAP in its own process (pixels of `dataset`, or a saved .npy)."""
    argv = [sys.executable, "-m", "core.analysis.projection", "--dataset", dataset, "--cache-dir", str(cache_root),
            "--space", check_space(space)]
    for name, value in sorted(dataset_options.items()):
        argv += [f"--{name.replace('_', '-')}", str(value)]
    if features_file is not None:
        argv += ["--features", str(features_file)]
    return argv


def load_features(path: str | Path) -> np.ndarray:
    """A feature array from .npy, or the 'features' member of an .npz (no pickle either way)."""
    with open(path, "rb") as f:
        loaded = np.load(f, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            if "features" not in loaded.files:
                raise ValueError(f"--features {path}: an .npz needs a 'features' array; it has {loaded.files}")
            return loaded["features"]
        return loaded


def main(argv: Sequence[str] | None = None) -> int:
    from core.datasets import load_dataset

    p = argparse.ArgumentParser(prog="python -m core.analysis.projection", description="Compute and cache a 2-D UMAP map.")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--data-dir")
    p.add_argument("--image-size", type=int)
    p.add_argument("--cache-dir", help="the cache directory (default: $ALBENCH_CACHE_DIR, else the checkout's cache/)")
    p.add_argument("--space", default=PIXELS, help="feature-space name (default: pixels)")
    p.add_argument("--features", help=".npy float array (n, d), or .npz with a 'features' array (the cached "
                                      "learner features of core.engine.features), to project instead of the pixels")
    p.add_argument("--method", default="umap", choices=METHODS)
    args = p.parse_args(argv)
    dataset = load_dataset(args.dataset, data_dir=args.data_dir, image_size=args.image_size)
    features = load_features(args.features) if args.features else pixel_features(dataset)
    t0 = time.perf_counter()
    from core.engine.cache import cache_dir

    project(features, fingerprint=dataset.fingerprint, space=args.space, method=args.method,
            cache_root=cache_dir(args.cache_dir))
    print(f"{args.method} map of {len(features)} points ({args.space}) in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
