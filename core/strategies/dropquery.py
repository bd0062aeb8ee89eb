"""DropQuery (Gupte et al. 2024, "Revisiting Active Learning in the Era of Vision Foundation
Models", TMLR): dropout disagreement for uncertainty, K-means for diversity.

1. Candidates: the samples whose predicted class changes under dropout in more than half of
   the S passes, against the prediction of the mean (the paper's code, `mismatch > M // 2`
   with M = 3 passes: at least 2 of 3; scikit-activeml's `disagree_rate > 0.5` is the same).
2. K-means with k clusters on the candidates' features; for each centre in turn, the
   candidate nearest to it that is not yet chosen (scikit-activeml's rule; the paper's code
   takes the member of each cluster nearest its centre, the same pick whenever that member is
   also the nearest candidate overall, as it is at a Lloyd fixed point barring near ties).
3. Fewer candidates than k: every candidate, and the rest from the most uncertain others:
   the most disagreeing passes first, ties by BALD (scikit-activeml fills by disagreement
   rate alone, ties in argsort order; the paper's code does not handle it).

Dropout here is the learner's own MC dropout (`proba_samples`: dropout inside the head, on
the penultimate features, as the paper applies it to a linear classifier on frozen
features). scikit-activeml's DropQuery instead zeroes a fraction of the *input* features
without rescaling and predicts with the unchanged classifier; that is a different
perturbation (for pixel inputs it blanks pixels) and needs the classifier again, which the
strategy contract does not give a strategy: we follow the paper. The peer test feeds
scikit-activeml the same predictions so that the two selections can be compared.

K-means is fitted on at most `fit_size` candidates (a uniform subset: faiss, which the paper
uses, subsamples to max_points_per_centroid x k likewise); the nearest candidates are then
searched among all of them in blocks, so 1M x 512 candidates cost one pass, not n x k memory; above
`search_size` candidates (default 100,000) among the fit rows plus a uniform sample of that many.
K-means starts from k random candidates, as faiss does, not k-means++.
"""

from __future__ import annotations

import numpy as np

from core.params import Interval
from core.strategies.base import STRATEGIES, Strategy, check_k, top_k
from core.types import PoolView, Selection

_CHUNK_ROWS = 4096  # 4096 x 512 float32 = 8 MB per block of the nearest-candidate search


def dropout_disagreement(samples: np.ndarray) -> np.ndarray:
    """How many of the S passes predict another class than the mean of the passes does. Shape (n,), int.

    Blocked over n: the (S, block) argmax temporaries stay small at 1M x S x C.
    """
    S, n, _ = samples.shape
    out = np.empty(n, dtype=np.int64)
    rows = max(1, (1 << 22) // max(1, S * samples.shape[2]))
    for start in range(0, n, rows):
        block = samples[:, start:start + rows]
        mean_class = block.mean(axis=0, dtype=np.float64).argmax(axis=1)
        out[start:start + rows] = (block.argmax(axis=2) != mean_class[None, :]).sum(axis=0)
    return out


def dropout_candidates(disagreement: np.ndarray, n_passes: int) -> np.ndarray:
    """Positions whose prediction changes in more than half of the passes (the paper: > M // 2)."""
    return np.flatnonzero(disagreement > n_passes // 2)


def nearest_distinct(X: np.ndarray, centres: np.ndarray, rows: np.ndarray | None = None, keep: int = 16) -> np.ndarray:
    """For each centre in order, the row nearest to it not chosen for an earlier centre.

    Searches `rows` of X (all rows if None) and returns positions in `rows`. One blocked pass
    keeps each centre's `keep` nearest rows (k x keep numbers, never n x k, and no copy of
    X[rows]); a centre whose kept rows are all taken (more than `keep` earlier centres took
    its nearest rows: rare) gets an exact pass of its own. Squared distances ||x||^2 - 2 x.c +
    ||c||^2 in float64 per block; exact ties go to the lowest row.
    """
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    n, k = len(rows), len(centres)
    keep = min(keep, n)
    C = np.asarray(centres, dtype=np.float64)
    c_sq = np.einsum("ij,ij->i", C, C)

    def distances(start: int) -> np.ndarray:  # (k, block) squared distances of rows[start:start+block]
        block = np.asarray(X[rows[start:start + _CHUNK_ROWS]], dtype=np.float64)
        return np.einsum("ij,ij->i", block, block)[None, :] - 2.0 * (C @ block.T) + c_sq[:, None]

    best_d = np.full((k, keep), np.inf)
    best_i = np.zeros((k, keep), dtype=np.int64)
    for start in range(0, n, _CHUNK_ROWS):
        d = distances(start)
        idx = np.broadcast_to(np.arange(start, start + d.shape[1]), d.shape)
        if d.shape[1] > keep:  # only each centre's `keep` nearest of the block can matter
            part = np.argpartition(d, keep - 1, axis=1)[:, :keep]
            d, idx = np.take_along_axis(d, part, axis=1), np.take_along_axis(idx, part, axis=1)
        d_all, i_all = np.concatenate([best_d, d], axis=1), np.concatenate([best_i, idx], axis=1)
        order = np.lexsort((i_all, d_all), axis=1)[:, :keep]  # by distance, ties to the lowest row
        best_d, best_i = np.take_along_axis(d_all, order, axis=1), np.take_along_axis(i_all, order, axis=1)
    chosen = np.empty(k, dtype=np.int64)
    taken = np.zeros(n, dtype=bool)
    for c in range(k):
        free = best_i[c][~taken[best_i[c]]]
        if free.size:
            chosen[c] = free[0]
        else:  # every kept row was taken: one exact pass for this centre
            d = np.concatenate([distances(start)[c] for start in range(0, n, _CHUNK_ROWS)])
            d[taken] = np.inf
            chosen[c] = int(np.argmin(d))
        taken[chosen[c]] = True
    return chosen


def dropquery(samples: np.ndarray, features: np.ndarray, k: int, rng: np.random.Generator, *,
              fit_size: int = 20_000, search_size: int = 10_000_000,
              init: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(positions chosen, disagreement rate per sample): DropQuery over samples (S, n, C) and features (n, d).

    `init`: k starting centres for K-means (default k rows drawn at random from `rng`'s seed); the peer
    test passes the same centres to both sides, since k-means++ depends on the rows' order.
    `search_size`: above this many candidates, each centre's nearest is searched among the fit rows plus a
    uniform sample of this many candidates (the search reads every searched row once per centre block:
    10 s of 15 at 1M x 512, 310,000 candidates).
    """
    S, n, _ = samples.shape
    check_k(k, n)
    disagreement = dropout_disagreement(samples)
    rate = (disagreement / S).astype(np.float32)
    candidates = dropout_candidates(disagreement, S)
    if candidates.size <= k:  # every candidate, then the most uncertain of the rest
        from core.strategies.bald import bald

        rest = np.setdiff1d(np.arange(n), candidates)
        C = samples.shape[2]
        # disagreement first, BALD (< log C + 1) only between equal disagreement counts
        key = disagreement[rest] + bald(samples[:, rest]) / (np.log(C) + 1.0)
        fill = rest[top_k(key, k - candidates.size, rng)] if k > candidates.size else rest[:0]
        return np.concatenate([candidates, fill]), rate
    from sklearn.cluster import KMeans  # imported here: validating a config must not pay for it

    X = np.asarray(features, dtype=np.float32)
    fit_rows = candidates
    if candidates.size > max(fit_size, k):
        fit_rows = np.sort(rng.choice(candidates, size=max(fit_size, k), replace=False))
    seed = int(rng.integers(2**31 - 1))
    # Random initial centres, as faiss (the paper's K-means) draws them: scikit-learn's k-means++ with
    # k = 1000 was 25 s of a 30 s selection at 100k x 512 (its float32 distances are upcast per chunk).
    kmeans = KMeans(n_clusters=k, n_init=1, random_state=seed, init="random" if init is None else init)
    kmeans.fit(X[fit_rows])
    search = candidates
    if candidates.size > max(search_size, k):  # the fit rows and a uniform sample of the other candidates
        search = np.union1d(fit_rows, rng.choice(candidates, size=max(search_size, k), replace=False))
    picked = nearest_distinct(X, kmeans.cluster_centers_, search)
    return search[picked], rate


MAX_FIT_SIZE = 10_000_000


@STRATEGIES.register("dropquery")
class DropQuery(Strategy):
    """Samples whose MC-dropout predictions flip, spread out by K-means on features (one per cluster)."""

    parameters = {
        "fit_size": Interval(int, 100, None, default=20_000, at_most=MAX_FIT_SIZE, label="K-means fit size",
                             help="K-means is fitted on at most this many candidates (a random subset; at least "
                                  "the batch size); the nearest candidates are searched among all"),
        "search_size": Interval(int, 1000, None, default=100_000, at_most=MAX_FIT_SIZE, label="Nearest search size",
                                help="above this many candidates, each K-means centre's nearest candidate is "
                                     "searched among the fit rows plus this many drawn at random"),
    }
    needs = frozenset({"proba_samples", "pool_features"})

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        check_k(k, view.n_unlabeled)
        positions, rate = dropquery(view.proba_samples, view.embeddings, k, rng, fit_size=self.fit_size,
                                    search_size=self.search_size)
        return Selection(view.unlabeled[positions], rate, "dropout disagreement")
