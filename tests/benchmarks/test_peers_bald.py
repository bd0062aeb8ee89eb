"""Same MC-dropout probability samples: ours and scikit-activeml's GreedyBALD, BatchBALD and
DropQuery choose the same samples (exact forms), or estimate the same quantity (sampled form).
Skipped unless scikit-activeml is installed (the `bench` extra)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skactiveml")

from skactiveml.base import SkactivemlClassifier  # noqa: E402
from skactiveml.pool import BatchBALD, DropQuery, GreedyBALD  # noqa: E402
from skactiveml.pool._bald import _SampledJointEntropy  # noqa: E402

from benchmarks.peers.reference import same_up_to_ties  # noqa: E402
from core.strategies import make_strategy  # noqa: E402
from core.strategies.bald import _joint_entropies, _sample_configurations, bald, batchbald  # noqa: E402
from core.strategies.dropquery import dropquery  # noqa: E402
from core.types import PoolView  # noqa: E402


def mc_samples(S: int, n: int, C: int, seed: int, concentration: float = 1.0) -> np.ndarray:
    """(S, n, C) float32 samples around a per-sample mean, none below 1e-6: scikit-activeml clips
    probabilities to 1e-7 before its logarithms, so with these the two compute the same numbers."""
    rng = np.random.default_rng(seed)
    mean = rng.dirichlet(np.ones(C), size=n)
    p = np.stack([rng.dirichlet(concentration * 20 * mean[i] + 0.2, size=S) for i in range(n)], axis=1)
    p = np.maximum(p, 1e-6)
    return (p / p.sum(axis=2, keepdims=True)).astype(np.float32)


class FixedSamples(SkactivemlClassifier):
    """A fitted stand-in whose `sample_proba` returns the given samples for the rows it is asked about
    (X holds the row numbers), so the peer reads exactly the probabilities we read."""

    def __init__(self, samples=None, classes=None, missing_label=np.nan):
        super().__init__(classes=classes, missing_label=missing_label)
        self.samples = samples

    def fit(self, X, y, sample_weight=None):
        return self

    def sample_proba(self, X):
        return self.samples[:, np.asarray(X)[:, 0].astype(int)].astype(np.float64)


def _peer_bald(cls, samples: np.ndarray, k: int, **kwargs) -> np.ndarray:
    S, n, C = samples.shape
    ensemble = FixedSamples(samples, classes=np.arange(C))
    ensemble.classes_ = np.arange(C)  # "fitted"
    X, y = np.arange(n, dtype=float)[:, None], np.full(n, np.nan)
    strategy = cls(sample_predictions_method_name="sample_proba", random_state=0, **kwargs)
    return np.asarray(strategy.query(X, y, ensemble, fit_ensemble=False, batch_size=k))


@pytest.mark.parametrize("k", [1, 10, 50])
@pytest.mark.parametrize("seed", [0, 1])
def test_greedy_bald_picks_what_bald_picks(k, seed):
    samples = mc_samples(8, 400, 10, seed)
    view = PoolView(np.zeros(400, dtype=bool), proba_samples=samples, strategy="bald")
    ours = make_strategy("bald").select(view, k, rng=np.random.default_rng(0)).indices
    theirs = _peer_bald(GreedyBALD, samples, k)
    same, _ = same_up_to_ties(ours, theirs, bald(samples), atol=1e-6)
    assert same, f"{sorted(ours)} vs {sorted(theirs)}"


@pytest.mark.parametrize("S, C, k", [(8, 4, 5), (6, 3, 7), (10, 10, 4)])
def test_batchbald_picks_what_theirs_picks_while_the_joint_entropy_is_exact(S, C, k):
    """Both exact (C^(k-1) <= M): the same greedy picks, in the same order."""
    samples = mc_samples(S, 150, C, seed=C)
    M = C ** (k - 1)
    ours, _ = batchbald(samples, k, M, np.random.default_rng(0))
    theirs = _peer_bald(BatchBALD, samples, k, n_MC_samples=M)
    np.testing.assert_array_equal(ours, theirs)


def test_sampled_joint_entropy_estimates_agree_with_theirs_and_the_exact_value():
    """Beyond exact, both estimate H(y_batch, y_n) from M configurations drawn per model, weighted
    by 1/q: over 40 draws each, both means sit within 4 standard errors of the exact entropy and
    their spreads are alike (the same estimator; the random streams differ, so picks may not)."""
    S, C, M = 8, 4, 256
    samples = mc_samples(S, 12, C, seed=3, concentration=0.3)
    batch, candidates = [0, 1, 2, 3], np.arange(4, 12)
    exact_joint = np.ones((1, S))
    for j in batch:
        exact_joint = (exact_joint[:, None, :] * samples[:, j].astype(np.float64).T[None]).reshape(-1, S)
    exact = _joint_entropies(exact_joint, samples, candidates)
    ours, theirs = [], []
    for seed in range(40):
        joint, log_q = _sample_configurations(samples, batch, M, np.random.default_rng(seed))
        ours.append(_joint_entropies(joint, samples, candidates, 1.0 / len(joint)) - log_q.mean())
        sampled = _SampledJointEntropy.sample(samples[:, batch].swapaxes(0, 1).astype(np.float64), M,
                                              np.random.RandomState(seed))
        theirs.append(sampled.compute_batch(np.log(samples[:, candidates].swapaxes(0, 1).astype(np.float64))))
    for name, values in (("ours", np.array(ours)), ("theirs", np.array(theirs))):
        sem = values.std(axis=0, ddof=1) / np.sqrt(len(values))
        assert np.all(np.abs(values.mean(axis=0) - exact) <= 4 * sem + 1e-9), name
    ratio = np.array(ours).std(axis=0) / np.array(theirs).std(axis=0)
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio


class FixedPredictions(SkactivemlClassifier):
    """DropQuery's classifier, replaced by the predictions we read: the first call (with the
    embedding flag) is the mean prediction and the features, call s + 1 the s-th dropout pass."""

    def __init__(self, samples=None, features=None, classes=None, missing_label=np.nan):
        super().__init__(classes=classes, missing_label=missing_label)
        self.samples, self.features = samples, features

    def fit(self, X, y, sample_weight=None):
        return self

    def predict(self, X, return_embeddings=False):
        if return_embeddings:
            self.calls_ = 0
            return self.samples.mean(axis=0, dtype=np.float64).argmax(axis=1), self.features
        self.calls_ += 1
        return self.samples[self.calls_ - 1].argmax(axis=1)


@pytest.mark.parametrize("S, k, seed", [(5, 6, 0), (3, 10, 1), (8, 4, 2)])
def test_dropquery_picks_what_theirs_picks_from_the_same_predictions_and_centres(S, k, seed):
    """Same passes, same features, same starting centres (k-means++ depends on the order in which
    the rows come, which differs: theirs sorts by disagreement): the same candidates, clusters and picks."""
    n, C, d = 300, 5, 8
    samples = mc_samples(S, n, C, seed, concentration=0.05)
    features = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    counts = (samples.argmax(axis=2) != samples.mean(axis=0).argmax(axis=1)).sum(axis=0)
    candidates = np.flatnonzero(counts > S // 2)
    assert candidates.size > 3 * k, "the test needs more candidates than clusters"
    init = features[np.random.default_rng(seed).choice(candidates, k, replace=False)].astype(np.float64)
    ours, _ = dropquery(samples, features, k, np.random.default_rng(0), init=init)
    clf = FixedPredictions(samples, features, classes=np.arange(C))
    clf.classes_ = np.arange(C)
    peer = DropQuery(n_dropout_samples=S, clf_embedding_flag_name="return_embeddings", random_state=0,
                     cluster_algo_dict={"init": init, "n_init": 1})
    theirs = peer.query(np.zeros((n, d)), np.full(n, np.nan), clf, fit_clf=False, batch_size=k)
    np.testing.assert_array_equal(ours, theirs)
