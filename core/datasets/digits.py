"""scikit-learn's bundled 8x8 digits: the default that works offline."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.datasets.base import DATASETS
from core.types import Dataset


def _digits_file() -> Path:
    # The CSV that sklearn.datasets.load_digits() parses, read without importing scikit-learn
    # (~1 s of imports): a cached comparison on digits then starts in well under a second.
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-learn is not installed: its bundled digits.csv.gz is the digits dataset")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"


@DATASETS.register("digits")
@lru_cache(maxsize=1)
def digits() -> Dataset:
    """1,797 grayscale 8x8 digits, pixel values 0-16, ten classes, no standard test split."""
    table = np.loadtxt(_digits_file(), delimiter=",", dtype=np.uint8)
    return Dataset(
        name="digits",
        images=np.ascontiguousarray(table[:, :-1].reshape(-1, 8, 8, 1)),
        labels=table[:, -1].astype(np.int64),
        class_names=tuple(str(c) for c in range(10)),
        feature_scale=1.0,  # keep scikit-learn's 0-16 units (see Dataset)
    )
