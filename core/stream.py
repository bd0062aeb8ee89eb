"""Stream-based selection: samples arrive one at a time; ask for the label now or never.

The unlabelled pool arrives in a seeded order. For each arrival the policy decides at once
from that sample's normalised uncertainty (in [0, 1]) and its own state:

- ``threshold``: ask when the uncertainty is at least a fixed threshold;
- ``budget``: spread the label budget over the stream: ask when the uncertainty is in the
  top b fraction of recent arrivals, where b = labels left / arrivals left;
- ``random`` (the strategy, not a policy): ask with probability budget / stream length.

`select` walks the stream until `k` labels were asked for (the learner is refit every
`batch` labels) or the stream or the budget runs out. Its state is JSON so a run resumes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.types import PoolView, Selection

STREAM_ORDER_KEY = 7_919  # second seed word of the arrival order: distinct from any round index
WINDOW = 100  # recent scores the budget policy ranks an arrival against


def arrival_order(unlabeled: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, STREAM_ORDER_KEY]).permutation(unlabeled)


class StreamSelector:
    """Decides per arriving sample; `state()` / `from_state()` make it resumable."""

    def __init__(self, strategy: str, *, policy: str, threshold: float, stream_budget: int,
                 order: np.ndarray, position: int = 0, used: int = 0, window: list[float] | None = None) -> None:
        self.strategy, self.policy, self.threshold = strategy, policy, float(threshold)
        self.stream_budget, self.order = int(stream_budget), order
        self.position, self.used = int(position), int(used)
        self.window = list(window or [])

    @property
    def measure(self) -> str | None:
        return None if self.strategy == "random" else self.strategy

    def required(self) -> frozenset[str]:
        """What it reads from a round: one normalised uncertainty per arrival (random reads nothing)."""
        return frozenset() if self.measure is None else frozenset({"proba"})

    @property
    def exhausted(self) -> bool:
        return self.position >= len(self.order) or self.used >= self.stream_budget

    def state(self) -> dict[str, Any]:
        return {"position": self.position, "used": self.used, "window": self.window, "exhausted": self.exhausted}

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        from core.strategies.measures import normalized_score  # numba: only when a stream runs

        scores = None if self.measure is None else normalized_score(self.measure, view.proba)
        arrivals = self.order[self.position:]
        if scores is not None:
            arrival_scores = scores[np.searchsorted(view.unlabeled, arrivals)].astype(float)
        chosen: list[int] = []
        # Sequential by nature: each decision depends on the budget the earlier ones left.
        for offset, sample in enumerate(arrivals):
            if len(chosen) >= k or self.used >= self.stream_budget:
                break
            self.position += 1
            left_budget = self.stream_budget - self.used
            left_arrivals = len(self.order) - self.position + 1
            if self.measure is None:
                ask = rng.random() < self.stream_budget / len(self.order)
            else:
                score = arrival_scores[offset]
                self.window = (self.window + [score])[-WINDOW:]
                if self.policy == "threshold":
                    ask = score >= self.threshold
                else:
                    rate = left_budget / left_arrivals
                    ask = rate >= 1.0 or score >= np.quantile(self.window, 1.0 - rate)
            if ask:
                chosen.append(int(sample))
                self.used += 1
        return Selection(np.asarray(chosen, dtype=np.int64), scores, self.measure)
