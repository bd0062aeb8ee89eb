"""CIFAR-10 from its python batches (cifar-10-python.tar.gz), with its standard train/test split."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np

from core.datasets.base import DATASETS
from core.datasets.download import (
    DatasetError,
    MissingDataError,
    data_dir_for,
    fetch_missing,
    missing_message,
    verify_md5,
)
from core.datasets.images import check_image_size, resize_stack
from core.types import Dataset

SOURCE = "https://www.cs.toronto.edu/~kriz/cifar.html"
MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
BATCH_DIR = "cifar-10-batches-py"
# The published checksums of the extracted files (the same constants torchvision checks).
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# What a CIFAR-10 batch pickle may reference: a dict of numpy arrays, lists and bytes.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes written by Python 3 with protocol 2
}


class _BatchUnpickler(pickle.Unpickler):
    """Defence in depth behind the checksum: refuse any global a CIFAR batch does not use."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise DatasetError(f"CIFAR-10 batch references {module}.{name}, which a CIFAR-10 batch never does")
        return super().find_class(module, name)


def read_batch(path: Path, md5: str) -> dict:
    """One python batch: its checksum is verified first, and only then is it unpickled.

    Unpickling runs code chosen by the file's author, so pickle.load is acceptable here only
    because the bytes match the published md5 of the original file (and the unpickler
    additionally allows only the numpy globals a batch needs).
    """
    verify_md5(path, md5, remedy="CIFAR-10 batches are Python pickles, so only the published files are read "
               "(their checksum is what makes unpickling them safe); batches you made yourself are not accepted: "
               "save such data as a class-per-folder image tree and use --dataset folder")
    with open(path, "rb") as handle:
        try:
            return _BatchUnpickler(handle, encoding="bytes").load()
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise DatasetError(f"{path} is not a readable CIFAR-10 batch ({exc})") from None


def _batch_images(batch: dict, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except KeyError as exc:
        raise DatasetError(f"{path} has no {exc.args[0]!r} entry; not a CIFAR-10 batch") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DatasetError(f"{path}: expected data (n, 3072) and n labels; got {data.shape} and {labels.shape}")
    # rows are channel-major (1024 red, 1024 green, 1024 blue), each 32x32 row-major
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _find_batches(root: Path) -> Path:
    """The directory holding the batches: root/cifar-10-batches-py, root itself, or extract the archive."""
    for candidate in (root / BATCH_DIR, root):
        if (candidate / "test_batch").exists() or (candidate / TRAIN_BATCHES[0]).exists():
            return candidate
    try:
        fetch_missing("cifar10", root, {ARCHIVE: ARCHIVE_MD5}, MIRRORS, SOURCE)
    except MissingDataError:
        raise MissingDataError(
            missing_message("cifar10", root, [ARCHIVE + f" (or its extracted folder {BATCH_DIR}/ with "
                                              + ", ".join(BATCH_MD5) + ")"], SOURCE)
        ) from None
    verify_md5(root / ARCHIVE, ARCHIVE_MD5)
    with tarfile.open(root / ARCHIVE, "r:gz") as archive:
        archive.extractall(root, filter="data")  # "data": no absolute paths, links or devices
    return root / BATCH_DIR


@DATASETS.register("cifar10")
def cifar10(data_dir: str | None = None, image_size: int | None = None) -> Dataset:
    """60,000 32x32 colour images in 10 classes: 50,000 train (the pool), 10,000 test."""
    check_image_size(image_size)
    root = data_dir_for("cifar10", data_dir)
    batch_dir = _find_batches(root)
    absent = [name for name in BATCH_MD5 if not (batch_dir / name).exists()]
    if absent:
        raise MissingDataError(missing_message("cifar10", batch_dir, absent, SOURCE))
    images, labels = [], []
    for name in (*TRAIN_BATCHES, "test_batch"):
        x, y = _batch_images(read_batch(batch_dir / name, BATCH_MD5[name]), batch_dir / name)
        images.append(x)
        labels.append(y)
    meta = read_batch(batch_dir / "batches.meta", BATCH_MD5["batches.meta"])
    names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(b"label_names", CLASS_NAMES))
    n_test = len(labels[-1])
    all_labels = np.concatenate(labels)
    if all_labels.min() < 0 or all_labels.max() >= len(names):
        raise DatasetError(f"{batch_dir}: labels outside 0..{len(names) - 1}")
    is_test = np.zeros(len(all_labels), dtype=bool)
    is_test[-n_test:] = True
    return Dataset(
        name="cifar10",
        images=resize_stack(np.ascontiguousarray(np.concatenate(images)), image_size),
        labels=all_labels,
        class_names=names,
        feature_scale=1.0 / 255.0,
        is_test=is_test,
        source={"data_dir": str(batch_dir), "image_size": image_size},
    )
