"""The map shows PCA at once and starts one background UMAP; a stored UMAP wins."""

from __future__ import annotations

import numpy as np
import pytest

from core.engine import jobs
from core.datasets import load_dataset
from core.analysis.projection import ProjectionStore, load_features, pca_2d
from dashboard.components import maps


def test_pca_first_then_the_stored_umap(tmp_path, monkeypatch):
    started = []

    def fake_start(cache_root, job_id, command, *, kind, meta=None, cwd=None):
        started.append((job_id, command))
        return jobs.Job(job_id, kind, 0, command, 0.0, meta or {})

    monkeypatch.setattr(maps.jobs, "start", fake_start)
    monkeypatch.setattr(maps.jobs, "status", lambda root, job_id: jobs.JobStatus(None, jobs.RUNNING))
    dataset = load_dataset("digits")
    first = maps.coordinates(dataset, "digits", {}, str(tmp_path))
    assert first.method == "PCA" and first.pending and first.coords.shape == (len(dataset.labels), 2)
    assert started == []  # a job is already running for this map: none is started twice

    monkeypatch.setattr(maps.jobs, "status", lambda root, job_id: jobs.JobStatus(None, None))
    maps.coordinates(dataset, "digits", {}, str(tmp_path))
    assert len(started) == 1 and started[0][1][1:3] == ["-m", "core.analysis.projection"]

    umap = np.random.default_rng(0).normal(size=(len(dataset.labels), 2)).astype(np.float32)
    ProjectionStore(tmp_path).save(dataset.fingerprint, "pixels", "umap", umap, 1.0)
    ready = maps.coordinates(dataset, "digits", {}, str(tmp_path))
    assert ready.method == "UMAP" and not ready.pending
    np.testing.assert_array_equal(ready.coords, umap)


def test_learner_features_are_projected_and_handed_to_the_background_process(tmp_path, monkeypatch):
    started = []

    def fake_start(cache_root, job_id, command, *, kind, meta=None, cwd=None):
        started.append((job_id, command))
        return jobs.Job(job_id, kind, 0, command, 0.0, meta or {})

    monkeypatch.setattr(maps.jobs, "start", fake_start)
    monkeypatch.setattr(maps.jobs, "status", lambda root, job_id: jobs.JobStatus(None, None))
    dataset = load_dataset("digits")
    features = np.random.default_rng(1).normal(size=(len(dataset.labels), 8)).astype(np.float32)
    features_file = tmp_path / "features_0001.npz"
    np.savez(features_file, features=features)
    space = "learner.abc.r1"
    first = maps.coordinates(dataset, "digits", {}, str(tmp_path), space, features=features, features_file=features_file)
    assert first.method == "PCA"
    np.testing.assert_allclose(np.abs(first.coords), np.abs(pca_2d(features)), rtol=1e-4, atol=1e-4)  # not the pixels
    (job_id, command), = started
    assert space in job_id and command[command.index("--space") + 1] == space
    assert command[command.index("--features") + 1] == str(features_file)
    np.testing.assert_array_equal(load_features(features_file), features)  # what that process reads back
    assert ProjectionStore(tmp_path).load(dataset.fingerprint, "pixels", "pca") is None  # its own cache entry


def test_pending_is_false_once_the_umap_is_stored(tmp_path, monkeypatch):
    dataset = load_dataset("digits")
    monkeypatch.setattr(maps.jobs, "status", lambda root, job_id: jobs.JobStatus(None, jobs.RUNNING))
    assert maps.pending(dataset, str(tmp_path), "learner.abc.r0")
    ProjectionStore(tmp_path).save(dataset.fingerprint, "learner.abc.r0", "umap", np.zeros((3, 2)), 0.0)
    assert not maps.pending(dataset, str(tmp_path), "learner.abc.r0")
    assert maps.pending(dataset, str(tmp_path), "pixels")


def test_query_map_colours_picks_by_whole_rounds():
    from core.present.figures import query_map

    rng = np.random.default_rng(0)
    picks = {"entropy": (np.arange(6), np.array([1, 1, 2, 2, 3, 3]))}
    fig = query_map(rng.normal(size=(30, 2)), rng.integers(0, 3, 30), ["a", "b", "c"], picks)
    colorbar = fig.layout.coloraxis.colorbar
    assert fig.layout.coloraxis.cmin == 1 and fig.layout.coloraxis.cmax == 3
    assert colorbar.tickformat == "d" and colorbar.dtick == 1  # no "round 1.5" on the scale


def test_a_feature_space_that_is_gone_falls_back_to_raw_pixels(small_cache):
    from core.engine.cache import Cache
    from core.engine.runner import load_comparison
    from dashboard.components.results import View
    from tests.dashboard.conftest import SMALL

    dataset = load_dataset("digits")
    comparison = load_comparison(SMALL, Cache(small_cache), dataset)
    view = View(SMALL, dataset, comparison, comparison.frame(), {k: len(v) for k, v in comparison.runs.items()})
    assert list(maps.feature_spaces(view, 0, str(small_cache))) == [maps.RAW_PIXELS]  # logistic stores no weights
    # the Export page asks for the space a page showed; a space this comparison lacks is the pixels
    assert maps.choice_for(view, 0, "CNN features of the entropy run", 2, str(small_cache)) == maps.PIXEL_CHOICE


@pytest.mark.slow
def test_a_pretrained_comparison_offers_the_backbone_features_once(tmp_path):
    """Query map: the frozen backbone's features come from the feature store; no per-round choice."""
    from core.engine.cache import Cache
    from core.engine.config import RunConfig
    from core.engine.features import forget_loaded_features
    from core.analysis.projection import check_space
    from core.engine.runner import run_comparison
    from dashboard.components.results import View

    config = RunConfig(dataset="digits", subset=120, learner="pretrained",
                       learner_params={"weights": "none", "input_size": 32}, strategies=("random", "entropy"),
                       initial=10, batch=5, rounds=2)
    comparison = run_comparison(config, cache=Cache(tmp_path))
    dataset = comparison.dataset
    view = View(config, dataset, comparison, comparison.frame(), {k: len(v) for k, v in comparison.runs.items()})
    spaces = maps.feature_spaces(view, 0, str(tmp_path))
    label = maps.frozen_label(config)
    assert list(spaces) == [maps.RAW_PIXELS, label] and spaces[label] == ("", [])
    assert "weights=none (random init)" in label
    choice = maps.choice_for(view, 0, label, None, str(tmp_path))
    assert check_space(choice.space) == choice.space and choice.space.startswith("frozen.pretrained.")
    forget_loaded_features()
    features, path = maps.features_of(choice, dataset, str(tmp_path))
    assert features.shape == (len(dataset.labels), 512)
    np.testing.assert_array_equal(load_features(path), features)  # the store's file, for the background UMAP
