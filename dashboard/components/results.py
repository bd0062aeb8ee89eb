"""Everything the pages read: the cache directory, the dataset, the comparison of the
sidebar's config. All of it comes from `core` and the on-disk cache, so a reload or a
second tab shows the same thing; Streamlit caches only avoid re-reading files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from core.engine import jobs
from core.engine.cache import Cache, cache_dir
from core.engine.config import RunConfig
from core.datasets import load_dataset
from core.analysis.metrics import default_metric
from core.engine.runner import Comparison, Split, load_comparison, make_split
from core.types import Dataset


def default_cache_dir() -> str:
    """The CLI's cache too: `ALBENCH_CACHE_DIR` when set, else the checkout's `cache/` (core.engine.cache.cache_dir)."""
    return str(cache_dir())


def cache_root() -> str:
    return st.session_state["cache_dir"]


@st.cache_resource(max_entries=3, show_spinner="Loading the dataset...")
def dataset(name: str, options_json: str) -> Dataset:
    """One in-memory copy per dataset, shared by every session (images are read-only)."""
    return load_dataset(name, **json.loads(options_json))


def dataset_for(config: RunConfig) -> Dataset:
    return dataset(config.dataset, json.dumps(config.dataset_options, sort_keys=True))


def rounds_done(config: RunConfig) -> dict[tuple[str, int], int]:
    """Completed rounds per (strategy, repeat), from directory listings only (cheap)."""
    fingerprint = dataset_for(config).fingerprint
    cache = Cache(cache_root())
    return {(s.strategy, s.repeat): min(len(cache.run(s.key(fingerprint)).round_indices()), s.rounds)
            for s in config.specs()}


@st.cache_resource(max_entries=6, show_spinner=False)
def _comparison(config_json: str, root: str, token: tuple) -> Comparison:
    """Keyed by the round counts, so a new round on disk is a new entry (never stale)."""
    config = RunConfig.from_dict(json.loads(config_json))
    return load_comparison(config, Cache(root), dataset_for(config))


@st.cache_data(max_entries=12, show_spinner=False)
def _frame(config_json: str, root: str, token: tuple) -> pd.DataFrame:
    return _comparison(config_json, root, token).frame()


@st.cache_resource(max_entries=12, show_spinner=False)
def _split(name: str, options_json: str, seed: int, test_size: float, subset: int | None) -> Split:
    return make_split(dataset(name, options_json), seed, test_size, subset)


@dataclass
class View:
    """The comparison the sidebar describes, as far as the cache holds it."""

    config: RunConfig
    dataset: Dataset
    comparison: Comparison
    rounds: pd.DataFrame
    done: dict[tuple[str, int], int]

    @property
    def metric(self) -> str:
        return default_metric(self.rounds)

    @property
    def complete(self) -> bool:
        return all(n >= self.config.rounds for n in self.done.values())

    def pool(self, repeat: int) -> Split:
        c = self.config
        return _split(c.dataset, json.dumps(c.dataset_options, sort_keys=True), c.seed + repeat, float(c.test_size), c.subset)

    def common_rounds(self, strategies=None, repeat: int | None = None) -> int:
        """Rounds completed by every run shown (so a round slider never points past the data)."""
        counts = [n for (s, r), n in self.done.items()
                  if (strategies is None or s in strategies) and (repeat is None or r == repeat)]
        return min(counts) if counts else 0

    def results(self, strategy: str, repeat: int):
        return self.comparison.runs.get((strategy, repeat), [])

    def picks(self, strategy: str, repeat: int, up_to_round: int) -> tuple[np.ndarray, np.ndarray]:
        """Pool indices queried by rounds 1..up_to_round (1-based) and the round that picked each."""
        chosen = [(r.queried, np.full(len(r.queried), r.round + 1)) for r in self.results(strategy, repeat)
                  if r.round + 1 <= up_to_round]
        if not chosen:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate([c[0] for c in chosen]), np.concatenate([c[1] for c in chosen])


def current_view(*, need_rounds: bool = True) -> View | None:
    """The sidebar's comparison; stops the page with an explanation when there is nothing to show."""
    config: RunConfig | None = st.session_state.get("config")
    if config is None:
        st.info("Fix the settings marked in the sidebar to see results.")
        st.stop()
    done = rounds_done(config)
    token = tuple(sorted(done.items()))
    config_json = json.dumps(config.to_dict(), sort_keys=True)
    if need_rounds and not any(done.values()):
        if jobs.status(cache_root(), jobs.run_job_id(config)).state == jobs.RUNNING:
            st.info("Running: the first completed round appears here in a moment.", icon=":material/hourglass:")
        else:
            st.info("Nothing cached for these settings yet: press **Run** in the sidebar. "
                    "Completed rounds appear here while it runs.")
        st.stop()
    comparison = _comparison(config_json, cache_root(), token)
    return View(config, dataset_for(config), comparison, _frame(config_json, cache_root(), token), done)

