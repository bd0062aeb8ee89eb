"""scikit-learn's bundled 8x8 digits: the default that works offline."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from sklearn.datasets import load_digits

from core.datasets.base import DATASETS
from core.types import Dataset


@DATASETS.register("digits")
@lru_cache(maxsize=1)
def digits() -> Dataset:
    """1,797 grayscale 8x8 digits, pixel values 0-16, ten classes, no standard test split."""
    bunch = load_digits()
    images = bunch.images.astype(np.uint8)[..., None]
    return Dataset(
        name="digits",
        images=images,
        labels=bunch.target.astype(np.int64),
        class_names=tuple(str(c) for c in bunch.target_names),
        feature_scale=1.0,  # keep scikit-learn's 0-16 units (see Dataset)
    )
