"""Uncertainty sampling: the k samples the model is least sure of, by one of four measures.

The measures themselves (pure, vectorised, numba-compiled) live in `core.strategies.measures`.
"""

from __future__ import annotations

from core.strategies.base import STRATEGIES, ScoreStrategy


@STRATEGIES.register("entropy")
class EntropySampling(ScoreStrategy):
    """Highest predictive entropy first."""

    measure = "entropy"


@STRATEGIES.register("least_confidence")
class LeastConfidence(ScoreStrategy):
    """Lowest top-class probability first."""

    measure = "least_confidence"


@STRATEGIES.register("smallest_margin")
class SmallestMargin(ScoreStrategy):
    """Smallest gap between the two most likely classes first."""

    measure = "smallest_margin"


@STRATEGIES.register("largest_margin")
class LargestMargin(ScoreStrategy):
    """Smallest gap between the most and the least likely class first."""

    measure = "largest_margin"
