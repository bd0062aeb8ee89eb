"""MNIST and Fashion-MNIST from their IDX files (gzipped or not), with their standard test split."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from core.datasets.base import DATASETS, check_two_classes
from core.datasets.download import DatasetError, MissingDataError, data_dir_for, fetch_missing, verify_md5
from core.datasets.images import check_image_size, resize_stack
from core.types import Dataset

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

# Published md5 of the .gz files (the canonical distribution; the constants torchvision checks).
SOURCES = {
    "mnist": {
        "source": "https://yann.lecun.com/exdb/mnist/ (mirrored at https://ossci-datasets.s3.amazonaws.com/mnist/)",
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/"],
        "md5": {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        "classes": tuple(str(i) for i in range(10)),
    },
    "fashion_mnist": {
        "source": "https://github.com/zalandoresearch/fashion-mnist",
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"],
        "md5": {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        "classes": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                    "Ankle boot"),
    },
}

_IDX_DTYPES = {0x08: np.uint8}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (big-endian header: 0, 0, dtype code, ndim, then ndim uint32 sizes) as uint8.

    A truncated or padded file, a header whose sizes do not fit the file, or a type other than
    unsigned bytes, is a DatasetError.
    """
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DatasetError(f"{path} is not a complete gzip file ({exc}); it is truncated or corrupt") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DatasetError(f"{path} is not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise DatasetError(f"{path}: IDX element type 0x{code:02x} is not unsigned bytes (0x08)")
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DatasetError(f"{path}: IDX header is truncated")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + math.prod(shape)  # Python integers: a lying header cannot overflow to 0
    if len(raw) != expected:
        raise DatasetError(f"{path}: IDX header promises shape {shape} ({expected} bytes) but the file has {len(raw)} "
                           "bytes; it is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _locate(directory: Path, name: str, md5: dict[str, str]) -> Path:
    """The plain file when present (no published checksum to verify), else the verified .gz."""
    plain, gz = directory / name, directory / f"{name}.gz"
    if plain.exists():
        return plain
    verify_md5(gz, md5[gz.name], remedy=f"a copy you made or recompressed yourself is read uncompressed: "
               f"gunzip it to {plain.name} (plain IDX files are checked by their header, not a checksum)")
    return gz


def load_idx_dataset(name: str, data_dir: str | None, image_size: int | None) -> Dataset:
    check_image_size(image_size)
    info = SOURCES[name]
    directory = data_dir_for(name, data_dir)
    absent = {f"{f}.gz": info["md5"][f"{f}.gz"] for f in FILES if not (directory / f).exists()}
    try:
        fetch_missing(name, directory, absent, info["mirrors"], info["source"])
    except MissingDataError as exc:
        raise MissingDataError(f"{exc} (the uncompressed files {', '.join(FILES)} are accepted too)") from None
    paths = [_locate(directory, f, info["md5"]) for f in FILES]
    x_train, y_train, x_test, y_test = (read_idx(path) for path in paths)
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DatasetError(f"{directory}: {split} images {x.shape} and labels {y.shape} do not match")
    for x, path in ((x_train, paths[0]), (x_test, paths[2])):
        if x.size == 0:
            raise DatasetError(f"{path}: holds no images (IDX shape {x.shape}); the file is corrupt or not {name} data")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DatasetError(f"{name}: the train images are {x_train.shape[1]}x{x_train.shape[2]} ({paths[0].name}) but "
                           f"the test images are {x_test.shape[1]}x{x_test.shape[2]} ({paths[2].name}) in {directory}; "
                           "both splits must have one image size")
    labels = np.concatenate([y_train, y_test]).astype(np.int64)
    if labels.max() >= len(info["classes"]):
        raise DatasetError(f"{directory}: labels outside 0..{len(info['classes']) - 1}")
    check_two_classes(labels, info["classes"], f"{name}: {directory}")
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[len(y_train):] = True
    images = np.concatenate([x_train, x_test])[..., None]
    return Dataset(
        name=name,
        images=resize_stack(images, image_size),
        labels=labels,
        class_names=info["classes"],
        feature_scale=1.0 / 255.0,
        is_test=is_test,
        source={"data_dir": str(directory), "image_size": image_size},
    )


@DATASETS.register("mnist")
def mnist(data_dir: str | None = None, image_size: int | None = None) -> Dataset:
    """70,000 28x28 grayscale handwritten digits: 60,000 train (the pool), 10,000 test."""
    return load_idx_dataset("mnist", data_dir, image_size)


@DATASETS.register("fashion_mnist")
def fashion_mnist(data_dir: str | None = None, image_size: int | None = None) -> Dataset:
    """70,000 28x28 grayscale clothing images in 10 classes: 60,000 train, 10,000 test."""
    return load_idx_dataset("fashion_mnist", data_dir, image_size)
