"""A comparison on a person's labelling project (issue 23's goal: a 2,000-label project with cached backbone
features, 6 strategies x 10 rounds x 3 repeats, under 60 s on the 2-core machine).

The project is built from scratch: 2,000 generated 32x32 images of 10 classes (a class colour and stripe
under noise whose level sets how hard an image is), an audit sample of 200 (the test split), and every
image decided with a recorded time that grows with its noise (1.5 s clear, up to ~20 s hard). The backbone
features (resnet18, random init, input 32) are extracted once into the feature store by a first, one-round
comparison; the timed comparison (`--dataset labels`, the pretrained learner's logistic head, labelling
time recorded per round) then reads them back. Each part runs in its own spawned process (its own peak RSS).
`--quick`: 400 images, 3 rounds, 1 repeat.
"""

from __future__ import annotations

import multiprocessing
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

TITLE = "labelling project: 2,000 labels, cached backbone features, 6 strategies x 10 rounds x 3 repeats"

STRATEGIES = ("random", "entropy", "smallest_margin", "least_confidence", "coreset", "hybrid")
N_CLASSES = 10


def build_project(root: Path, n_images: int, n_audit: int, seed: int = 0) -> Path:
    """Generated images under `root`, all decided with recorded times; returns the project file."""
    from PIL import Image

    from core.files import file_sha256
    from core.labels.store import LabelStore

    rng = np.random.default_rng(seed)
    colours = rng.integers(40, 216, (N_CLASSES, 3))
    y = np.arange(n_images) % N_CLASSES
    noise_level = rng.uniform(10, 90, n_images)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_images):
        pixels = np.broadcast_to(colours[y[i]], (32, 32, 3)).astype(float).copy()
        pixels[:, y[i] * 3:y[i] * 3 + 3] = 255 - pixels[:, y[i] * 3:y[i] * 3 + 3]  # the class's stripe
        pixels += rng.normal(0, noise_level[i], pixels.shape)
        path = root / f"img{i:04d}.png"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
        paths.append(path.name)
    db = root / "labels.albench.db"
    store = LabelStore.create(db, root)
    names = [f"class{c}" for c in range(N_CLASSES)]
    store.add_classes(names)
    store.add_items((p, file_sha256(root / p)) for p in paths)
    ids = {row["path"]: row["id"] for row in store.items()}
    store.mark_audit(n_audit, seed=seed)
    hardness = (noise_level - 10) / 80
    for i, p in enumerate(paths):  # a person's time: longer for noisier images, with a spread of its own
        ms = int(1500 + 18000 * hardness[i] ** 2 * rng.lognormal(0, 0.3))
        store.decide(ids[p], "label", annotator="bench", label=names[y[i]], ms=ms)
    store.close()
    return db


def _comparison(db: str, cache_dir: str, seed: int, rounds: int, repeats: int, strategies, part: str) -> dict:
    from core.engine.cache import Cache
    from core.engine.config import RunConfig
    from core.engine.runner import run_comparison
    from core.learners import pretrained

    calls = {"images": 0}
    extract = pretrained.PretrainedLearner._extract

    def counted(self, X):
        calls["images"] += len(X)
        return extract(self, X)

    pretrained.PretrainedLearner._extract = counted
    config = RunConfig(dataset="labels", data_dir=db, learner="pretrained",
                       learner_params={"weights": "none", "backbone": "resnet18", "input_size": 32},
                       strategies=tuple(strategies), initial=20, batch=20, rounds=rounds, repeats=repeats, seed=seed,
                       strategy_params={"hybrid": {"alpha": 0.5, "clusters": 5}} if "hybrid" in strategies else {})
    t0 = time.perf_counter()
    comparison = run_comparison(config, cache=Cache(cache_dir))
    wall = time.perf_counter() - t0
    frame = comparison.frame()
    last = frame[frame["round"] == rounds - 1]
    return {"part": part, "what": f"{len(strategies)} strategies x {rounds} rounds x {repeats} repeats",
            "labels": int(comparison.dataset.labels.size), "wall_s": round(wall, 1), "backbone_images": calls["images"],
            "peak_RSS_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "labelling_min_final": round(float(last["labelling_seconds"].mean()) / 60, 1),
            "final_acc": round(float(last["test_accuracy"].mean()), 3)}


def run(quick: bool = False) -> list[dict]:
    spawn = multiprocessing.get_context("spawn")
    n_images, n_audit, rounds, repeats = (400, 40, 3, 1) if quick else (2000, 200, 10, 3)
    work = Path(tempfile.mkdtemp(prefix="albench-bench-labels-"))
    try:
        t0 = time.perf_counter()
        db = build_project(work / "images", n_images, n_audit)
        rows = [{"part": "build the project", "what": f"{n_images} generated images, audit {n_audit}",
                 "labels": n_images, "wall_s": round(time.perf_counter() - t0, 1)}]
        parts = (("extract the features once (1 run, 1 round)", 1000, 1, 1, ("random",)),
                 ("the comparison, features cached", 0, rounds, repeats, STRATEGIES))
        for part, seed, n_rounds, n_repeats, strategies in parts:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                rows.append(pool.submit(_comparison, str(db), str(work / "cache"), seed, n_rounds, n_repeats,
                                        strategies, part).result())
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)
