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
