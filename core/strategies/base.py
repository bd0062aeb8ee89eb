"""The strategy contract: declared parameters and needs, the shared ranking, and the thin classes.

A strategy is one class that declares, as data (see `core.params`):

- `parameters`: name -> `Interval` / `Options` / `Text`, with defaults;
- `needs`: what it reads from a round, from `NEEDS` below; the runner computes exactly that,
  once per round, and a learner that cannot provide it is a config error before anything runs;
- `stream`: its stream form, if it has one (samples arrive one at a time and each is asked for now or
  never): "score" decides each arrival from `stream_score` (one normalised score per sample, computed
  from the declared parameters) under the run's stream policy and threshold; "rate" asks at the
  budget's rate, scoring nothing (random); None: no stream form (a config error in stream mode);

and implements `select(view, k, *, rng)`. Everything else (CLI `--strategy-param`, sidebar
widgets, sweep relevance, labels, contract tests, `python -m core strategies`) is derived.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from core.params import Constraint, ParamError, check_params
from core.registry import Registry
from core.types import PoolView, Selection

STRATEGIES: Registry[type] = Registry("strategy", package="core.strategies", entry_point_group="albench.strategies",
                                      skip=("base", "measures"))
MEASURE_NAMES = ("entropy", "least_confidence", "smallest_margin", "largest_margin")

# What a strategy may ask of a round, and the learner capability each one takes.
NEEDS = {
    "proba": ("proba", "class probabilities of the unlabelled pool"),
    "pool_features": ("features", "features of the unlabelled pool (the learner's embedding)"),
    "labeled_features": ("features", "features of the labelled set"),
    "proba_samples": ("proba_samples", "probability samples of the unlabelled pool (MC dropout), shape (S, n, C)"),
}


def uncertain_count(alpha: float, k: int) -> int:
    """The hybrid's |S_u| = round(alpha * k): the part of the batch chosen by uncertainty alone."""
    return int(round(alpha * k))


def check_k(k: int, n_unlabeled: int) -> None:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}")
    if k > n_unlabeled:
        raise ValueError(f"k={k} is larger than the {n_unlabeled} unlabelled samples left in the pool")


def top_k(scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of the `k` highest scores, highest first; exact ties at the cut broken at random.

    O(n): one argpartition finds the cut value, then only the tied samples at the cut are
    drawn from `rng`, so the choice is reproducible and unbiased among equals.
    """
    n = scores.shape[0]
    check_k(k, n)
    if k == n:
        cut_idx = np.arange(n)
    else:
        part = np.argpartition(scores, n - k)[n - k:]
        cut = scores[part].min()
        above = np.flatnonzero(scores > cut)
        need = k - above.size
        tied = np.flatnonzero(scores == cut)
        if tied.size > need:
            tied = rng.choice(tied, size=need, replace=False)
        cut_idx = np.concatenate([above, tied])
    return cut_idx[np.argsort(-scores[cut_idx], kind="stable")]


class Strategy:
    """Base of every registered strategy: validates the declared parameters once, when built."""

    name: ClassVar[str]
    parameters: ClassVar[dict[str, Constraint]] = {}
    needs: ClassVar[frozenset[str]] = frozenset({"proba"})
    stream: ClassVar[str | None] = None  # "score", "rate" or None: see the module's docstring
    exhausted: ClassVar[bool] = False  # a pool strategy always has a next batch (a stream may run dry)

    def __init__(self, **params: Any) -> None:
        self._apply(params)

    @classmethod
    def build(cls, params: Mapping[str, Any]) -> "Strategy":
        """The strategy with these settings; `Checked` ones (a RunConfig's) are taken as they are."""
        strategy = cls.__new__(cls)
        strategy._apply(params)
        return strategy

    def _apply(self, params: Mapping[str, Any]) -> None:
        self.values = check_params(type(self).parameters, params, owner=f"strategy {self.name!r}",
                                   prefix=f"{self.name}.")
        for key, value in self.values.items():
            setattr(self, key, value)

    def params(self) -> dict[str, Any]:
        return dict(self.values)

    def required(self) -> frozenset[str]:
        """What this configured strategy reads (a setting may turn a need off: hybrid with alpha = 1)."""
        return type(self).needs

    def state(self) -> dict[str, Any]:
        """JSON-able state a resumed run restores (stream selectors have one); none by default."""
        return {}

    def stream_score(self, view: PoolView) -> np.ndarray:
        """Stream form "score": one score in [0, 1] per unlabelled sample (rows follow `view.unlabeled`),
        higher = ask sooner; the run's policy compares it with a threshold or with recent arrivals."""
        raise NotImplementedError(f"strategy {self.name!r} has no stream score")

    @classmethod
    def check_run(cls, params: Mapping[str, Any], batch: int) -> None:
        """Cross-checks against the run's settings (raise ParamError with the option); none by default."""

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        """Choose `k` distinct unlabelled pool samples to send to the oracle.

        Parameters
        ----------
        view : PoolView
            The current round: labelled mask and the inputs the strategy declared in `needs`.
        k : int
            How many samples to choose; 1 <= k <= view.n_unlabeled.
        rng : numpy.random.Generator
            The only source of randomness (tie-breaking, seeding K-means).
        """
        raise NotImplementedError


class ScoreStrategy(Strategy):
    """Pick the k most uncertain samples by one named measure (higher = more uncertain)."""

    measure: ClassVar[str]
    stream = "score"

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        from core.strategies.measures import MEASURES  # numba: compiled on first use, not when validating

        check_k(k, view.n_unlabeled)
        scores = MEASURES[self.measure](view.proba)
        return Selection(view.unlabeled[top_k(scores, k, rng)], scores, self.measure)

    def stream_score(self, view: PoolView) -> np.ndarray:
        """Its measure divided by the measure's maximum, so one threshold means the same for every measure."""
        from core.strategies.measures import normalized_score

        return normalized_score(self.measure, view.proba)


def check_strategy_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The full, checked parameter values of strategy `name` (defaults filled in)."""
    cls = STRATEGIES[name]
    return check_params(cls.parameters, params, owner=f"strategy {name!r}", prefix=f"{name}.")


__all__ = ["STRATEGIES", "MEASURE_NAMES", "NEEDS", "ParamError", "ScoreStrategy", "Strategy", "check_k",
           "check_strategy_params", "top_k", "uncertain_count"]
