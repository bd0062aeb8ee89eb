"""coreset, typiclust and probcover against scikit-activeml's CoreSet, TypiClust and ProbCover on the
same inputs. Skipped unless scikit-activeml is installed (the `bench` extra).

- CoreSet: deterministic given a labelled set (continuous features, no ties): identical picks.
- TypiClust: both given the same clustering (a fixed-labels stand-in for K-means) and clusters of
  distinct sizes (scikit-activeml breaks size ties at random, we by cluster id): identical picks.
- ProbCover: ties in coverage gain are drawn at random on both sides, so the test is on tight
  blobs where every tied choice covers the same blob: the same blobs, in the same order. The purity
  rule: scikit-activeml scans a grid of deltas; ours is the largest delta, so it lies between their
  grid choice and the next grid value.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skactiveml")

from skactiveml.pool import CoreSet, ProbCover, TypiClust  # noqa: E402

from core.strategies.coverage import (  # noqa: E402
    ball_graph, k_center_greedy, max_coverage_greedy, purity_delta, typiclust_select,
)


class FixedClusters:
    """A stand-in clustering algorithm: returns the labels it was built with."""

    labels: np.ndarray = np.zeros(0, dtype=int)

    def __init__(self, n_clusters=None, random_state=None):
        self.n_clusters = n_clusters

    def fit_predict(self, X):
        return self.labels.copy()


def with_missing(n_labeled: int, n: int, labels=None) -> np.ndarray:
    y = np.full(n, np.nan)
    y[:n_labeled] = 0 if labels is None else labels[:n_labeled]
    return y


@pytest.mark.parametrize("n_labeled", [1, 10, 40])
@pytest.mark.parametrize("k", [1, 15, 60])
def test_coreset_picks_what_skactiveml_picks(n_labeled, k):
    rng = np.random.default_rng(n_labeled + k)
    X = rng.normal(size=(400, 16)).astype(np.float32) * rng.uniform(0.5, 2, 16).astype(np.float32)
    ours = k_center_greedy(X[n_labeled:], X[:n_labeled], k, np.random.default_rng(0)) + n_labeled
    theirs = CoreSet(random_state=0).query(X, with_missing(n_labeled, len(X)), batch_size=k)
    assert ours.tolist() == theirs.tolist()


def distinct_blobs(sizes, d=8, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(len(sizes), d)) * 5
    label = np.repeat(np.arange(len(sizes)), sizes)
    order = rng.permutation(len(label))
    label = label[order]
    return (middle[label] + rng.normal(size=(len(label), d)) * spread).astype(np.float32), label


@pytest.mark.parametrize("k", [1, 3, 5])
def test_typiclust_picks_what_skactiveml_picks(k):
    sizes = [70, 64, 52, 45, 38, 30]
    X, label = distinct_blobs(sizes, spread=1.0)
    covered = label[0]
    first = np.flatnonzero(label == covered)[:6]  # the labelled set: 6 samples of one blob (>= 6 cluster ids)
    order = np.r_[first, np.setdiff1d(np.arange(len(X)), first)]
    X, label = X[order], label[order]
    FixedClusters.labels = label
    ours = typiclust_select(X, 6, label, k, np.random.default_rng(0), n_neighbors=5) + 6
    theirs = TypiClust(random_state=0, cluster_algo=FixedClusters, k=5).query(X, with_missing(6, len(X)), batch_size=k)
    assert ours.tolist() == theirs.tolist()


@pytest.mark.filterwarnings("ignore:The maximum purity")  # one delta given: their purity scan is skipped
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_probcover_covers_the_same_blobs_in_the_same_order(seed):
    sizes = [40, 33, 27, 21, 15, 9, 5]
    X, label = distinct_blobs(sizes, seed=seed)
    n_labeled = 3
    k = 6
    ours = max_coverage_greedy(ball_graph(X, 1.0), n_labeled, k, np.random.default_rng(seed)) + n_labeled
    theirs = ProbCover(deltas=[1.0], random_state=seed).query(X, with_missing(n_labeled, len(X)), batch_size=k)
    blobs_left = [c for c in np.argsort(-np.bincount(label)) if c not in set(label[:n_labeled])]
    expected = blobs_left[:k]  # largest uncovered blob first; then (all covered) random picks
    n_cover = min(k, len(blobs_left))
    assert label[ours[:n_cover]].tolist() == label[theirs[:n_cover]].tolist() == expected[:n_cover]


@pytest.mark.parametrize("alpha", [0.8, 0.95])
def test_purity_delta_lies_between_skactiveml_grid_choice_and_the_next(alpha):
    X, label = distinct_blobs([60, 50, 40], d=4, spread=0.6, seed=3)
    X /= np.float32(4.0)  # distances on the scale of their default grid 0.2 .. 2.0
    FixedClusters.labels = label
    grid = np.arange(0.2, 2.2, 0.2)
    peer = ProbCover(deltas=grid, alpha=alpha, n_classes=3, cluster_algo=FixedClusters, random_state=0)
    peer.query(X, with_missing(5, len(X), label), batch_size=1)
    ours = purity_delta(X, label, alpha, np.random.default_rng(0))
    assert peer.delta_max_ <= ours
    following = grid[grid > peer.delta_max_ + 1e-12]
    if following.size:
        assert ours < following[0]
