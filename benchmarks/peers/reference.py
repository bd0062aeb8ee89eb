"""Plain reference implementations, written from the definitions, for the strategies no peer has;
and the one rule every "same selection" check uses.

Largest margin: 1 - (p_top1 - p_lowest), ranked by a full sort. Hybrid (the seed paper): the
round(alpha*k) most uncertain samples S_u, K-means on their features, then the k - |S_u|
samples outside S_u nearest to any centroid -- here as a straightforward Python loop over the
pool, one sample at a time, as the seed notebook did.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.cluster import KMeans

TIE_ATOL = 1e-6  # float32 probabilities: scores computed two ways differ in the last bits


def same_up_to_ties(ours: np.ndarray, theirs: np.ndarray, scores: np.ndarray, *, atol: float = TIE_ATOL,
                    rtol: float = 0.0) -> tuple[bool, int]:
    """(same, n_swapped): the two choices are the same set, or differ only by samples tied at the cut.

    `scores` is the reference score of every candidate (higher = chosen first). A sample one
    side chose and the other did not is a legitimate tie only if its score equals the k-th
    highest score within `atol + rtol * |cut|`. n_swapped counts such samples on one side.
    """
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if ours.size != theirs.size or np.unique(ours).size != ours.size or np.unique(theirs).size != theirs.size:
        return False, 0
    differ = np.setxor1d(ours, theirs)
    if differ.size == 0:
        return True, 0
    cut = np.partition(scores, scores.size - ours.size)[scores.size - ours.size]
    return bool(np.all(np.abs(scores[differ] - cut) <= atol + rtol * abs(cut))), int(differ.size // 2)


def largest_margin_scores(proba: np.ndarray) -> np.ndarray:
    """1 - (highest - lowest class probability), from the definition."""
    p = proba.astype(np.float64)
    return 1.0 - (p.max(axis=1) - p.min(axis=1))


def largest_margin_select(proba: np.ndarray, k: int) -> np.ndarray:
    """The k highest largest-margin scores, by a full stable sort."""
    return np.argsort(-largest_margin_scores(proba), kind="stable")[:k]


def _entropy_row(row) -> float:
    return -sum(p * math.log(p) for p in row if p > 0.0)


def _least_confidence_row(row) -> float:
    return 1.0 - max(row)


def _smallest_margin_row(row) -> float:
    first, second = sorted(row, reverse=True)[:2]
    return 1.0 - (first - second)


def _largest_margin_row(row) -> float:
    return 1.0 - (max(row) - min(row))


ROW_MEASURES = {"entropy": _entropy_row, "least_confidence": _least_confidence_row,
                "smallest_margin": _smallest_margin_row, "largest_margin": _largest_margin_row}


def hybrid_loop_select(proba: np.ndarray, features: np.ndarray, k: int, *, alpha: float, n_clusters: int,
                       measure: str, kmeans_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The hybrid, one pool sample at a time. Returns (S_u in descending uncertainty, the fill).

    `kmeans_seed` is K-means' random_state: give the value our strategy draws so both cluster
    the same points from the same start (K-means itself is not what is being checked).
    """
    score = ROW_MEASURES[measure]
    uncertainty = [score(row) for row in proba.tolist()]
    order = sorted(range(len(uncertainty)), key=lambda i: -uncertainty[i])
    n_u = int(round(alpha * k))
    s_u = order[:n_u]
    in_s_u = set(s_u)
    kmeans = KMeans(n_clusters=n_clusters, n_init=1, random_state=kmeans_seed).fit(features[s_u])
    centroids = kmeans.cluster_centers_
    distances = []
    for i in range(len(features)):
        if i in in_s_u:
            continue
        nearest = min(float(np.sum((features[i] - c) ** 2)) for c in centroids)
        distances.append((nearest, i))
    distances.sort()
    fill = [i for _, i in distances[: k - n_u]]
    return np.asarray(s_u), np.asarray(fill)
