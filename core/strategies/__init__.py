"""Pool-based query strategies: one registry, one module per family.

Registered lazily: listing and validating names imports no numba or scikit-learn.
"""

from __future__ import annotations

from typing import Any

from core.strategies.base import MEASURE_NAMES, STRATEGIES, check_hybrid_params, top_k

STRATEGIES.register_lazy("random", "core.strategies.random:RandomSampling")
STRATEGIES.register_lazy("entropy", "core.strategies.uncertainty:EntropySampling")
STRATEGIES.register_lazy("least_confidence", "core.strategies.uncertainty:LeastConfidence")
STRATEGIES.register_lazy("smallest_margin", "core.strategies.uncertainty:SmallestMargin")
STRATEGIES.register_lazy("largest_margin", "core.strategies.uncertainty:LargestMargin")
STRATEGIES.register_lazy("hybrid", "core.strategies.hybrid:Hybrid")

__all__ = ["STRATEGIES", "MEASURE_NAMES", "check_hybrid_params", "make_strategy", "top_k"]


def make_strategy(name: str, **params: Any):
    """Build a registered strategy; unknown names and parameters list the valid ones."""
    return STRATEGIES[name](**params)


def __getattr__(name: str):
    if name == "MEASURES":  # the score functions, imported on first use (numba)
        from core.strategies.uncertainty import MEASURES

        return MEASURES
    raise AttributeError(f"module 'core.strategies' has no attribute {name!r}")
