"""A small cached digits comparison, computed once per test session, and the app around it."""

from __future__ import annotations

import pytest

from core.cache import Cache
from core.config import RunConfig
from core.projection import ProjectionStore, pca_2d, pixel_features
from core.runner import run_comparison

# The sidebar values that describe SMALL (see sidebar.py for the keys).
SMALL = RunConfig(dataset="digits", learner="logistic", strategies=("random", "entropy", "hybrid"), initial=20,
                  batch=10, rounds=3, repeats=2, subset=300, strategy_params={"hybrid": {"alpha": 0.5, "clusters": 5}})
SMALL_STATE = {"sidebar_initial": 20, "sidebar_batch": 10, "sidebar_budget": 40, "sidebar_repeats": 2,
               "sidebar_subset": 300, "sidebar_strategies": ["random", "entropy", "hybrid"]}


@pytest.fixture(scope="session")
def small_cache(tmp_path_factory):
    """A cache holding SMALL, and a stand-in UMAP map (PCA coordinates) so no page starts UMAP."""
    root = tmp_path_factory.mktemp("dashboard") / "cache"
    comparison = run_comparison(SMALL, cache=Cache(root))
    dataset = comparison.dataset
    coords = pca_2d(pixel_features(dataset))
    ProjectionStore(root).save(dataset.fingerprint, "pixels", "umap", coords, 0.0)
    return root
