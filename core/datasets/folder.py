"""Any image folder laid out root/<class>/<image> (the Fruits-360 layout), cached as arrays.

When root/Training and root/Test both exist they are the pool and the test split;
otherwise the runner makes a stratified split. Images are decoded with Pillow, resized to
`image_size` x `image_size` (default 32) and kept as uint8: grayscale when every image is
grayscale, RGB otherwise. The decoded arrays are cached in an npz keyed by the file list
(paths, sizes, modification times) and the size, so the second load only lists the folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.datasets.base import DATASETS
from core.datasets.download import DatasetError, MissingDataError
from core.datasets.images import check_image_size, resize_image
from core.types import Dataset

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
DEFAULT_IMAGE_SIZE = 32
SPLIT_DIRS = ("Training", "Test")  # the Fruits-360 layout
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
_CACHE_VERSION = 1  # bump when decoding changes, so old cached arrays are not reused
_PROGRESS_FROM = 2000  # show a progress bar for folders at least this large


@dataclass(frozen=True)
class Listing:
    files: list[tuple[str, int, bool]]  # (path relative to root, class index, is_test)
    class_names: tuple[str, ...]
    ignored: list[str]  # files without an image extension
    stamp: list[tuple[int, int]]  # (size, mtime_ns) per file: part of the cache key


def dataset_cache_dir() -> Path:
    """Where decoded folders are cached: $ALBENCH_DATASET_CACHE, default cache/datasets."""
    return Path(os.environ.get("ALBENCH_DATASET_CACHE", os.path.join("cache", "datasets"))).expanduser()


def list_folder(root: Path) -> Listing:
    """Class folders and their image files, in a stable (sorted) order. Raises DatasetError."""
    if not root.is_dir():
        raise MissingDataError(f"folder: {root} is not a directory; pass --data-dir PATH with one sub-folder per class "
                               "(PATH/<class>/<image>), or PATH/Training/<class>/... and PATH/Test/<class>/...")
    split_dirs = [root / d for d in SPLIT_DIRS]
    parts = [(d, d.name == "Test") for d in split_dirs] if all(d.is_dir() for d in split_dirs) else [(root, False)]
    class_dirs = {part: sorted(e.name for e in os.scandir(part) if e.is_dir() and not e.name.startswith("."))
                  for part, _ in parts}
    names = tuple(sorted(set().union(*class_dirs.values())))
    if not names:
        raise DatasetError(f"folder: no class sub-folders in {root}; expected {root}/<class>/<image files>")
    index = {name: i for i, name in enumerate(names)}
    files, ignored, stamp = [], [], []
    for part, is_test in parts:
        for name in class_dirs[part]:
            for entry in sorted(os.scandir(part / name), key=lambda e: e.name):
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                rel = os.path.relpath(entry.path, root)
                if not entry.name.lower().endswith(IMAGE_EXTENSIONS):
                    ignored.append(rel)
                    continue
                st = entry.stat()
                files.append((rel, index[name], is_test))
                stamp.append((st.st_size, st.st_mtime_ns))
    return Listing(files, names, ignored, stamp)


def _decode(path: Path, size: int) -> tuple[np.ndarray, bool] | None:
    """(RGB uint8 (size, size, 3), was grayscale), or None when Pillow cannot read the file."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when much larger
            gray = image.mode in _GRAY_MODES
            rgb = resize_image(image.convert("RGB"), size)
            return np.asarray(rgb, dtype=np.uint8), gray
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        log.debug("skipping %s: %s", path, exc)
        return None


def _progress(iterable, total: int):
    if total < _PROGRESS_FROM:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc="reading images", unit="img", file=sys.stderr, mininterval=1.0)


def decode_folder(root: Path, listing: Listing, size: int) -> dict[str, np.ndarray]:
    paths = [root / rel for rel, _, _ in listing.files]
    images = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    all_gray = True
    # Pillow releases the GIL while decoding and resizing, so threads use every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for i, decoded in enumerate(_progress(pool.map(lambda p: _decode(p, size), paths), len(paths))):
            if decoded is not None:
                images[i], gray = decoded
                all_gray &= gray
                ok[i] = True
    labels = np.array([c for _, c, _ in listing.files], dtype=np.int64)
    is_test = np.array([t for _, _, t in listing.files], dtype=bool)
    images = images[ok][..., :1] if all_gray else images[ok]
    skipped = [rel for (rel, _, _), good in zip(listing.files, ok) if not good]
    return {"images": np.ascontiguousarray(images), "labels": labels[ok], "is_test": is_test[ok],
            "skipped": np.array(skipped, dtype=str)}


def _cache_key(root: Path, listing: Listing, size: int) -> str:
    payload = json.dumps([_CACHE_VERSION, str(root.resolve()), size, listing.files, listing.stamp, listing.class_names])
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _read_cached(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in ("images", "labels", "is_test", "skipped")}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("decoded-folder cache %s is unreadable (%s); decoding again", path, exc)
        return None


def _write_cached(path: Path, arrays: dict[str, np.ndarray]) -> None:
    from core.cache import atomic_write_bytes
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)  # uncompressed: loading 150 MB back is a memory copy, not a decompression
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as exc:  # a read-only working directory only costs the next load its speed
        log.warning("could not cache the decoded folder at %s (%s)", path, exc)


@DATASETS.register("folder")
def folder(data_dir: str | None = None, image_size: int | None = None) -> Dataset:
    """Images from root/<class>/<image> (png, jpg, jpeg, bmp, gif), resized to image_size (default 32)."""
    if data_dir is None:
        raise MissingDataError("folder: pass --data-dir PATH, a directory with one sub-folder of images per class")
    check_image_size(image_size)
    size = image_size or DEFAULT_IMAGE_SIZE
    root = Path(data_dir).expanduser()
    listing = list_folder(root)
    if not listing.files:
        raise DatasetError(f"folder: no image files ({', '.join(IMAGE_EXTENSIONS)}) in the class folders of {root}")
    cache_path = dataset_cache_dir() / f"folder-{_cache_key(root, listing, size)}.npz"
    arrays = _read_cached(cache_path)
    if arrays is None:
        arrays = decode_folder(root, listing, size)
        _write_cached(cache_path, arrays)
    skipped = [str(s) for s in arrays["skipped"]]
    if skipped or listing.ignored:
        warnings.warn(f"folder {root}: skipped {len(skipped)} unreadable image file(s) (e.g. {skipped[:3]}) and "
                      f"ignored {len(listing.ignored)} non-image file(s) (e.g. {listing.ignored[:3]})", stacklevel=2)
    labels, is_test = arrays["labels"], arrays["is_test"]
    if len(labels) == 0:
        raise DatasetError(f"folder: none of the {len(listing.files)} image files in {root} could be read")
    present = np.unique(labels)
    if present.size < 2:
        raise DatasetError(f"folder: {root} holds images of only one class ({listing.class_names[present[0]]!r}); "
                           "active learning needs at least two class folders with images")
    class_names = listing.class_names
    if present.size < len(class_names):  # a class folder with no readable image: drop it, keep labels 0..C-1
        empty = sorted(set(class_names) - {class_names[i] for i in present})
        warnings.warn(f"folder {root}: class folder(s) {empty} hold no readable image and are left out", stacklevel=2)
        labels = np.searchsorted(present, labels)
        class_names = tuple(class_names[i] for i in present)
    uses_split = bool(is_test.any())
    if uses_split and not (~is_test).any():
        raise DatasetError(f"folder: {root}/Training holds no readable images")
    if uses_split:
        test_only = sorted(set(np.unique(labels[is_test])) - set(np.unique(labels[~is_test])))
        if test_only:
            share = float(np.isin(labels[is_test], test_only).mean())
            warnings.warn(f"folder {root}: class(es) {[class_names[i] for i in test_only]} have images in Test/ but "
                          f"none in Training/: no label can teach them, so test accuracy stays below {1 - share:.2f}",
                          stacklevel=2)
    return Dataset(
        name="folder",
        images=arrays["images"],
        labels=labels,
        class_names=class_names,
        feature_scale=1.0 / 255.0,
        is_test=is_test if uses_split else None,
        source={"data_dir": str(root), "image_size": size, "skipped": len(skipped), "ignored": len(listing.ignored)},
    )
