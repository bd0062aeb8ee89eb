"""Cluster-Margin (Citovsky et al. 2021, "Batch Active Learning at Scale").

Take the k_m = margin_factor * k unlabelled samples with the smallest margin, group them by
hierarchical agglomerative clustering (average linkage, cut at a distance threshold), then
fill the batch round-robin over the groups, smallest group first, one random member of each
group per turn: uncertain samples, spread over the modes of the uncertain region.

Where we depart from the paper, and why: the paper clusters the whole pool once, before the
first round, in a fixed feature space. Here the features are the learner's embedding, refit
every round, and a strategy keeps no state between rounds; HAC of the whole pool is O(n^2)
time and memory (1M samples: 4 TB of distances). So each round clusters only the k_m margin
candidates, the only samples whose groups the round uses: O(k_m^2). Above `cap` candidates,
a random subsample of `cap` is clustered and the others join the group whose mean is nearest
(blocked, O(k_m * groups * d)); peak memory is about 10 * cap^2 bytes (scipy's condensed
distances, its working copy, the candidates: 94 MB measured at the default cap of 3,000).

The threshold is relative to the median pairwise distance of the clustered candidates, so
one value works across feature scales (pixels, CNN embeddings); the paper's absolute epsilon
is tuned per dataset. The default 0.9 makes about 10 groups of 100 digits candidates and 15
of 1,000: about one group per batch slot. At 0.75 (20-70 groups) there are more groups than
slots, smallest-first then takes singletons (outliers), and on digits it lost to random.
"""

from __future__ import annotations

import numpy as np

from core.params import Interval
from core.strategies.base import STRATEGIES, Strategy, check_k, top_k
from core.types import PoolView, Selection

_BLOCK_ENTRIES = 2**21


def average_linkage_labels(X: np.ndarray, threshold: float) -> np.ndarray:
    """Flat clusters 0..g-1 of average-linkage HAC cut at `threshold` x the median pairwise distance.

    scipy's `linkage` (nearest-neighbour chain, O(m^2)) does the merging; the cut keeps every
    merge made at an average distance <= the threshold.
    """
    m = len(X)
    if m < 2:
        return np.zeros(m, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    dist = pdist(np.asarray(X, dtype=np.float64))
    cut = threshold * float(np.median(dist))
    tree = linkage(dist, method="average")
    del dist
    return np.unique(fcluster(tree, cut, criterion="distance"), return_inverse=True)[1].astype(np.int64)


def nearest_mean_labels(X: np.ndarray, members: np.ndarray, member_labels: np.ndarray) -> np.ndarray:
    """For every row of X, the label of the nearest group mean (groups given by `members`' labels)."""
    n_groups = int(member_labels.max()) + 1
    d = X.shape[1]
    sums = np.zeros((n_groups, d))
    np.add.at(sums, member_labels, X[members])
    means = (sums / np.bincount(member_labels, minlength=n_groups)[:, None]).astype(X.dtype)
    m_sq = np.einsum("ij,ij->i", means, means)
    rows = max(1, _BLOCK_ENTRIES // n_groups)  # a block of distances stays near 8 MB however many groups
    out = np.empty(len(X), dtype=np.int64)
    for start in range(0, len(X), rows):
        block = X[start:start + rows]
        out[start:start + rows] = np.argmin(m_sq - 2.0 * (block @ means.T), axis=1)
    out[members] = member_labels
    return out


def candidate_clusters(X: np.ndarray, threshold: float, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Group labels of the rows of X: HAC of all of them, or of `cap` random ones plus nearest group mean."""
    if len(X) <= cap:
        return average_linkage_labels(X, threshold)
    members = np.sort(rng.choice(len(X), size=cap, replace=False))
    return nearest_mean_labels(X, members, average_linkage_labels(X[members], threshold))


def round_robin(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k positions taken one per group per turn, smallest group first, a random member each time.

    One random permutation fixes the order inside every group; then position = (turn, rank of
    the group by size, ties by label), sorted: the paper's loop over the groups, vectorised.
    """
    m = len(labels)
    check_k(k, m)
    order = rng.permutation(m)
    lab = labels[order]
    sizes = np.bincount(labels)
    group_rank = np.empty_like(sizes)
    group_rank[np.argsort(sizes, kind="stable")] = np.arange(sizes.size)
    by_group = np.argsort(lab, kind="stable")  # members of each group, in the random order
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    turn = np.empty(m, dtype=np.int64)
    turn[by_group] = np.arange(m) - starts[lab[by_group]]
    picked = np.lexsort((group_rank[lab], turn))[:k]
    return order[picked]


def cluster_margin(proba: np.ndarray, features: np.ndarray, k: int, margin_factor: float, threshold: float,
                   cap: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of the k picks: lowest-margin k_m candidates, clustered, then round-robin."""
    from core.strategies.measures import smallest_margin

    n = len(proba)
    check_k(k, n)
    k_m = min(n, max(k, int(round(margin_factor * k))))
    candidates = top_k(smallest_margin(proba), k_m, rng)
    if k_m == k:
        return candidates
    labels = candidate_clusters(np.asarray(features[candidates], dtype=np.float32), threshold, cap, rng)
    return candidates[round_robin(labels, k, rng)]


@STRATEGIES.register("cluster_margin")
class ClusterMargin(Strategy):
    """Cluster-Margin: the margin_factor*k lowest margins, grouped by HAC, picked round-robin, smallest group first."""

    parameters = {
        "margin_factor": Interval(float, 1.0, 100.0, default=10.0, step=0.5, label="Candidates per pick (k_m / k)",
                                  help="how many lowest-margin samples per batch slot are clustered; 1 = plain margin"),
        "threshold": Interval(float, 0.0, 10.0, closed="right", default=0.9, step=0.05,
                              label="HAC distance threshold (x median distance)",
                              help="average-linkage cut, relative to the median pairwise distance of the candidates"),
        "cap": Interval(int, 2, None, default=3000, at_most=20_000, label="Most candidates clustered",
                        help="above this many candidates, a random subsample is clustered; the rest join the nearest group"),
    }
    needs = frozenset({"proba", "pool_features"})

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        from core.strategies.measures import smallest_margin

        check_k(k, view.n_unlabeled)
        proba = view.proba
        chosen = cluster_margin(proba, view.embeddings, k, self.margin_factor, self.threshold, self.cap, rng)
        return Selection(view.unlabeled[chosen], smallest_margin(proba), "smallest_margin")
