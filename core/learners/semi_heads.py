"""Semi-supervised heads on any feature space: they use the unlabelled pool as well as the labels.

The training paradigm moves accuracy more than the query strategy (Lüth et al. 2023), so a
comparison can vary the head as well as the strategy. Both heads are scikit-learn's:

- `label_spreading`: scikit-learn's `LabelSpreading` (Zhou et al. 2004) on a sparse, symmetrised k-NN graph of
  the labelled + unlabelled features, reduced to at most `SPREAD_DIMENSIONS` principal components
  first (the graph's neighbour search costs n^2 x d; 512 -> 64 dimensions keeps the neighbours of
  well-separated backbone features and makes a 50k pool a matter of seconds);
- `self_training`: `SelfTrainingClassifier` around the logistic head: pseudo-labels every
  unlabelled sample predicted above `threshold`, refits, until none is added (Yarowsky 1995).

Each returns the fitted model and the class probabilities of the unlabelled samples (the
transduction the runner uses for the pool instead of a second prediction).
"""

from __future__ import annotations

import warnings

import numpy as np

SPREAD_DIMENSIONS = 64


def nearest(queries: np.ndarray, points: np.ndarray, k: int, chunk: int = 2048) -> np.ndarray:
    """Indices (len(queries), k) of each query's k nearest points (squared Euclidean), exact.

    Written here because scikit-learn's brute-force k-NN and numpy's argpartition spend most of their
    time selecting the k smallest of each row (measured 27 s and 100 s for 50k x 50k on one thread);
    a GEMM per chunk plus torch.topk does the same selection in a fraction of that.
    """
    import torch

    Q, P = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32)), torch.from_numpy(
        np.ascontiguousarray(points, dtype=np.float32))
    norms = (P * P).sum(1)
    out = np.empty((len(Q), k), dtype=np.int64)
    for start in range(0, len(Q), chunk):
        d = torch.addmm(norms, Q[start:start + chunk], P.T, alpha=-2)  # |p|^2 - 2 q.p: the same order as |q - p|^2
        out[start:start + chunk] = torch.topk(d, k, dim=1, largest=False, sorted=False).indices.numpy()
    return out


def knn_kernel(k: int):
    """A LabelSpreading kernel: connectivity of the k nearest neighbours (symmetrised over the training graph)."""
    from scipy import sparse

    def kernel(A: np.ndarray, B: np.ndarray):
        # scikit-learn calls kernel(X_train, X_train) for the graph and kernel(X_train, X_new) to predict,
        # then uses the transpose: column j holds the training neighbours of B[j]
        n = min(k, len(A))
        index = nearest(B, A, n)
        G = sparse.csr_matrix((np.ones(index.size, dtype=np.float32), index.ravel(),
                               np.arange(0, index.size + 1, n)), shape=(len(B), len(A))).T.tocsr()
        return ((G + G.T) * 0.5).tocsr() if A is B else G

    return kernel


def _reducer(Z: np.ndarray, seed: int):
    from sklearn.decomposition import PCA

    if Z.shape[1] <= SPREAD_DIMENSIONS or len(Z) <= SPREAD_DIMENSIONS:
        return None
    return PCA(SPREAD_DIMENSIONS, svd_solver="randomized", random_state=seed).fit(Z)


class SpreadHead:
    """LabelSpreading on a k-NN graph of (reduced) features; predict_proba for new samples uses the same graph."""

    def __init__(self, n_neighbors: int, alpha: float, max_iter: int = 1000, seed: int = 0) -> None:
        self.n_neighbors, self.alpha, self.max_iter, self.seed = n_neighbors, alpha, max_iter, seed

    def fit(self, Z: np.ndarray, y: np.ndarray, Z_unlabeled: np.ndarray) -> np.ndarray:
        """Fit on labelled `Z`, `y` and unlabelled `Z_unlabeled`; the unlabelled samples' probabilities."""
        from sklearn.semi_supervised import LabelSpreading

        Z_all = np.concatenate([Z, Z_unlabeled])
        self.pca_ = _reducer(Z_all, self.seed)
        R = self.pca_.transform(Z_all) if self.pca_ is not None else Z_all
        R = np.ascontiguousarray(R, dtype=np.float32)
        self.model_ = LabelSpreading(kernel=knn_kernel(self.n_neighbors), alpha=self.alpha, max_iter=self.max_iter)
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
