"""The dataset registry."""

from __future__ import annotations

from typing import Callable

from core.registry import Registry
from core.types import Dataset

DATASETS: Registry[Callable[..., Dataset]] = Registry("dataset")
