"""The map shows PCA at once and starts one background UMAP; a stored UMAP wins."""

from __future__ import annotations

import numpy as np

from core import jobs
from core.datasets import load_dataset
from core.projection import ProjectionStore
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
    assert len(started) == 1 and started[0][1][1:3] == ["-m", "core.projection"]

    umap = np.random.default_rng(0).normal(size=(len(dataset.labels), 2)).astype(np.float32)
    ProjectionStore(tmp_path).save(dataset.fingerprint, "pixels", "umap", umap, 1.0)
    ready = maps.coordinates(dataset, "digits", {}, str(tmp_path))
    assert ready.method == "UMAP" and not ready.pending
    np.testing.assert_array_equal(ready.coords, umap)
