"""Map coordinates for the Query map page: UMAP from the disk cache, else PCA at once while
a background process computes the UMAP (it would block the server for its numba compile).

A map shows one feature space: the raw pixels, or the features a run's CNN (any learner
that stores its state) gives every image in a chosen round (`core.engine.features`, cached next to
that round). Both kinds are projected once and cached under `<cache>/projections/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.engine import jobs
from core.engine.cache import Cache
from core.analysis.projection import PIXELS, ProjectionStore, background_command, pixel_features, project
from core.types import Dataset


@dataclass
class MapCoordinates:
    coords: np.ndarray  # (n_dataset, 2)
    method: str  # "UMAP" or "PCA"
    pending: bool  # a UMAP is being computed
    error: str = ""


@dataclass(frozen=True)
class FeatureChoice:
    """One entry of the page's "Feature space" choice."""

    label: str  # what the page shows, e.g. "CNN features, round 3 (entropy run)"
    space: str  # the projection's feature-space name
    run_key: str | None = None  # None: raw pixels
    round_index: int | None = None  # 0-based round whose learner state gives the features
    frozen_learner: str | None = None  # JSON {"learner", "params"}: that learner's round-independent features


PIXEL_CHOICE = FeatureChoice("raw pixels", PIXELS)


def learner_rounds(cache_root: str, run_key: str, rounds_done: int) -> list[int]:
    """0-based rounds of `run_key` with stored learner state, among its completed rounds."""
    from core.engine.features import rounds_with_state

    return [r for r in rounds_with_state(Cache(cache_root), run_key) if r < rounds_done]


def learner_choice(run_key: str, round_index: int, strategy: str, learner: str = "cnn") -> FeatureChoice:
    from core.engine.features import feature_space

    name = "CNN" if learner == "cnn" else learner
    return FeatureChoice(f"{name} features, round {round_index + 1} ({strategy} run)",
                         feature_space(run_key, round_index), run_key, round_index)


RAW_PIXELS = "Raw pixels"


def feature_spaces(view, repeat: int, cache_root: str) -> dict[str, tuple[str, list[int]]]:
    """The "Feature space" options of one repeat: label -> (strategy, 1-based rounds with stored
    learner state); raw pixels first, then one per strategy whose run stored its learner's state."""
    config = view.config
    run_keys = {s.strategy: s.key(view.dataset.fingerprint) for s in config.specs() if s.repeat == repeat}
    name = "CNN" if config.learner == "cnn" else config.learner
    spaces: dict[str, tuple[str, list[int]]] = {RAW_PIXELS: ("", [])}
    from core.learners import LEARNERS

    if config.learner in LEARNERS and LEARNERS[config.learner].frozen_features:
        spaces[frozen_label(config)] = ("", [])  # the same in every round and run: offered once
    for strategy in config.strategies:
        rounds = learner_rounds(cache_root, run_keys[strategy], view.done.get((strategy, repeat), 0))
        if rounds:
            spaces[f"{name} features of the {strategy} run"] = (strategy, [r + 1 for r in rounds])
    return spaces


def choice_for(view, repeat: int, label: str, feature_round: int | None, cache_root: str) -> FeatureChoice:
    """The FeatureChoice a "Feature space" label and round mean (raw pixels when either is gone)."""
    spaces = feature_spaces(view, repeat, cache_root)
    if label not in spaces or label == RAW_PIXELS:
        return PIXEL_CHOICE
    if label == frozen_label(view.config):
        import json

        from core.engine.features import frozen_space

        config = view.config
        return FeatureChoice(label, frozen_space(config.learner, config.learner_params), frozen_learner=json.dumps(
            {"learner": config.learner, "params": config.learner_params}, sort_keys=True))
    strategy, rounds = spaces[label]
    shown = feature_round if feature_round in rounds else rounds[-1]
    run_key = next(s.key(view.dataset.fingerprint) for s in view.config.specs()
                   if s.repeat == repeat and s.strategy == strategy)
    return learner_choice(run_key, shown - 1, strategy, view.config.learner)


def frozen_label(config) -> str:
    """'Backbone features: pretrained (backbone=resnet18, weights=none (random init))'."""
    from core.present.figures import learner_label

    return f"Backbone features: {learner_label(config)}"


def labelled_axes(fig, method: str, label: str):
    """Axis titles that name the feature space too (y only: one per row has room, x titles would collide)."""
    short = label.split(" (")[0]
    fig.for_each_xaxis(lambda axis: axis.update(title_text=f"{method} 1") if axis.title.text else None)
    fig.for_each_yaxis(lambda axis: axis.update(title_text=f"{method} 2 of {short}") if axis.title.text else None)
    return fig


def features_of(choice: FeatureChoice, dataset: Dataset, cache_root: str) -> tuple[np.ndarray, Path | None]:
    """(features (n_dataset, d), the file a background process can read them from, or None for pixels).

    Learner features come from `core.engine.features.round_features`: computed from the stored
    weights the first time (one forward pass over the dataset), read from disk afterwards.
    """
    if choice.frozen_learner is not None:  # from the feature store; the backbone runs only if it lacks them
        import json

        from core.engine.features import frozen_features

        spec = json.loads(choice.frozen_learner)
        return frozen_features(Cache(cache_root), dataset, spec["learner"], spec["params"])
    if choice.run_key is None:
        return pixel_features(dataset), None
    from core.engine.features import round_features

    cache = Cache(cache_root)
    features = round_features(cache, choice.run_key, choice.round_index, dataset)
    return features, cache.run(choice.run_key).features_path(choice.round_index)


def projection_job_id(dataset: Dataset, space: str) -> str:
    return f"projection-{dataset.fingerprint}-{space}"


def pending(dataset: Dataset, cache_root: str, space: str = PIXELS) -> bool:
    """True while the map's UMAP is being computed and not stored yet (cheap: no features read)."""
    if ProjectionStore(cache_root).path(dataset.fingerprint, space, "umap").exists():
        return False
    return jobs.status(cache_root, projection_job_id(dataset, space)).state == jobs.RUNNING


def coordinates(dataset: Dataset, name: str, options: dict, cache_root: str, space: str = PIXELS, *,
                features: np.ndarray | None = None, features_file: str | Path | None = None) -> MapCoordinates:
    """`name` and `options` load `dataset` again in the background process; `features`
    (default: the pixels) are what is projected, and `features_file` holds them for that process."""
    umap = ProjectionStore(cache_root).load(dataset.fingerprint, space, "umap")
    if umap is not None and len(umap) == len(dataset.labels):
        return MapCoordinates(umap, "UMAP", pending=False)
    job_id = projection_job_id(dataset, space)
    status = jobs.status(cache_root, job_id)
    if status.state in (None, jobs.DONE):  # never started, or its file went missing: (re)start it
        jobs.start(cache_root, job_id,
                   background_command(name, options, cache_root, space=space, features_file=features_file),
                   kind="projection", meta={"dataset": dataset.name, "space": space})
        status = jobs.status(cache_root, job_id)
    pca = project(pixel_features(dataset) if features is None else features, fingerprint=dataset.fingerprint,
                  space=space, method="pca", cache_root=cache_root)
    error = status.message if status.state == jobs.FAILED else ""
    return MapCoordinates(pca, "PCA", pending=status.state == jobs.RUNNING, error=error)

