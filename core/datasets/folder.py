"""Labelled images from a folder of class folders or from a labels CSV, cached as arrays.

The data folder (`data_dir`) is one of:

- `root/<class>/<image>`: one sub-folder per class; the runner makes a stratified split.
- `root/<train>/<class>/<image>` + `root/<test>/<class>/<image>`: the pool and the held-out
  split (Fruits-360's `Training/` + `Test/`, Kaggle's `train/` + `val/`). Split folders are
  matched case-insensitively: `train`, `training` for the pool; `test`, `testing` or `val`,
  `valid`, `validation` for the held-out split. With both a test and a validation folder,
  test is held out and the validation folder is left unused (a warning says so).
- a labels file `path/to/labels.csv`: a CSV with a header naming a `path` and a `label`
  column (other columns are ignored), the form labelling tools export. Paths are relative to
  the CSV's folder (`../` and absolute paths are fine) and every listed file is decoded,
  whatever its extension. The file itself is the data folder: a folder that merely holds a
  labels.csv is read as class folders (its error points at the CSV), so a folder with both
  class folders and an exported CSV is never ambiguous.

Folders whose name starts with "." (`.ipynb_checkpoints`) are not classes: they are skipped
and named in a warning. Entries that cannot be read (symlink loops, missing or corrupt files,
images over MAX_DECODE_PIXELS after a JPEG's reduced-scale decode) are skipped and counted in
a warning. Images are decoded with Pillow, resized to `image_size` x `image_size` (default
32) and kept as uint8: grayscale when every image is grayscale, RGB otherwise. Decoding
runs one thread per core, with at most DECODE_MEMORY_BUDGET bytes of full-size pixels in
flight. The decoded arrays are cached in an npz keyed by the file list (paths, labels, sizes,
modification times), the labels file's content and the size, so the second load only lists
the files.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from core.csvsafe import restore
from core.datasets.base import DATASETS, check_two_classes
from core.datasets.download import DatasetError, MissingDataError
from core.datasets.images import check_image_size, resize_image
from core.types import Dataset

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
DEFAULT_IMAGE_SIZE = 32
TRAIN_SPLITS = ("train", "training")  # split folder names, lower case
TEST_SPLITS = ("test", "testing")
VALIDATION_SPLITS = ("val", "valid", "validation")
MAX_DECODE_PIXELS = 1 << 27  # ~11585 x 11585 after a JPEG's reduced-scale decode; more is refused, not decoded
DECODE_MEMORY_BUDGET = 512 << 20  # bytes of full-size decoded pixels in flight across the threads
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
_RESIZE_BEFORE_CONVERT = frozenset({"L", "RGB"})  # same pixels either way; converting first doubles the memory
_CACHE_VERSION = 2  # bump when decoding changes, so old cached arrays are not reused
_PROGRESS_FROM = 2000  # show a progress bar for folders at least this large
_UNREADABLE, _TOO_LARGE = "unreadable", "too large"
_SPLITS_HELP = "train/training and test/testing/val/valid/validation"


@dataclass(frozen=True)
class Listing:
    files: list[tuple[str, int, bool]]  # (path relative to root, class index, is_test)
    class_names: tuple[str, ...]
    ignored: list[str] = field(default_factory=list)  # files without an image extension
    stamp: list[tuple[int, int]] = field(default_factory=list)  # (size, mtime_ns) per file: part of the cache key
    unreadable: list[str] = field(default_factory=list)  # folders that could not be listed: symlink loops, permissions
    hidden: list[str] = field(default_factory=list)  # folders skipped because their name starts with "."
    notes: list[str] = field(default_factory=list)  # layout remarks for a warning
    splits: tuple[str, str] | None = None  # (pool folder, held-out folder) names
    content: str = ""  # sha256 of a labels file: part of the cache key


def dataset_cache_dir() -> Path:
    """Where decoded folders are cached: datasets/ of the cache directory (core.engine.cache.cache_dir's rule;
    the CLI sets $ALBENCH_CACHE_DIR to its --cache-dir while it runs)."""
    from core.engine.cache import cache_area

    return cache_area("datasets")


def _subfolders(directory: Path, root: Path, unreadable: list[str]) -> tuple[list[str], list[str]]:
    """(visible, hidden) sub-folder names of `directory`, sorted; entries that cannot be followed go to `unreadable`."""
    visible, hidden = [], []
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        try:
            is_dir = entry.is_dir()
        except OSError:  # a symlink loop ("Too many levels of symbolic links"), a permission error
            unreadable.append(os.path.relpath(entry.path, root))
            continue
        if is_dir:
            (hidden if entry.name.startswith(".") else visible).append(entry.name)
    return visible, hidden


def _stamp(path: str | Path) -> tuple[int, int]:
    """(size, mtime_ns); (-1, -1) for a file that cannot be read, which decoding then counts as unreadable."""
    try:
        st = os.stat(path)
    except OSError:  # missing, a symlink loop, a permission error
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def _split_folders(root: Path, names: list[str], notes: list[str]) -> tuple[str, str] | None:
    """(pool, held-out) split folder names among `names`, or None when there is no pair."""
    train = [n for n in names if n.lower() in TRAIN_SPLITS]
    test = [n for n in names if n.lower() in TEST_SPLITS]
    validation = [n for n in names if n.lower() in VALIDATION_SPLITS]
    if not train or not (test or validation):
        return None
    for side, found in (("pool", train), ("held-out", test or validation)):
        if len(found) > 1:
            raise DatasetError(f"folder: {root} has more than one {side} split folder "
                               f"({', '.join(f'{n}/' for n in found)}); keep one of them")
    if test and validation:
        notes.append(f"{', '.join(f'{n}/' for n in validation)} {'is' if len(validation) == 1 else 'are'} not used; "
                     f"{test[0]}/ is the held-out split")
    return train[0], (test or validation)[0]


def list_folder(root: Path) -> Listing:
    """Class folders and their image files, in a stable (sorted) order. Raises DatasetError."""
    if not root.is_dir():
        raise MissingDataError(f"folder: {root} is not a directory; the data folder (data_dir) must hold one "
                               "sub-folder per class (<class>/<image>), or train/ and test/ folders of class folders, "
                               "or be a labels .csv file")
    unreadable: list[str] = []
    notes: list[str] = []
    try:
        top, top_hidden = _subfolders(root, root, unreadable)
    except OSError as exc:
        raise DatasetError(f"folder: cannot list {root} ({exc})") from None
    splits = _split_folders(root, top, notes)
    parts = [(root / splits[0], False), (root / splits[1], True)] if splits else [(root, False)]
    class_dirs, hidden = {}, []
    for part, _ in parts:
        if part == root:
            visible, hid = top, top_hidden
        else:
            try:
                visible, hid = _subfolders(part, root, unreadable)
            except OSError:
                unreadable.append(os.path.relpath(part, root))
                visible, hid = [], []
        class_dirs[part] = visible
        hidden += [os.path.relpath(part / h, root) for h in hid]
    names = tuple(sorted(set().union(*class_dirs.values())))
    index = {name: i for i, name in enumerate(names)}
    files, ignored, stamp = [], [], []
    for part, is_test in parts:
        for name in class_dirs[part]:
            try:
                entries = sorted(os.scandir(part / name), key=lambda e: e.name)
            except OSError:
                unreadable.append(os.path.relpath(part / name, root))
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    dangling = entry.is_symlink() and not os.path.exists(entry.path)
                    if not (entry.is_file() or dangling):
                        continue  # a sub-folder, a fifo
                except OSError:  # a symlink loop, a permission error: counted like a corrupt file
                    pass
                rel = os.path.relpath(entry.path, root)
                if not entry.name.lower().endswith(IMAGE_EXTENSIONS):
                    ignored.append(rel)
                    continue
                files.append((rel, index[name], is_test))
                stamp.append(_stamp(entry.path))
    return Listing(files, names, ignored, stamp, unreadable, hidden, notes, splits)


def _label_order(label: str) -> tuple:
    """Integer labels in numeric order (2 before 10), then the others alphabetically."""
    try:
        return (0, int(label), label)
    except ValueError:
        return (1, 0, label)


def list_labels_csv(path: Path) -> Listing:
    """The files and labels a CSV with `path` and `label` columns lists, paths relative to its folder."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MissingDataError(f"folder: labels file {path} does not exist") from None
    except OSError as exc:
        raise DatasetError(f"folder: cannot read labels file {path} ({exc})") from None
    try:
        text = raw.decode("utf-8-sig")  # spreadsheet exports often start with a byte-order mark
    except UnicodeDecodeError as exc:
        raise DatasetError(f"folder: labels file {path} is not UTF-8 text ({exc})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    if "path" not in columns or "label" not in columns:
        raise DatasetError(f"folder: labels file {path} needs a header row naming a path and a label column, like "
                           f"'path,label' then 'images/001.png,cat'; its header is {reader.fieldnames or []}")
    rows, incomplete = [], []
    try:
        for row in reader:
            # a spreadsheet-safe export (core.csvsafe) prefixed formula-like fields with a quote: undo exactly that
            rel, label = (restore((row.get(columns[c]) or "").strip()) for c in ("path", "label"))
            if rel and label:
                rows.append((rel, label))
            else:
                incomplete.append(reader.line_num)
    except csv.Error as exc:
        raise DatasetError(f"folder: labels file {path}, line {reader.line_num}: {exc}") from None
    notes = []
    if incomplete:
        notes.append(f"skipped {len(incomplete)} row(s) without a path or a label (line(s) {incomplete[:5]})")
    names = tuple(sorted({label for _, label in rows}, key=_label_order))
    index = {name: i for i, name in enumerate(names)}
    files = [(rel, index[label], False) for rel, label in rows]
    stamp = [_stamp(path.parent / rel) for rel, _ in rows]  # a missing file is counted as unreadable
    return Listing(files, names, [], stamp, [], [], notes, None, hashlib.sha256(raw).hexdigest())


class DecodeBudget:
    """Bytes of decoded pixels in flight across threads, at most `limit`; a larger image waits to run alone."""

    def __init__(self, limit: int) -> None:
        self.limit, self.in_use, self.peak = limit, 0, 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, n_bytes: int):
        with self._changed:
            self._changed.wait_for(lambda: self.in_use == 0 or self.in_use + n_bytes <= self.limit)
            self.in_use += n_bytes
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._changed:
                self.in_use -= n_bytes
                self._changed.notify_all()


def _decode(path: Path, size: int, budget: DecodeBudget) -> tuple[np.ndarray, bool] | str:
    """(RGB uint8 (size, size, 3), was grayscale), or why not: _UNREADABLE or _TOO_LARGE."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when much larger
            width, height = image.size
            if width * height > MAX_DECODE_PIXELS:
                return _TOO_LARGE
            gray = image.mode in _GRAY_MODES
            resize_first = image.mode in _RESIZE_BEFORE_CONVERT
            # Pillow holds 4 bytes a pixel at most (RGB is padded to 32 bits); converting first is a second copy
            with budget.hold(width * height * (4 if resize_first else 8)):
                small = resize_image(image if resize_first else image.convert("RGB"), size)
                return np.asarray(small.convert("RGB"), dtype=np.uint8), gray
    except Image.DecompressionBombError:  # over twice Pillow's MAX_IMAGE_PIXELS: refused when opened
        return _TOO_LARGE
    except (OSError, ValueError, SyntaxError) as exc:
        log.debug("skipping %s: %s", path, exc)
        return _UNREADABLE


def _progress(iterable, total: int):
    if total < _PROGRESS_FROM:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc="reading images", unit="img", file=sys.stderr, mininterval=1.0)


def decode_folder(root: Path, listing: Listing, size: int) -> dict[str, np.ndarray]:
    paths = [root / rel for rel, _, _ in listing.files]
    images = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    too_large = np.zeros(len(paths), dtype=bool)
    all_gray = True
    budget = DecodeBudget(DECODE_MEMORY_BUDGET)
    with warnings.catch_warnings():
        # Pillow warns when it opens an image over its MAX_IMAGE_PIXELS; ours is lower and counted in one warning
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        # Pillow releases the GIL while decoding and resizing, so threads use every core.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            decoded_all = pool.map(lambda p: _decode(p, size, budget), paths)
            for i, decoded in enumerate(_progress(decoded_all, len(paths))):
                if isinstance(decoded, str):
                    too_large[i] = decoded == _TOO_LARGE
                    continue
                images[i], gray = decoded
                all_gray &= gray
                ok[i] = True
    labels = np.array([c for _, c, _ in listing.files], dtype=np.int64)
    is_test = np.array([t for _, _, t in listing.files], dtype=bool)
    images = images[ok][..., :1] if all_gray else images[ok]
    rels = np.array([rel for rel, _, _ in listing.files], dtype=str)
    return {"images": np.ascontiguousarray(images), "labels": labels[ok], "is_test": is_test[ok],
            "skipped": rels[~ok & ~too_large], "too_large": rels[too_large]}


def _cache_key(source: Path, listing: Listing, size: int) -> str:
    payload = json.dumps([_CACHE_VERSION, str(source.resolve()), size, listing.files, listing.stamp,
                          listing.class_names, listing.content])
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _read_cached(path: Path) -> dict[str, np.ndarray] | None:
    from core.files import CorruptRecord, load_npz

    try:
        z = load_npz(path)  # a regular file whose sizes hold, no pickle
        return {k: z[k] for k in ("images", "labels", "is_test", "skipped", "too_large")}
    except FileNotFoundError:
        return None
    except (CorruptRecord, KeyError) as exc:
        log.warning("decoded-folder cache %s is unreadable (%s); decoding again", path, exc)
        return None


def _write_cached(path: Path, arrays: dict[str, np.ndarray]) -> None:
    from core.files import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, **arrays)  # uncompressed: loading 150 MB back is a memory copy, not a decompression
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as exc:  # a read-only working directory only costs the next load its speed
        log.warning("could not cache the decoded folder at %s (%s)", path, exc)


def _holds_class_folders(directory: Path) -> bool:
    """Whether some sub-folder of `directory` holds an image file (a split folder under another name)."""
    try:
        for sub in os.scandir(directory):
            if sub.is_dir() and not sub.name.startswith("."):
                if any(e.name.lower().endswith(IMAGE_EXTENSIONS) for e in os.scandir(sub.path)):
                    return True
    except OSError:
        return False
    return False


def _layout_hint(root: Path, listing: Listing) -> str:
    """What the data folder holds instead of class folders of images, and how to fix it."""
    holders = [n for n in listing.class_names if _holds_class_folders(root / n)]
    if holders:
        found = " and ".join(f"`{n}/`" for n in holders)
        hint = (f"{found} {'holds' if len(holders) == 1 else 'hold'} class folders, but only {_SPLITS_HELP} are "
                "recognised as splits")
        if len(holders) == 1:
            return (f"{hint}: add a test/ (or val/) folder of class folders beside it, or choose {root / holders[0]} "
                    "as the data folder (the runner then makes a stratified split)")
        return f"{hint}: rename them (e.g. train/ and test/), or choose one of them as the data folder"
    csvs = _labels_files(root)
    if csvs:
        return (f"{root} holds {csvs[0].name}: to read the images a labels file lists, choose the file itself as the "
                f"data folder ({csvs[0]})")
    try:
        loose = any(e.name.lower().endswith(IMAGE_EXTENSIONS) for e in os.scandir(root))
    except OSError:
        loose = False
    if loose:
        beside = _labels_files(root.parent)
        return f"images must sit in one sub-folder per class: {root}/<class>/<image>" + (
            f"; if {beside[0]} lists them, choose the file itself as the data folder" if beside else "")
    return f"expected {root}/<class>/<image files>"


def _labels_files(directory: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(directory) if e.name.lower().endswith(".csv") and e.is_file())
    except OSError:
        return []


def _check_listing(source: Path, root: Path, listing: Listing) -> None:
    if listing.content:  # a labels file
        if not listing.files:
            raise DatasetError(f"folder: labels file {source} lists no images")
        return
    if not listing.class_names:
        where = f"{root}/{listing.splits[0]}" if listing.splits else str(root)
        raise DatasetError(f"folder: no class sub-folders in {where}; {_layout_hint(root, listing)}")
    if not listing.files:
        hint = (f"expected {root}/{listing.splits[0]}/<class>/<image files>" if listing.splits
                else _layout_hint(root, listing))
        raise DatasetError(f"folder: no image files ({', '.join(IMAGE_EXTENSIONS)}) in the class folders of {root}; "
                           f"{hint}")


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)  # the caller of folder()


@DATASETS.register("folder")
def folder(data_dir: str | None = None, image_size: int | None = None) -> Dataset:
    """Images from root/<class>/<image>, train/ + test/ split folders, or a labels .csv; resized to image_size."""
    if data_dir is None:
        raise MissingDataError("folder: no data folder (data_dir) given; choose a directory with one sub-folder of "
                               "images per class, or a labels .csv file")
    check_image_size(image_size)
    size = image_size or DEFAULT_IMAGE_SIZE
    source = Path(data_dir).expanduser()
    if source.suffix.lower() == ".csv" and not source.is_dir():
        listing, root = list_labels_csv(source), source.parent
    else:
        listing, root = list_folder(source), source
    _check_listing(source, root, listing)
    cache_path = dataset_cache_dir() / f"folder-{_cache_key(source, listing, size)}.npz"
    arrays = _read_cached(cache_path)
    if arrays is None:
        arrays = decode_folder(root, listing, size)
        _write_cached(cache_path, arrays)
    labels, is_test = arrays["labels"], arrays["is_test"]
    skipped = [str(s) for s in arrays["skipped"]]
    if len(labels) == 0:
        hint = f"; paths are read relative to {root}" if listing.content else ""
        raise DatasetError(f"folder: none of the {len(listing.files)} image files in {source} could be read "
                           f"(e.g. {(skipped or [str(s) for s in arrays['too_large']])[:3]}){hint}")
    for note in listing.notes:
        _warn(f"folder {source}: {note}")
    if listing.hidden:
        _warn(f"folder {source}: skipped hidden folder(s) {listing.hidden} (a name starting with '.' is not a class)")
    if listing.unreadable:
        _warn(f"folder {source}: skipped {len(listing.unreadable)} folder(s) that could not be listed (a symlink loop, "
              f"a broken link or no permission; e.g. {listing.unreadable[:3]})")
    if skipped or listing.ignored:
        _warn(f"folder {source}: skipped {len(skipped)} unreadable image file(s) (e.g. {skipped[:3]}) and "
              f"ignored {len(listing.ignored)} non-image file(s) (e.g. {listing.ignored[:3]})")
    too_large = [str(s) for s in arrays["too_large"]]
    if too_large:
        _warn(f"folder {source}: skipped {len(too_large)} image(s) larger than {MAX_DECODE_PIXELS:,} pixels "
              f"(e.g. {too_large[:3]}); downscale them to read them")
    try:
        present = check_two_classes(labels, listing.class_names, f"folder: {source}")
    except DatasetError as exc:
        if listing.content or listing.splits:
            raise
        raise DatasetError(f"{exc}; {_layout_hint(root, listing)}") from None  # e.g. an unrecognised split name
    class_names = listing.class_names
    if present.size < len(class_names):  # a class with no readable image: drop it, keep labels 0..C-1
        empty = sorted(set(class_names) - {class_names[i] for i in present})
        _warn(f"folder {source}: class(es) {empty} have no readable image and are left out")
        labels = np.searchsorted(present, labels)
        class_names = tuple(class_names[i] for i in present)
    uses_split = bool(is_test.any())
    train_dir, test_dir = listing.splits or ("Training", "Test")
    if uses_split and not (~is_test).any():
        raise DatasetError(f"folder: {root}/{train_dir} holds no readable images")
    if listing.splits and not uses_split:
        _warn(f"folder {source}: {test_dir}/ holds no readable images; the runner splits {train_dir}/ instead")
    if uses_split:
        test_only = sorted(set(np.unique(labels[is_test])) - set(np.unique(labels[~is_test])))
        if test_only:
            share = float(np.isin(labels[is_test], test_only).mean())
            _warn(f"folder {source}: class(es) {[class_names[i] for i in test_only]} have images in {test_dir}/ but "
                  f"none in {train_dir}/: no label can teach them, so test accuracy stays below {1 - share:.2f}")
    return Dataset(
        name="folder",
        images=arrays["images"],
        labels=labels,
        class_names=class_names,
        feature_scale=1.0 / 255.0,
        is_test=is_test if uses_split else None,
        source={"data_dir": str(source), "image_size": size, "skipped": len(skipped) + len(too_large),
                "ignored": len(listing.ignored)},
    )
