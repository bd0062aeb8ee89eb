"""badge against scikit-activeml's Badge: same inputs, same random draws.

scikit-activeml 1.0.1 keeps the origin as a ghost centre: its D^2 starts at ||g||^2 and is
only ever lowered, so a sample stays unlikely while its gradient is small even when it is
far from every chosen centre (their issue #588, fixed upstream in PR #590, after 1.0.1). We
follow the reference code (JordanAsh/badge), where D^2 is the distance to the chosen
centres only. The tests below show (1) the same first pick, (2) pick-for-pick identity with
1.0.1 when our factorised distances and draw rule are run with their ghost centre, which
checks the building blocks against their materialised embeddings, and (3) that the ghost is
the only difference that matters: without it the picks are ours.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skactiveml")

from skactiveml.base import SkactivemlClassifier  # noqa: E402
from skactiveml.pool import Badge as SkBadge  # noqa: E402

from core.strategies.badge import (_inverse_cdf, _row_sq_norms, badge_kmeanspp, gradient_factors,  # noqa: E402
                                   gradient_sq_distances)


class FixedOutputs(SkactivemlClassifier):
    """A 'fitted' classifier returning given probabilities and embeddings; X holds row numbers."""

    def __init__(self, proba=None, features=None, classes=None, missing_label=np.nan):
        super().__init__(classes=classes, missing_label=missing_label)
        self.proba, self.features = proba, features

    def fit(self, X, y, sample_weight=None):
        return self

    def predict_proba(self, X):
        rows = np.asarray(X)[:, 0].astype(int)
        return self.proba[rows], self.features[rows]


def skactiveml_picks(proba, features, k, seed):
    n = len(proba)
    clf = FixedOutputs(proba, features, classes=np.arange(proba.shape[1]))
    X, y = np.arange(n, dtype=float)[:, None], np.full(n, np.nan)
    return [int(i) for i in SkBadge(random_state=seed).query(X, y, clf, fit_clf=False, batch_size=k)]


def skactiveml_draws(n_unlabeled, seed):
    """The uniforms their `random_state_.choice(p=...)` consumes: one per drawn centre."""
    derived = (np.random.RandomState(seed).randint(1, 2**31) * (n_unlabeled + 1)) % 2**31
    return np.random.RandomState(derived).random_sample


def ghost_origin_badge(proba, features, k, uniform):
    """Our factorised distances and draw rule with scikit-activeml 1.0.1's D^2 (origin never dropped)."""
    a = gradient_factors(proba)
    sq = _row_sq_norms(a) * _row_sq_norms(features)
    d2 = sq.copy()
    chosen = [int(np.argmax(d2))]
    while len(chosen) < k:
        d2 = np.minimum(d2, gradient_sq_distances(a, features, sq, chosen[-1]))
        chosen.append(_inverse_cdf(d2, uniform()))
    return chosen


def _inputs(n, C, d, seed):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(C, 0.5), size=n), rng.normal(size=(n, d))


@pytest.mark.parametrize("seed", range(4))
def test_first_pick_is_theirs(seed):
    proba, h = _inputs(300, 6, 10, seed)
    assert badge_kmeanspp(proba, h, 1, lambda: 0.0).tolist() == skactiveml_picks(proba, h, 1, seed)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [5, 40])
def test_identical_picks_with_their_ghost_centre_and_draws(seed, k):
    proba, h = _inputs(300, 6, 10, seed)
    theirs = skactiveml_picks(proba, h, k, seed)
    assert ghost_origin_badge(proba, h, k, skactiveml_draws(300, seed)) == theirs


def test_without_the_ghost_the_same_draws_pick_differently_and_reach_smaller_gradients():
    proba, h = _inputs(300, 6, 10, 0)
    ours = badge_kmeanspp(proba, h, 40, skactiveml_draws(300, 0)).tolist()
    theirs = skactiveml_picks(proba, h, 40, 0)
    assert ours[0] == theirs[0] and ours != theirs
    # the ghost lowers the weight of small gradients: over many draws its picks have larger ones
    sq = _row_sq_norms(gradient_factors(proba)) * _row_sq_norms(h)

    def mean(select):
        return np.mean([sq[select(proba, h, 40, np.random.default_rng(s).random)].mean() for s in range(30)])

    assert mean(ghost_origin_badge) > mean(lambda *args: badge_kmeanspp(*args).tolist())
