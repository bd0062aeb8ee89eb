"""The stop signal: flags a flattened learning curve, never a rising one, and always says why."""

from __future__ import annotations

import numpy as np
import pytest

from core.labels.stopping import ModelRound, stop_signal, wilson


def _rounds(label_counts, seed=0):
    """Model rounds of a logistic regression on well separated blobs: the stop set and audit sample are fixed."""
    from sklearn.datasets import make_blobs
    from sklearn.linear_model import LogisticRegression

    X, y = make_blobs(3000, centers=5, n_features=20, cluster_std=4.0, random_state=seed)
    order = np.random.default_rng(seed).permutation(len(y))
    stop, audit, pool = order[:400], order[400:600], order[600:]
    out = []
    for n in label_counts:
        model = LogisticRegression(max_iter=2000).fit(X[pool[:n]], y[pool[:n]])
        correct = int((model.predict(X[audit]) == y[audit]).sum())
        out.append(ModelRound(n, model.predict(X[stop]), correct, len(audit)))
    return out


def test_a_rising_curve_says_more_labels_help():
    signal = stop_signal(_rounds([5, 8, 11, 14, 17]))
    assert not signal.flattened and signal.since is None
    assert signal.sentence.startswith("more labels still help")
    assert "kappa" in signal.sentence and "audit accuracy" in signal.sentence
    assert min(signal.kappas) < 0.99


def test_a_flattened_curve_says_since_when_with_the_evidence():
    signal = stop_signal(_rounds([5, 10, 1500, 1600, 1700, 1800, 1900]))
    assert signal.flattened
    assert signal.since is not None and signal.since >= 1500
    assert f"gains have flattened since {signal.since} labels" in signal.sentence
    assert "audit accuracy" in signal.sentence and "[" in signal.sentence  # the interval, not a bare number


def test_too_few_rounds_is_not_a_verdict():
    signal = stop_signal(_rounds([1500, 1600]))
    assert not signal.flattened and "needs 4" in signal.sentence


@pytest.mark.parametrize("correct,n", [(0, 10), (10, 10), (45, 50)])
def test_wilson_interval_holds_the_estimate(correct, n):
    low, high = wilson(correct, n)
    assert 0 <= low <= correct / n <= high <= 1
