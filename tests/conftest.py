"""Tiny seeded data shared by the suite: a synthetic pool and a small digits comparison."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small fits: one BLAS thread is fastest

import numpy as np
import pytest

from core.types import PoolView


def make_pool(n: int = 200, n_classes: int = 4, d: int = 6, n_labeled: int = 20, seed: int = 0) -> PoolView:
    rng = np.random.default_rng(seed)
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, n_labeled, replace=False)] = True
    n_unl = n - n_labeled
    proba = rng.dirichlet(np.ones(n_classes), size=n_unl).astype(np.float32)
    embeddings = rng.normal(size=(n_unl, d)).astype(np.float32)
    return PoolView(mask, proba=proba, embeddings=embeddings)


@pytest.fixture
def small_pool() -> PoolView:
    return make_pool()


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"
