"""margin_density against its definition, written the slow way."""

from __future__ import annotations

import numpy as np

from core.engine.config import RunConfig
from core.engine.runner import run_comparison
from core.strategies import make_strategy
from core.strategies.density import margin_density
from core.strategies.measures import reference_smallest_margin
from tests.conftest import make_pool


def reference_margin_density(proba: np.ndarray, features: np.ndarray, beta: float) -> np.ndarray:
    """Settles & Craven's information density, pairwise: one cosine per pair of samples."""
    n = len(features)
    density = np.empty(n)
    for i in range(n):
        sims = [features[i] @ features[j] / (np.linalg.norm(features[i]) * np.linalg.norm(features[j]))
                for j in range(n)]
        density[i] = (1.0 + np.mean(sims)) / 2.0
    return reference_smallest_margin(proba) * density ** beta


def test_scores_match_the_pairwise_definition():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(5), size=60).astype(np.float32)
    features = rng.normal(size=(60, 7)).astype(np.float32)
    for beta in (0.0, 1.0, 2.5):
        np.testing.assert_allclose(margin_density(proba, features, beta),
                                   reference_margin_density(proba.astype(np.float64), features.astype(np.float64), beta),
                                   rtol=1e-4)


def test_beta_zero_is_smallest_margin_and_density_changes_the_picks():
    pool = make_pool(n=300, n_labeled=30, seed=4)
    rng = lambda: np.random.default_rng(0)  # noqa: E731
    margin = make_strategy("smallest_margin").select(pool, 20, rng=rng()).indices
    np.testing.assert_array_equal(make_strategy("margin_density", beta=0.0).select(pool, 20, rng=rng()).indices, margin)
    assert set(make_strategy("margin_density", beta=5.0).select(pool, 20, rng=rng()).indices) != set(margin)


def test_runs_end_to_end_with_its_parameter_from_the_config():
    config = RunConfig(strategies=("margin_density",), strategy_params={"margin_density": {"beta": 2.0}},
                       initial=20, batch=10, rounds=3, subset=300)
    results = run_comparison(config).runs[("margin_density", 0)]
    assert [r.n_labeled for r in results] == [20, 30, 40]
    assert config.params_for("margin_density") == {"beta": 2.0}
