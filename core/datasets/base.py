"""The dataset registry."""

from __future__ import annotations

from typing import Callable

from core.registry import Registry
from core.types import Dataset

DATASETS: Registry[Callable[..., Dataset]] = Registry("dataset")


class DatasetError(ValueError):
    """A dataset's files are present but unusable (bad checksum, truncated, empty, one class)."""


class MissingDataError(FileNotFoundError):
    """The dataset's files are absent and could not be downloaded."""


def check_two_classes(labels, class_names, where: str):
    """The sorted classes present in `labels`; DatasetError naming `where` when fewer than two."""
    import numpy as np

    present = np.unique(labels)
    if present.size < 2:
        found = f"only one class ({class_names[int(present[0])]!r})" if present.size else "no class"
        raise DatasetError(f"{where} holds images of {found}; active learning needs at least 2 classes")
    return present
