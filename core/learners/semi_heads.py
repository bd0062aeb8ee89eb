"""Semi-supervised heads on any feature space: they use the unlabelled pool as well as the labels.

The training paradigm moves accuracy more than the query strategy (Lüth et al. 2023), so a
comparison can vary the head as well as the strategy. Both heads are scikit-learn's:

- `label_spreading`: scikit-learn's `LabelSpreading` (Zhou et al. 2004) on a sparse, symmetrised k-NN graph of
  the labelled + unlabelled features, reduced to at most `SPREAD_DIMENSIONS` principal components
  first (the graph's neighbour search costs n^2 x d; 512 -> 64 dimensions keeps the neighbours of
  well-separated backbone features and makes a 50k pool a matter of seconds); the reduction and the
  graph depend only on the pool, which frozen features keep the same every round, so a learner keeps
  them across its fits (`SpreadGraph`);
- `self_training`: `SelfTrainingClassifier` around the logistic head: pseudo-labels every
  unlabelled sample predicted above `threshold`, refits, until none is added (Yarowsky 1995).

Each returns the fitted model and the class probabilities of the unlabelled samples (the
transduction the runner uses for the pool instead of a second prediction).
"""

from __future__ import annotations

import warnings

import numpy as np

SPREAD_DIMENSIONS = 64
PCA_FIT_ROWS = 10_000


NEAREST_BLOCK = 64  # points per block in `nearest`'s first stage


def nearest(queries: np.ndarray, points: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """Indices (len(queries), k) of each query's k nearest points (squared Euclidean), exact (up to ties).

    Selecting the k smallest of each row of the distance matrix is most of the cost (scikit-learn's
    brute force and numpy's argpartition: 27 s and 100 s for 50k x 50k on one thread; torch.topk over
    whole rows: about 17-30 s). So the selection runs in two stages: each row's distances in blocks of
    `NEAREST_BLOCK` points, the k blocks with the smallest minimum (a vectorised min, then topk over
    n / 64 values), then topk over those k blocks' 64k distances. Exact: the k nearest points lie in
    blocks whose minimum is at most the k-th nearest distance, and the k smallest block minima are k
    distinct points at or below it, so no other block can hold one of them.
    """
    import torch

    Q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
    P = np.ascontiguousarray(points, dtype=np.float32)
    block = NEAREST_BLOCK
    n_blocks = -(-len(P) // block)
    padded = torch.zeros((n_blocks * block, P.shape[1]), dtype=torch.float32)
    padded[:len(P)] = torch.from_numpy(P)
    norms = (padded * padded).sum(1)
    norms[len(P):] = torch.inf  # padding points are never near
    k_blocks = min(k, n_blocks)
    out = np.empty((len(Q), k), dtype=np.int64)
    for start in range(0, len(Q), chunk):
        d = torch.addmm(norms, Q[start:start + chunk], padded.T, alpha=-2)  # |p|^2 - 2 q.p: |q - p|^2's order
        blocks = d.view(len(d), n_blocks, block)
        best = torch.topk(blocks.amin(dim=2), k_blocks, dim=1, largest=False, sorted=False).indices
        candidates = torch.gather(blocks, 1, best[:, :, None].expand(-1, -1, block)).reshape(len(d), -1)
        pick = torch.topk(candidates, k, dim=1, largest=False, sorted=False).indices
        out[start:start + chunk] = (torch.gather(best, 1, pick // block) * block + pick % block).numpy()
    return out


def knn_graph(points: np.ndarray, k: int):
    """The symmetrised connectivity graph (csr, float32) of each point's k nearest points (itself included)."""
    from scipy import sparse

    n = min(k, len(points))
    index = nearest(points, points, n)
    G = sparse.csr_matrix((np.ones(index.size, dtype=np.float32), index.ravel(), np.arange(0, index.size + 1, n)),
                          shape=(len(points), len(points)))
    return ((G + G.T) * 0.5).tocsr()


def knn_kernel(k: int, graph=None):
    """A LabelSpreading kernel: connectivity of the k nearest neighbours (symmetrised over the training graph);
    `graph`, when given, is the training graph already built (the pool's, kept across fits)."""
    from scipy import sparse

    def kernel(A: np.ndarray, B: np.ndarray):
        # scikit-learn calls kernel(X_train, X_train) for the graph and kernel(X_train, X_new) to predict,
        # then uses the transpose: column j holds the training neighbours of B[j]
        if A is B:
            return graph if graph is not None else knn_graph(A, k)
        n = min(k, len(A))
        index = nearest(B, A, n)
        return sparse.csr_matrix((np.ones(index.size, dtype=np.float32), index.ravel(),
                                  np.arange(0, index.size + 1, n)), shape=(len(B), len(A))).T.tocsr()

    return kernel


def row_digests(Z: np.ndarray) -> np.ndarray:
    """An 8-byte blake2b digest of each row's bytes, as uint64: the rows' identity, whatever their order."""
    import hashlib

    Z = np.ascontiguousarray(Z)
    return np.frombuffer(b"".join(hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in Z),
                         dtype=np.uint64)


def pool_statistics(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of the rows of `F` per column, whatever the rows' order: summed in the order of their
    content digests, so the same pool gives the same bytes every round (and its graph is reused)."""
    canonical = F[np.argsort(row_digests(F), kind="stable")]
    return canonical.mean(axis=0), canonical.std(axis=0)


class SpreadGraph:
    """The pool's reduced features and k-NN graph, kept across fits (a learner holds one per run).

    Backbone features are frozen, so the labelled + unlabelled pool is the same set of rows every
    round, only in another order (labelled rows first). The reduction and the graph are built once
    in a canonical order (by each row's content digest) and permuted to the order a fit gives; the
    key is the sorted digests with k and the seed, so a changed pool (other rows, a skipped item)
    builds a new graph and a reordered pool reuses it with its rows matched by content.
    """

    def __init__(self) -> None:
        self.key: bytes | None = None
        self.builds = 0  # graphs built (the rest were reused): what a test and the benchmark read

    def get(self, Z_all: np.ndarray, n_neighbors: int, seed: int):
        """(pca or None, reduced rows, graph), both in `Z_all`'s row order."""
        import hashlib

        digests = row_digests(Z_all)
        order = np.argsort(digests, kind="stable")
        key = hashlib.blake2b(digests[order].tobytes() + repr((Z_all.shape, n_neighbors, seed)).encode()).digest()
        if key != self.key:
            canonical = Z_all[order]
            self.pca = _reducer(canonical, seed)
            R = self.pca.transform(canonical) if self.pca is not None else canonical
            self.reduced = np.ascontiguousarray(R, dtype=np.float32)
            self.graph = knn_graph(self.reduced, n_neighbors)
            self.key, self.builds = key, self.builds + 1
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return self.pca, np.ascontiguousarray(self.reduced[rank]), self.graph[rank][:, rank].tocsr()


def _reducer(Z: np.ndarray, seed: int):
    """PCA to `SPREAD_DIMENSIONS`, fitted on at most `PCA_FIT_ROWS` rows drawn with `seed` (64 directions
    of 512 are estimated as well from 10k rows as from 50k, at a fifth of the cost)."""
    from sklearn.decomposition import PCA

    if Z.shape[1] <= SPREAD_DIMENSIONS or len(Z) <= SPREAD_DIMENSIONS:
        return None
    rows = (np.sort(np.random.default_rng(seed).choice(len(Z), PCA_FIT_ROWS, replace=False))
            if len(Z) > PCA_FIT_ROWS else slice(None))
    return PCA(SPREAD_DIMENSIONS, svd_solver="randomized", random_state=seed).fit(Z[rows])


class SpreadHead:
    """LabelSpreading on a k-NN graph of (reduced) features; predict_proba for new samples uses the same graph."""

    def __init__(self, n_neighbors: int, alpha: float, max_iter: int = 1000, seed: int = 0,
                 graph: SpreadGraph | None = None) -> None:
        self.n_neighbors, self.alpha, self.max_iter, self.seed = n_neighbors, alpha, max_iter, seed
        self.graph = graph if graph is not None else SpreadGraph()

    def fit(self, Z: np.ndarray, y: np.ndarray, Z_unlabeled: np.ndarray) -> np.ndarray:
        """Fit on labelled `Z`, `y` and unlabelled `Z_unlabeled`; the unlabelled samples' probabilities."""
        from sklearn.semi_supervised import LabelSpreading

        self.pca_, R, G = self.graph.get(np.concatenate([Z, Z_unlabeled]), self.n_neighbors, self.seed)
        self.model_ = LabelSpreading(kernel=knn_kernel(self.n_neighbors, G), alpha=self.alpha, max_iter=self.max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=Warning)  # "max_iter reached": the spread is already useful
            self.model_.fit(R, np.concatenate([y, np.full(len(Z_unlabeled), -1)]))
        return self.model_.label_distributions_[len(Z):]

    @property
    def classes_(self) -> np.ndarray:
        return self.model_.classes_

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:
        R = self.pca_.transform(Z) if self.pca_ is not None else Z
        p = self.model_.predict_proba(np.ascontiguousarray(R, dtype=np.float32))
        return np.nan_to_num(p, nan=1.0 / p.shape[1])


class SelfTrainingHead:
    """Logistic regression refitted on its own confident predictions of the unlabelled pool."""

    def __init__(self, C: float, threshold: float, seed: int = 0) -> None:
        self.C, self.threshold, self.seed = C, threshold, seed

    def fit(self, Z: np.ndarray, y: np.ndarray, Z_unlabeled: np.ndarray) -> np.ndarray:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from sklearn.semi_supervised import SelfTrainingClassifier

        base = LogisticRegression(C=self.C, max_iter=1000, random_state=self.seed)
        self.model_ = SelfTrainingClassifier(base, threshold=self.threshold, max_iter=10)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(np.concatenate([Z, Z_unlabeled]), np.concatenate([y, np.full(len(Z_unlabeled), -1)]))
        return self.model_.predict_proba(Z_unlabeled) if len(Z_unlabeled) else np.zeros((0, len(self.classes_)))

    @property
    def classes_(self) -> np.ndarray:
        return self.model_.classes_

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(Z)
