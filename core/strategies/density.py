"""Information density (Settles & Craven 2008): uncertainty weighted by how typical a sample is.

Plain uncertainty sampling likes outliers: a sample far from everything is uncertain and
teaches little. Information density multiplies the smallest-margin uncertainty by the
sample's mean cosine similarity to the unlabelled pool, raised to `beta`:

    score(x) = (1 - (p1 - p2)) * sim(x)^beta,   sim(x) = mean_u cos(x, u)

The mean of cosines is one dot product with the mean of the normalised features,
x_hat . mean(u_hat), so the density costs O(n d) instead of the O(n^2 d) of the pairwise
form (`reference_margin_density` in the tests). Similarities are shifted to [0, 1] by
(1 + cos) / 2 so that negative similarities cannot flip the ranking.
"""

from __future__ import annotations

import numpy as np

from core.params import Interval
from core.strategies.base import STRATEGIES, Strategy, check_k, top_k
from core.strategies.distances import BLOCK_ROWS
from core.types import PoolView, Selection


def _unit_blocks(features: np.ndarray):
    """(start, the rows' unit vectors in float32), block by block: a float16 memory map is read one block at a time."""
    for start in range(0, len(features), BLOCK_ROWS):
        X = np.asarray(features[start:start + BLOCK_ROWS], dtype=np.float32)
        yield start, X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), np.float32(1e-12))


def mean_cosine_similarity(features: np.ndarray) -> np.ndarray:
    """(1 + mean_u cos(x, u)) / 2 for every row x, over all rows u (itself included). Shape (n,).

    Two passes over the features in blocks (the mean unit vector, then one product per row), so the
    extra memory is one block, not a normalised copy of the pool (2 GB at 1M x 512).
    """
    total = np.zeros(features.shape[1], dtype=np.float64)
    for _, unit in _unit_blocks(features):
        total += unit.sum(axis=0, dtype=np.float64)
    mean = (total / max(len(features), 1)).astype(np.float32)
    out = np.empty(len(features), dtype=np.float32)
    for start, unit in _unit_blocks(features):
        out[start:start + len(unit)] = (1.0 + unit @ mean) / 2.0
    return out


def margin_density(proba: np.ndarray, features: np.ndarray, beta: float) -> np.ndarray:
    """Smallest-margin uncertainty times mean cosine similarity to the pool, to the power beta."""
    from core.strategies.measures import smallest_margin

    return smallest_margin(proba) * mean_cosine_similarity(features) ** np.float32(beta)


@STRATEGIES.register("margin_density")
class MarginDensity(Strategy):
    """Smallest margin weighted by feature-space density (information density): uncertain and typical first."""

    parameters = {
        "beta": Interval(float, 0.0, 10.0, default=1.0, step=0.25, label="Density weight (beta)",
                         help="exponent of the density term; 0 = plain smallest-margin sampling"),
    }
    needs = frozenset({"proba", "pool_features"})

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        check_k(k, view.n_unlabeled)
        scores = margin_density(view.proba, view.embeddings, self.beta)
        return Selection(view.unlabeled[top_k(scores, k, rng)], scores, "smallest_margin x density")
