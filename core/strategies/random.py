"""Random sampling: the baseline every other strategy must beat."""

from __future__ import annotations

import numpy as np

from core.strategies.base import STRATEGIES, Strategy, check_k
from core.types import PoolView, Selection


@STRATEGIES.register("random")
class RandomSampling(Strategy):
    """Uniform draw without replacement from the unlabelled pool."""

    needs = frozenset()
    stream = "rate"  # in a stream: ask each arrival with probability budget / stream length

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        check_k(k, view.n_unlabeled)
        return Selection(rng.choice(view.unlabeled, size=k, replace=False))
