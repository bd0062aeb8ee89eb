"""Map coordinates for the Query map page: UMAP from the disk cache, else PCA at once while
a background process computes the UMAP (it would block the server for its numba compile).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import jobs
from core.projection import PIXELS, ProjectionStore, background_command, pixel_features, project
from core.types import Dataset


@dataclass
class MapCoordinates:
    coords: np.ndarray  # (n_dataset, 2)
    method: str  # "UMAP" or "PCA"
    pending: bool  # a UMAP is being computed
    error: str = ""


def projection_job_id(dataset: Dataset, space: str) -> str:
    return f"projection-{dataset.fingerprint}-{space}"


def coordinates(dataset: Dataset, name: str, options: dict, cache_root: str, space: str = PIXELS) -> MapCoordinates:
    """`name` and `options` load `dataset` again in the background process."""
    umap = ProjectionStore(cache_root).load(dataset.fingerprint, space, "umap")
    if umap is not None and len(umap) == len(dataset.labels):
        return MapCoordinates(umap, "UMAP", pending=False)
    job_id = projection_job_id(dataset, space)
    status = jobs.status(cache_root, job_id)
    if status.state in (None, jobs.DONE):  # never started, or its file went missing: (re)start it
        jobs.start(cache_root, job_id, background_command(name, options, cache_root, space=space),
                   kind="projection", meta={"dataset": dataset.name, "space": space})
        status = jobs.status(cache_root, job_id)
    pca = project(pixel_features(dataset), fingerprint=dataset.fingerprint, space=space, method="pca",
                  cache_root=cache_root)
    error = status.message if status.state == jobs.FAILED else ""
    return MapCoordinates(pca, "PCA", pending=status.state == jobs.RUNNING, error=error)
