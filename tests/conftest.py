"""Tiny seeded data shared by the suite: a synthetic pool and a small digits comparison."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small fits: one BLAS thread is fastest

import numpy as np
import pytest

from core.types import PoolView

# Settings that let every registered learner run offline and fast in tests that loop over all of them
# (the pretrained backbone's ImageNet weights cannot be downloaded here: random init instead).
OFFLINE_LEARNER_SETTINGS = {"pretrained": {"weights": "none", "input_size": 32}}


def make_pool(n: int = 200, n_classes: int = 4, d: int = 6, n_labeled: int = 20, seed: int = 0,
              needs: frozenset[str] | None = None, strategy: str | None = None, samples: int = 5) -> PoolView:
    """A seeded pool view. With `needs`, it holds only those inputs (as the runner builds it for a
    strategy), so a strategy reading anything it did not declare fails; without, it holds them all."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, n_labeled, replace=False)] = True
    n_unl = n - n_labeled
    proba_samples = rng.dirichlet(np.ones(n_classes), size=(samples, n_unl)).astype(np.float32)
    inputs = {"proba": proba_samples.mean(axis=0), "pool_features": rng.normal(size=(n_unl, d)).astype(np.float32),
              "labeled_features": rng.normal(size=(n_labeled, d)).astype(np.float32), "proba_samples": proba_samples}
    if needs is not None:
        inputs = {name: value if name in needs else None for name, value in inputs.items()}
    return PoolView(mask, proba=inputs["proba"], embeddings=inputs["pool_features"],
                    labeled_embeddings=inputs["labeled_features"], proba_samples=inputs["proba_samples"],
                    labels=rng.integers(0, n_classes, n_labeled), strategy=strategy or "test")


@pytest.fixture(scope="session", autouse=True)
def session_cache_dir(tmp_path_factory):
    """The suite's cache directory ($ALBENCH_CACHE_DIR for the whole session): code that takes the
    default cache (decoded folders, the dashboard, child processes) never writes the checkout's cache/."""
    root = tmp_path_factory.mktemp("albench-cache")
    previous = os.environ.get("ALBENCH_CACHE_DIR")
    os.environ["ALBENCH_CACHE_DIR"] = str(root)
    yield root
    if previous is None:
        os.environ.pop("ALBENCH_CACHE_DIR", None)
    else:
        os.environ["ALBENCH_CACHE_DIR"] = previous


@pytest.fixture
def small_pool() -> PoolView:
    return make_pool()


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def fresh_feature_memo():
    """Tests that count backbone extractions start and end without this process's memoised features."""
    from core.engine.features import forget_loaded_features
    from core.learners import pretrained

    forget_loaded_features()
    pretrained._ROW_INDEXES.clear()
    yield
    forget_loaded_features()
