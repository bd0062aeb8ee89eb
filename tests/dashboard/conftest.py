"""A small cached digits comparison, computed once per test session, and the app around it."""

from __future__ import annotations

import pytest

from core.engine.cache import Cache
from core.engine.config import RunConfig
from core.analysis.projection import ProjectionStore, pca_2d, pixel_features
from core.engine.runner import run_comparison

# The sidebar settings that describe SMALL (dashboard/components/settings.py; the rest at their defaults).
SMALL = RunConfig(dataset="digits", learner="logistic", strategies=("random", "entropy", "hybrid"), initial=20,
                  batch=10, rounds=3, repeats=2, subset=300, strategy_params={"hybrid": {"alpha": 0.5, "clusters": 5}})
SMALL_SETTINGS = {"initial": 20, "batch": 10, "budget": 40, "repeats": 2, "subset": 300,
                  "strategies": ["random", "entropy", "hybrid"]}
SMALL_STATE = {"settings": SMALL_SETTINGS}  # what a test puts in session state before the first run


def start_app(app: str, cache_root, **settings):
    """An AppTest of `app` on `cache_root` whose sidebar starts at SMALL's settings with `settings` on top
    (plug-in values as {"learner_params": {"logistic": {"C": 0.5}}}), run once."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(app, default_timeout=60)
    at.session_state["cache_dir"] = str(cache_root)
    at.session_state["settings"] = {**SMALL_SETTINGS, **settings}
    at.run()
    return at


@pytest.fixture(scope="session")
def small_cache(tmp_path_factory):
    """A cache holding SMALL, and a stand-in UMAP map (PCA coordinates) so no page starts UMAP."""
    root = tmp_path_factory.mktemp("dashboard") / "cache"
    comparison = run_comparison(SMALL, cache=Cache(root))
    dataset = comparison.dataset
    coords = pca_2d(pixel_features(dataset))
    ProjectionStore(root).save(dataset.fingerprint, "pixels", "umap", coords, 0.0)
    return root


def wkey(at, name: str) -> str:
    """The sidebar widget key of setting `name` now (loading a run's settings draws every widget afresh)."""
    generation = at.session_state["settings_generation"] if "settings_generation" in at.session_state else 0
    return f"sidebar_{name}" + (f"_{generation}" if generation else "")


def choose_run(at, index: int = 0):
    """Choose the Runs page's `index`-th comparison (which loads its settings), run the app."""
    keys = [item["key"] for item in Cache(at.session_state["cache_dir"]).comparisons()]
    return at.selectbox(key="runs_choice").set_value(keys[index]).run()
