"""Pool-based query strategies: one registry, one module per family."""

from __future__ import annotations

from typing import Any

from core.strategies.base import STRATEGIES, ScoreStrategy, top_k
from core.strategies import random as _random  # noqa: F401  (registers)
from core.strategies import uncertainty as _uncertainty  # noqa: F401
from core.strategies import hybrid as _hybrid  # noqa: F401
from core.strategies.uncertainty import MEASURES

__all__ = ["STRATEGIES", "MEASURES", "ScoreStrategy", "make_strategy", "top_k"]


def make_strategy(name: str, **params: Any):
    """Build a registered strategy; unknown names and parameters list the valid ones."""
    cls = STRATEGIES[name]
    return cls(**params)
