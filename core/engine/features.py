"""Features: a learner's per round (for the query map), and a frozen backbone's per dataset (the feature store).

A run whose learner keeps state (`get_state`, e.g. the CNN) stores it after every round
(`runs/<key>/state_<round>.npz`). `round_features` rebuilds that round's learner from the
run's spec, embeds every image of the dataset (dataset order, like the pixel space of
`core.analysis.projection`) and caches the result next to the round, so the map's second view is
instant. Project it with `core.analysis.projection` under `feature_space(run_key, round)`.

The feature store (`core.engine.feature_store`, re-exported here) keeps what a frozen extractor (the
`pretrained` learner's backbone) gives the rows of a dataset, once per (data content, backbone,
weights, input size, preprocessing), in `<cache>/features/<key>/`.
"""

from __future__ import annotations

import logging

import numpy as np

from core.engine.cache import Cache
from core.datasets import load_dataset
from core.learners import make_learner
from core.types import Dataset

log = logging.getLogger(__name__)


class NoStoredState(LookupError):
    """The run has no stored learner state for that round (the learner keeps none, or it was not run)."""


def feature_space(run_key: str, round_index: int) -> str:
    """The feature-space name for projections: letters, digits, '_' and '.' only."""
    return f"learner.{run_key}.r{int(round_index)}"


def rounds_with_state(cache: Cache, run_key: str) -> list[int]:
    """Rounds of `run_key` whose learner state is stored (the rounds a feature map can show)."""
    root = cache.run(run_key).root
    if not root.is_dir():
        return []
    return sorted(int(p.stem.split("_")[1]) for p in root.glob("state_*.npz"))


def round_features(cache: Cache, run_key: str, round_index: int, dataset: Dataset | None = None) -> np.ndarray:
    """float32 (n_dataset, d): the learner of round `round_index` embedding every dataset image.

    Raises NoStoredState when the round's learner state is not in the cache, and ValueError
    when `dataset` (or the one the spec names) is not the data the run was computed on.
    """
    store = cache.run(run_key)
    path = store.features_path(round_index)
    cached = store.read_arrays(path)
    if cached is not None and "features" in cached:
        return cached["features"]
    spec = store.read_spec()
    state = store.read_state(round_index)
    if spec is None or state is None:
        raise NoStoredState(f"run {run_key} has no stored learner state for round {round_index}; "
                            f"rounds with state: {rounds_with_state(cache, run_key)}")
    if dataset is None:
        dataset = load_dataset(spec["dataset"], **spec.get("dataset_options", {}))
    if dataset.fingerprint != spec["dataset_fingerprint"]:
        raise ValueError(f"run {run_key} was computed on dataset {spec['dataset_fingerprint']}, "
                         f"not on the given {dataset.name!r} ({dataset.fingerprint})")
    learner = make_learner(spec["learner"], dataset.info, seed=spec["seed"], **spec["learner_params"])
    learner.attach(dataset, cache.root)
    learner.set_state(state)
    features = np.asarray(learner.embed(dataset.images), dtype=np.float32)
    store.write_arrays(path, {"features": features})
    return features


# The feature store (a frozen extractor's features per dataset) lives in core.engine.feature_store, below the
# learners: the pretrained learner uses it, and this module builds learners (no import circle).
from core.engine.feature_store import (  # noqa: E402  (re-exported: the store's names have always been here)
    CHUNK_ROWS, FEATURE_STORE_VERSION, FeatureStore, FeatureStoreWarning, RowIndex, feature_key,
    forget_loaded_features, open_store, row_digests, stored_features,
)

__all__ = ["CHUNK_ROWS", "FEATURE_STORE_VERSION", "FeatureStore", "FeatureStoreWarning", "NoStoredState", "RowIndex",
           "feature_key", "feature_space", "forget_loaded_features", "frozen_features", "frozen_space", "open_store",
           "round_features", "row_digests", "rounds_with_state", "stored_features"]


def frozen_space(learner: str, learner_params: dict) -> str:
    """The feature-space name of a frozen learner's features (for projections): one per extractor."""
    from core.engine.config import stable_hash
    from core.learners import LEARNERS, check_learner_params

    identity = {"learner": learner, "params": check_learner_params(learner, learner_params),
                "extra": LEARNERS[learner].cache_identity(learner_params)}
    return f"frozen.{learner}.{stable_hash(identity)}"


def frozen_features(cache: Cache, dataset: Dataset, learner: str, learner_params: dict):
    """(features of every dataset image, the .npy file holding them or None) for a learner whose
    embedding is the same every round (`frozen_features`: the pretrained backbone), via its feature store."""
    model = make_learner(learner, dataset.info, **learner_params)
    model.attach(dataset, cache.root)
    return np.asarray(model.embed(dataset.images), dtype=np.float32), getattr(model, "features_file_", None)
