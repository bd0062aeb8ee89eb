"""The ranking shared by every strategy, and the thin class over a score function."""

from __future__ import annotations

from typing import Callable, ClassVar

import numpy as np

from core.registry import Registry
from core.types import PoolView, Selection

STRATEGIES: Registry[type] = Registry("strategy")
MEASURE_NAMES = ("entropy", "least_confidence", "smallest_margin", "largest_margin")


def uncertain_count(alpha: float, k: int) -> int:
    """The hybrid's |S_u| = round(alpha * k): the part of the batch chosen by uncertainty alone."""
    return int(round(alpha * k))


def check_hybrid_params(alpha: float, n_clusters: int, measure: str, batch_size: int | None = None) -> None:
    """Raise ValueError naming the hybrid parameter and what to change."""
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha <= 1.0):
        raise ValueError(f"alpha must be in (0, 1]; got {alpha!r}")
    if not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
        raise ValueError(f"n_clusters must be an integer >= 1; got {n_clusters!r}")
    if measure not in MEASURE_NAMES:
        raise ValueError(f"unknown measure {measure!r}; choose one of {sorted(MEASURE_NAMES)}")
    if batch_size is not None:
        n_u = uncertain_count(alpha, batch_size)
        if n_clusters > n_u:
            raise ValueError(
                f"n_clusters must be between 1 and round(alpha*batch) = round({alpha}*{batch_size}) = {n_u}; "
                f"got {n_clusters}: lower the number of clusters or raise alpha or the batch size"
            )


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


class ScoreStrategy:
    """Pick the k most uncertain samples by one pure score function (higher = more uncertain)."""

    name: ClassVar[str]
    score: ClassVar[Callable[[np.ndarray], np.ndarray]]

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        check_k(k, view.n_unlabeled)
        scores = type(self).score(view.proba)
        return Selection(view.unlabeled[top_k(scores, k, rng)], scores, self.name)

    def params(self) -> dict:
        return {}
