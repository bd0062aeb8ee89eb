"""Datasets: one registry, one module per source. `load_dataset(name, **options)`."""

from __future__ import annotations

import inspect
from typing import Any

from core.datasets.base import DATASETS
from core.datasets import digits as _digits  # noqa: F401  (registers)
from core.datasets import cifar10 as _cifar10  # noqa: F401
from core.datasets import folder as _folder  # noqa: F401
from core.datasets import mnist as _mnist  # noqa: F401
from core.datasets.download import DatasetError, MissingDataError
from core.types import Dataset

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
