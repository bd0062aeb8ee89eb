"""Datasets: one registry, one module per source. `load_dataset(name, **options)`."""

from __future__ import annotations

import inspect
from typing import Any

from core.datasets.base import DATASETS, DatasetError, MissingDataError
from core.types import Dataset

# Lazy: a source's module (Pillow, urllib, tarfile) is imported when that source is used.
DATASETS.register_lazy("digits", "core.datasets.digits:digits")
DATASETS.register_lazy("cifar10", "core.datasets.cifar10:cifar10")
DATASETS.register_lazy("mnist", "core.datasets.mnist:mnist")
DATASETS.register_lazy("fashion_mnist", "core.datasets.mnist:fashion_mnist")
DATASETS.register_lazy("folder", "core.datasets.folder:folder")
DATASETS.register_lazy("labels", "core.datasets.labels:labels")  # a labelling project

__all__ = ["DATASETS", "DatasetError", "MissingDataError", "load_dataset", "dataset_option_names"]


def dataset_option_names(name: str) -> list[str]:
    return list(inspect.signature(DATASETS[name]).parameters)


def load_dataset(name: str, **options: Any) -> Dataset:
    """Load a registered dataset. Options a source does not take are ignored when None."""
    loader = DATASETS[name]
    valid = dataset_option_names(name)
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ValueError(f"dataset {name!r} takes no option(s) {unknown}; it takes {valid}")
    return loader(**given)
