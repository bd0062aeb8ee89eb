"""Stream-based selection: samples arrive one at a time; ask for the label now or never.

The unlabelled pool arrives in a seeded order. A strategy's stream form (its declared `stream`,
see core.strategies.base) says how it scores one sample; for each arrival the run's policy (the
run options `stream_policy` and `threshold`) decides at once from that score (in [0, 1]) and its
own state:

- ``threshold``: ask when the uncertainty is at least a fixed threshold;
- ``budget``: spread the label budget over the stream: ask when the uncertainty is in the
  top b fraction of recent arrivals, where b = labels left / arrivals left;
- a strategy whose stream form is "rate" (random) scores nothing: ask with probability
  budget / stream length.

`select` walks the stream until `k` labels were asked for (the learner is refit every
`batch` labels) or the stream or the budget runs out. Its state is JSON so a run resumes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.types import PoolView, Selection

POLICIES = ("budget", "threshold")

STREAM_ORDER_KEY = 7_919  # second seed word of the arrival order: distinct from any round index
WINDOW = 100  # recent scores the budget policy ranks an arrival against


def arrival_order(unlabeled: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, STREAM_ORDER_KEY]).permutation(unlabeled)


class StreamSelector:
    """Decides per arriving sample; `state()` / `from_state()` make it resumable."""

    def __init__(self, strategy, *, policy: str | None, threshold: float | None, stream_budget: int,
                 order: np.ndarray, position: int = 0, used: int = 0, window: list[float] | None = None) -> None:
        """`strategy`: a built strategy with a stream form; `policy` and `threshold` (run options, checked
        with the run) decide a "score" form's arrivals; a "rate" form reads neither."""
        if not strategy.stream:
            from core.strategies import STRATEGIES

            raise ValueError(f"strategy {strategy.name!r} has no stream form; in stream mode choose from "
                             f"{[name for name, cls in STRATEGIES.items() if cls.stream]}")
        self.strategy, self.policy = strategy, policy
        self.threshold = None if threshold is None else float(threshold)
        self.stream_budget, self.order = int(stream_budget), order
        self.position, self.used = int(position), int(used)
        self.window = list(window or [])

    @property
    def scored(self) -> bool:
        return self.strategy.stream == "score"

    @property
    def measure(self) -> str | None:
        """What the recorded scores measure: the strategy's measure (entropy, ...) or its name."""
        return getattr(self.strategy, "measure", None) or self.strategy.name if self.scored else None

    def required(self) -> frozenset[str]:
        """What it reads from a round: what the strategy's score reads (a "rate" form reads nothing)."""
        return self.strategy.required() if self.scored else frozenset()

    @property
    def exhausted(self) -> bool:
        return self.position >= len(self.order) or self.used >= self.stream_budget

    def state(self) -> dict[str, Any]:
        return {"position": self.position, "used": self.used, "window": self.window, "exhausted": self.exhausted}

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        scores = self.strategy.stream_score(view) if self.scored else None
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
            if scores is None:
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
