"""Pool-based query strategies: one registry, one module per family.

Every module of this package registers its strategies when the registry first looks (see
`core.registry`): adding a strategy is one new file. Strategy modules import no numba or
scikit-learn until they select, so listing and validating stay fast.
"""

from __future__ import annotations

from typing import Any

from core.strategies.base import MEASURE_NAMES, NEEDS, STRATEGIES, check_strategy_params, top_k

__all__ = ["STRATEGIES", "MEASURE_NAMES", "NEEDS", "check_strategy_params", "make_strategy", "top_k"]


def make_strategy(name: str, **params: Any):
    """Build a registered strategy; unknown names and parameters list the valid ones."""
    return STRATEGIES[name](**params)


def __getattr__(name: str):
    if name == "MEASURES":  # the score functions, imported on first use (numba)
        from core.strategies.measures import MEASURES

        return MEASURES
    raise AttributeError(f"module 'core.strategies' has no attribute {name!r}")
