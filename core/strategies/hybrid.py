"""Hybrid: uncertainty for informativeness, K-means on features for coverage (the seed paper)."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from core.strategies.base import STRATEGIES, check_k, top_k
from core.strategies.uncertainty import MEASURES
from core.types import PoolView, Selection


def uncertain_count(alpha: float, k: int) -> int:
    """|S_u| = round(alpha * k), the part of the batch chosen by uncertainty alone."""
    return int(round(alpha * k))


def check_hybrid_params(alpha: float, n_clusters: int, measure: str, batch_size: int | None = None) -> None:
    """Raise ValueError naming the parameter and what to change."""
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha <= 1.0):
        raise ValueError(f"alpha must be in (0, 1]; got {alpha!r}")
    if not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
        raise ValueError(f"n_clusters must be an integer >= 1; got {n_clusters!r}")
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose one of {sorted(MEASURES)}")
    if batch_size is not None:
        n_u = uncertain_count(alpha, batch_size)
        if n_clusters > n_u:
            raise ValueError(
                f"n_clusters must be between 1 and round(alpha*batch) = round({alpha}*{batch_size}) = {n_u}; "
                f"got {n_clusters}: lower the number of clusters or raise alpha or the batch size"
            )


_CHUNK_ROWS = 4096  # 4096 x 512 float32 = 8 MB: the row norms reuse the block the product just read


def nearest_centroid_sq_distance(X: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """min_c ||x - c||^2 for every row, as ||x||^2 + min_c (||c||^2 - 2 x.c).

    One BLAS product per block of rows; blocking makes it one pass over X (1M x 512
    float32 is 2 GB) instead of two, and bounds the temporaries.
    """
    c_sq = np.einsum("ij,ij->i", centroids, centroids)
    out = np.empty(len(X), dtype=np.float32)
    for start in range(0, len(X), _CHUNK_ROWS):
        block = X[start:start + _CHUNK_ROWS]
        cross = block @ (-2.0 * centroids.T)
        cross += c_sq
        out[start:start + _CHUNK_ROWS] = np.einsum("ij,ij->i", block, block) + cross.min(axis=1)
    return np.maximum(out, 0.0, out=out)


@STRATEGIES.register("hybrid")
class Hybrid:
    """Top round(alpha*k) by uncertainty, then the samples nearest to K-means centroids of those."""

    def __init__(self, alpha: float = 0.5, n_clusters: int = 5, measure: str = "entropy") -> None:
        check_hybrid_params(alpha, n_clusters, measure)
        self.alpha, self.n_clusters, self.measure = float(alpha), int(n_clusters), measure

    def params(self) -> dict:
        return {"alpha": self.alpha, "n_clusters": self.n_clusters, "measure": self.measure}

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        check_k(k, view.n_unlabeled)
        check_hybrid_params(self.alpha, self.n_clusters, self.measure, k)
        scores = MEASURES[self.measure](view.proba)
        n_u = uncertain_count(self.alpha, k)
        uncertain = top_k(scores, n_u, rng)  # positions in view.unlabeled
        if n_u == k:
            return Selection(view.unlabeled[uncertain], scores, self.measure)
        features = np.asarray(view.embeddings, dtype=np.float32)
        kmeans = KMeans(
            n_clusters=self.n_clusters, n_init=1, random_state=int(rng.integers(2**31 - 1))
        ).fit(features[uncertain])
        dist = nearest_centroid_sq_distance(features, kmeans.cluster_centers_.astype(np.float32))
        dist[uncertain] = np.inf  # fill only from outside S_u
        nearest = top_k(-dist, k - n_u, rng)
        chosen = np.concatenate([uncertain, nearest])
        return Selection(view.unlabeled[chosen], scores, self.measure)
