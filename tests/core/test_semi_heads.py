"""Semi-supervised heads: the unlabelled pool helps where the data have clusters and labels are few."""

from __future__ import annotations

import numpy as np
import pytest

from core.learners import make_learner
from core.learners.semi_heads import SelfTrainingHead, SpreadHead
from core.types import DataInfo


def clustered(n: int = 1200, dims: int = 128, seed: int = 0):
    """Two interleaved half-moons in a random 2-D plane of `dims` dimensions: clusters a linear fit on a
    few labels cuts wrongly, while the neighbours follow each moon."""
    from sklearn.datasets import make_moons

    X2, y = make_moons(n, noise=0.06, random_state=seed)
    basis = np.linalg.qr(np.random.default_rng(0).normal(size=(dims, 2)))[0]  # one plane for every sample
    X = X2 @ basis.T * 3 + np.random.default_rng(seed + 1).normal(0, 0.02, (n, dims))
    return X.astype(np.float32), y


def _accuracy(proba, classes, y):
    return float((classes[proba.argmax(1)] == y).mean())


@pytest.mark.parametrize("labels_per_class", [1, 2])
def test_label_spreading_beats_the_supervised_head_at_small_budgets(labels_per_class):
    from sklearn.linear_model import LogisticRegression

    X, y = clustered()
    rng = np.random.default_rng(1)
    labelled = np.concatenate([rng.choice(np.flatnonzero(y == c), labels_per_class, replace=False) for c in np.unique(y)])
    rest = np.setdiff1d(np.arange(len(y)), labelled)
    supervised = LogisticRegression(max_iter=1000).fit(X[labelled], y[labelled])
    head = SpreadHead(n_neighbors=10, alpha=0.99)
    transduction = head.fit(X[labelled], y[labelled], X[rest])
    spread = _accuracy(transduction, head.classes_, y[rest])
    plain = _accuracy(supervised.predict_proba(X[rest]), supervised.classes_, y[rest])
    assert spread > plain + 0.05, (spread, plain)
    # new samples (the test split) are classified through the same graph
    X_new, y_new = clustered(n=200, seed=5)
    assert _accuracy(head.predict_proba(X_new), head.classes_, y_new) > plain


def test_self_training_pseudo_labels_confident_samples():
    X, y = clustered(n=300)
    labelled = np.concatenate([np.flatnonzero(y == c)[:3] for c in (0, 1)])
    rest = np.setdiff1d(np.arange(len(y)), labelled)
    head = SelfTrainingHead(C=1.0, threshold=0.8)
    proba = head.fit(X[labelled], y[labelled], X[rest])
    assert proba.shape == (len(rest), 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-6)
    pseudo = head.model_.labeled_iter_
    assert (pseudo[len(labelled):] > 0).sum() > 0  # some unlabelled samples were taken as pseudo-labels
    assert _accuracy(proba, head.classes_, y[rest]) > 0.7


@pytest.mark.parametrize("head", ["label_spreading", "self_training"])
def test_pretrained_learner_declares_and_uses_the_semi_supervised_heads(head, tmp_path):
    import torch
    from torchvision.models import resnet18

    torch.manual_seed(1)
    weights = tmp_path / "resnet18-random.pth"
    torch.save(resnet18().state_dict(), weights)
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    X = rng.integers(0, 40, (60, 16, 16, 3)).astype(np.uint8)
    for c in range(3):
        X[y == c, :, :, c] += 200
    info = DataInfo(3, (16, 16, 3), 1 / 255, ("a", "b", "c"))
    learner = make_learner("pretrained", info, seed=0, weights=str(weights), input_size=32, head=head)
    assert learner.semi_supervised
    assert not make_learner("pretrained", info, weights=str(weights), input_size=32).semi_supervised
    learner.fit(X[:9], y[:9], X_unlabeled=X[9:40])
    assert learner.transduction_proba_.shape == (31, 3)
    proba = learner.predict_proba(X[40:])
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    assert (proba.argmax(1) == y[40:]).mean() >= 0.8


def test_the_pools_graph_is_built_once_and_reused_for_the_same_rows_in_another_order():
    from core.learners.semi_heads import SpreadGraph

    X, y = clustered(n=400, dims=96)
    graph = SpreadGraph()
    first, second = np.arange(0, 400, 50), np.arange(0, 400, 25)  # round 1 and round 2's labelled rows
    for labelled in (first, second):
        rest = np.setdiff1d(np.arange(len(y)), labelled)[::-1]  # another order of the unlabelled rows too
        cached = SpreadHead(10, 0.99, graph=graph)
        proba = cached.fit(X[labelled], y[labelled], X[rest])
        fresh = SpreadHead(10, 0.99)  # its own graph, built for this fit
        np.testing.assert_allclose(proba, fresh.fit(X[labelled], y[labelled], X[rest]), atol=1e-6)
        np.testing.assert_allclose(cached.predict_proba(X[:20]), fresh.predict_proba(X[:20]), atol=1e-6)
    assert graph.builds == 1
    changed = X.copy()
    changed[7] += 0.5  # one row of the pool differs: its graph is not the cached one
    SpreadHead(10, 0.99, graph=graph).fit(changed[first], y[first], np.delete(changed, first, axis=0))
    assert graph.builds == 2


def test_the_pretrained_learner_keeps_its_graph_across_rounds(monkeypatch):
    """Frozen features: the label_spreading head's pool statistics and graph are the same every round."""
    from core.learners import pretrained

    X, y = clustered(n=300, dims=64)
    images = np.arange(len(X))[:, None]  # stand-in rows whose features are looked up
    monkeypatch.setattr(pretrained.PretrainedLearner, "features", lambda self, rows: X[np.asarray(rows)[:, 0]])
    learner = make_learner("pretrained", DataInfo(2, (1,), 1.0, ("a", "b")), seed=0, weights="none",
                           head="label_spreading")
    for n in (10, 20, 30):
        labelled = np.arange(n)
        learner.fit(images[labelled], y[labelled], X_unlabeled=images[n:][::-1])
    assert learner.spread_graph_.builds == 1
    assert (learner.predict_proba(images[200:]).argmax(1) == y[200:]).mean() > 0.8


@pytest.mark.parametrize("n_points,n_queries,k", [(1000, 300, 10), (130, 130, 5), (40, 7, 40)])
def test_nearest_is_the_exact_k_nearest(n_points, n_queries, k):
    """The two-stage selection (blocks by their minimum, then the points of the best blocks) finds the same
    distances as a full sort, with a pool that is not a whole number of blocks and k up to the pool."""
    import torch

    from core.learners.semi_heads import nearest

    rng = np.random.default_rng(n_points)
    P = rng.normal(size=(n_points, 16)).astype(np.float32)
    Q = rng.normal(size=(n_queries, 16)).astype(np.float32)
    index = nearest(Q, P, k)
    D = torch.cdist(torch.from_numpy(Q).double(), torch.from_numpy(P).double()).numpy()
    assert all(len(set(row)) == k for row in index) and index.max() < n_points
    np.testing.assert_allclose(np.sort(np.take_along_axis(D, index, 1), 1), np.sort(D, 1)[:, :k], atol=1e-4)
