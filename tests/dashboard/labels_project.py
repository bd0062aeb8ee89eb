"""A small labelling project built from scratch for the dashboard tests: a folder of generated
digit images, an audit sample, and a person's decisions with recorded times."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from core.files import file_sha256
from core.labels.store import LabelStore

CLASSES = ("three", "five", "eight")
NAMES = {3: "three", 5: "five", 8: "eight"}


def build_project(root: Path, n_images: int = 120, n_audit: int = 24, seed: int = 0, undecided: int = 0) -> Path:
    """Write `n_images` digit images (3, 5 and 8) under `root`, label all but the last `undecided` with times
    that grow with how ambiguous a digit is (1.5 s clear, up to ~40 s ambiguous); return the project file."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = np.flatnonzero(np.isin(digits.target, [3, 5, 8]))[:n_images]
    images, targets = digits.images[keep], digits.target[keep]
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, pixels in enumerate(images):
        path = root / f"img{i:03d}.png"
        Image.fromarray((pixels * 15).astype(np.uint8)).resize((32, 32)).save(path)
        paths.append(path.name)
    # a cheap stand-in for how hard a digit feels: distance to its class mean
    flat = images.reshape(len(images), -1)
    means = {t: flat[targets == t].mean(axis=0) for t in NAMES}
    distance = np.array([np.linalg.norm(x - means[t]) for x, t in zip(flat, targets)])
    hardness = (distance - distance.min()) / (np.ptp(distance) or 1.0)

    db = root / "labels.albench.db"
    store = LabelStore.create(db, root)
    store.add_classes(CLASSES)
    store.add_items((p, file_sha256(root / p)) for p in paths)
    ids = {row["path"]: row["id"] for row in store.items()}
    audit = set(store.mark_audit(n_audit, seed=seed))
    for i, p in enumerate(paths):
        if i >= len(paths) - undecided and ids[p] not in audit:
            continue
        ms = 2000 if ids[p] in audit else int(1500 + 40000 * hardness[i] ** 2)
        store.decide(ids[p], "label", annotator="ann", label=NAMES[int(targets[i])], ms=ms)
    store.close()
    assert math.isfinite(hardness.sum())
    return db


def record_model_rounds(db: Path, n: int) -> None:
    """`n` model rounds of the Label page's proposer on the project's labels as they are."""
    from core.labels.session import ImageCache, Settings, propose

    store = LabelStore(db)
    images = ImageCache(store.root, 8)
    for _ in range(n):
        propose(store, Settings(batch_size=4), images)
    store.close()
