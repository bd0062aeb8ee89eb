"""A labelling project as a dataset: compare strategies on the images a person labelled.

`--dataset labels --data-dir PROJECT.albench.db` reads a Label-page project (core.labels.store):

- the pool is the items whose decision in force is a label, outside the audit sample; skipped
  and unsure items are left out (no label came for them);
- the held-out test split is the labelled audit sample when it has at least one image of two
  classes (drawn at random and never trained on, as on the Label page); without one the runner
  makes its stratified split and a warning says so;
- each image's labelling cost is the time the person spent on it: the recorded time of every
  decision on that item (a skip or unsure before the label was paid too, with no label for it),
  each decision capped at the project's 99th percentile so a tab left open for 20 minutes does
  not count as 20 minutes of work. `Dataset.costs` carries it in seconds; a project without
  recorded times has no costs (nothing is invented).

The images are decoded as a folder's are (core.datasets.folder: same decoding, same cache).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.datasets.base import DATASETS, DatasetError, MissingDataError, check_two_classes
from core.datasets.images import check_image_size
from core.types import Dataset

COST_CAP_PERCENTILE = 99.0  # one decision's time counts at most this percentile of the project's decision times


def _cost_cap(ms: np.ndarray) -> float:
    """The cap of one decision's time: the stated percentile of the recorded times."""
    return float(np.percentile(ms, COST_CAP_PERCENTILE)) if ms.size else 0.0


def item_seconds(events) -> dict[int, float]:
    """item id -> seconds the person spent on it, every recorded decision capped (see the module docstring)."""
    timed = [e for e in events if e.ms is not None]
    if not timed:
        return {}
    cap = _cost_cap(np.array([e.ms for e in timed], dtype=float))
    seconds: dict[int, float] = {}
    for e in timed:
        seconds[e.item_id] = seconds.get(e.item_id, 0.0) + min(float(e.ms), cap) / 1000.0
    return seconds


@DATASETS.register("labels")
def labels(data_dir: str | None = None, image_size: int | None = None) -> Dataset:
    """The labelled items of a labelling project; the audit sample is the test split; costs in seconds."""
    from core.datasets import folder as images_from
    from core.labels.store import LabelStore, ProjectError

    if data_dir is None:
        raise MissingDataError("labels: no project given (data_dir); choose a labelling project file, "
                               "e.g. FOLDER/labels.albench.db")
    check_image_size(image_size)
    size = image_size or images_from.DEFAULT_IMAGE_SIZE
    path = Path(data_dir).expanduser()
    try:
        store = LabelStore(path)
    except ProjectError as exc:
        raise DatasetError(f"labels: {exc}") from None
    try:
        current = store.current()
        audit = {row["id"] for row in store.items() if row["audit"]}
        seconds = item_seconds(store.events())
        class_order = store.classes
        root = store.root
    finally:
        store.close()
    labelled = sorted((e for e in current.values() if e.kind == "label"), key=lambda e: e.item_id)
    if not labelled:
        raise DatasetError(f"labels: project {path} has no labelled image yet; label some on the Label page first")
    names = tuple(name for name in class_order if any(e.label == name for e in labelled))
    index = {name: i for i, name in enumerate(names)}
    files = [(e.path, index[e.label], e.item_id in audit) for e in labelled]
    listing = images_from.Listing(files, names, stamp=[images_from._stamp(root / e.path) for e in labelled],
                                  content=f"labels:{path.resolve()}")
    cache_path = images_from.dataset_cache_dir() / f"labels-{images_from._cache_key(path, listing, size)}.npz"
    arrays = images_from._read_cached(cache_path)
    if arrays is None:
        arrays = images_from.decode_folder(root, listing, size)
        images_from._write_cached(cache_path, arrays)
    lost = {str(s) for s in arrays["skipped"]} | {str(s) for s in arrays["too_large"]}
    kept = [e for e in labelled if e.path not in lost]
    if lost:
        images_from._warn(f"labels {path}: {len(lost)} labelled image(s) could not be read and are left out "
                          f"(e.g. {sorted(lost)[:3]})")
    y, is_test = arrays["labels"], arrays["is_test"]
    check_two_classes(y[~is_test], names, f"labels: the labelled pool of {path}")
    test_classes = np.unique(y[is_test])
    if is_test.any() and test_classes.size < 2:
        images_from._warn(f"labels {path}: the audit sample has labels of fewer than two classes; the runner makes a "
                          "stratified test split of the labelled pool instead")
        is_test = np.zeros_like(is_test)
    elif not is_test.any():
        images_from._warn(f"labels {path}: no labelled audit sample; the runner makes a stratified test split of the "
                          "labelled pool (`label init --audit N` marks one)")
    costs = None
    if seconds:
        recorded = np.array([seconds.get(e.item_id, np.nan) for e in kept], dtype=float)
        # an item decided before times were recorded (an import) costs the median of the recorded ones
        costs = np.where(np.isnan(recorded), np.nanmedian(recorded), recorded)
    return Dataset(
        name="labels",
        images=arrays["images"],
        labels=y,
        class_names=names,
        feature_scale=1.0 / 255.0,
        is_test=is_test if is_test.any() else None,
        costs=costs,
        source={"data_dir": str(path), "image_size": size, "skipped": len(lost),
                "items": [e.item_id for e in kept]},
    )
