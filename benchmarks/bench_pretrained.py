"""The pretrained learner: feature-extraction throughput against the bare torchvision forward
pass, and a comparison on a CIFAR-10-sized pool from cached resnet18 features.

1. Throughput (CPU here; a GPU when one is there): our pipeline (uint8 images -> resize ->
   normalise -> backbone, in the learner's batches) against the raw forward pass of the same
   model on an already prepared float batch of the same size, alternated in one process;
   the overhead is what decode-free preprocessing and batching cost on top of the model.
2. First comparison: a synthetic 50,000 + 10,000 image pool (32x32x3, bench_cnn's generator),
   resnet18 with weights=none, input 32: feature extraction into a fresh store, then 6
   strategies x 10 rounds x 3 repeats. Wall time and peak RSS of that process.
3. Second comparison on the same data (new seeds, so nothing is cached but the features), in
   a fresh process: backbone calls (0 expected), the time to load the store, wall time, RSS.

Each part runs in its own spawned process so its peak RSS is its own. `--quick`: 5,000 + 1,000
images, 3 rounds, 1 repeat.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

TITLE = "pretrained learner: extraction throughput vs raw forward, 50k-pool comparison from cached features"

STRATEGIES = ("random", "entropy", "smallest_margin", "least_confidence", "coreset", "hybrid")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _throughput(backbone: str, input_size: int, batch_size: int, n: int, threads: int) -> dict:
    import torch
    from torch.nn import functional as F

    from benchmarks.bench_cnn import synthetic_images
    from core.learners import make_learner
    from core.learners.pretrained import IMAGENET_MEAN, IMAGENET_STD
    from core.types import DataInfo

    images, _ = synthetic_images(n, seed=1)
    learner = make_learner("pretrained", DataInfo(10, (32, 32, 3), 1 / 255, tuple("abcdefghij")), weights="none",
                           backbone=backbone, input_size=input_size, batch_size=batch_size, threads=threads)
    model, device = learner._backbone
    torch.set_num_threads(threads or os.cpu_count() or 1)
    # the raw input: already resized and normalised float batches, made outside the timing
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", antialias=True)
    x = ((x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)).contiguous()

    def raw() -> None:
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                model(x[start:start + batch_size].to(device))

    def pipeline() -> None:
        learner._extract(images)

    raw(), pipeline()  # warm-up
    times = {"raw": [], "pipeline": []}
    for _ in range(3):
        for name, fn in (("raw", raw), ("pipeline", pipeline)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    raw_s, pipe_s = min(times["raw"]), min(times["pipeline"])
    return {"part": "throughput", "what": f"{backbone} {input_size}px, batch {batch_size}, {device.type}, "
                                          f"{torch.get_num_threads()} threads",
            "raw_img_per_s": round(n / raw_s), "pipeline_img_per_s": round(n / pipe_s),
            "overhead_pct": round(100 * (pipe_s / raw_s - 1), 1)}


def _dataset(quick: bool):
    from benchmarks.bench_cnn import synthetic_images
    from core.types import Dataset

    n_pool, n_test = (5000, 1000) if quick else (50_000, 10_000)
    images, labels = synthetic_images(n_pool + n_test, seed=0)
    is_test = np.zeros(n_pool + n_test, dtype=bool)
    is_test[n_pool:] = True
    return Dataset("synthetic-cifar", images, labels, tuple(f"class{i}" for i in range(10)), is_test=is_test)


def _comparison(cache_dir: str, seed: int, quick: bool, part: str) -> dict:
    from core.engine import feature_store as features  # where the pretrained learner calls the store
    from core.engine.cache import Cache
    from core.engine.config import RunConfig
    from core.learners import pretrained
    from core.engine.runner import run_comparison

    t0 = time.perf_counter()
    data = _dataset(quick)
    make_s = time.perf_counter() - t0
    calls = {"images": 0, "seconds": 0.0}
    extract = pretrained.PretrainedLearner._extract

    def counted(self, X):
        t = time.perf_counter()
        out = extract(self, X)
        calls["images"] += len(X)
        calls["seconds"] += time.perf_counter() - t
        return out

    pretrained.PretrainedLearner._extract = counted
    store_s = {}
    stored = features.stored_features

    def timed_store(*args, **kwargs):
        t = time.perf_counter()
        out = stored(*args, **kwargs)
        np.asarray(out).sum()  # touch every page: the load is really done
        store_s["first"] = store_s.get("first", 0.0) + time.perf_counter() - t  # rows are asked for per round
        return out

    features.stored_features = timed_store
    rounds, repeats = (3, 1) if quick else (10, 3)
    config = RunConfig(dataset="cifar10", learner="pretrained",
                       learner_params={"weights": "none", "backbone": "resnet18", "input_size": 32},
                       strategies=STRATEGIES, initial=100, batch=100, rounds=rounds, repeats=repeats, seed=seed,
                       strategy_params={"hybrid": {"alpha": 0.5, "clusters": 10}})
    t1 = time.perf_counter()
    comparison = run_comparison(config, dataset=data, cache=Cache(cache_dir))
    wall = time.perf_counter() - t1
    frame = comparison.frame()
    final = frame[frame["round"] == rounds - 1].groupby("strategy")["test_accuracy"].mean()
    return {"part": part, "what": f"{len(STRATEGIES)} strategies x {rounds} rounds x {repeats} repeats, "
                                  f"pool {int((~data.is_test).sum())} + test {int(data.is_test.sum())}",
            "wall_s": round(wall, 1), "backbone_images": calls["images"], "backbone_s": round(calls["seconds"], 1),
            "store_s": round(store_s.get("first", float("nan")), 2),
            "rounds_s": round(wall - store_s.get("first", 0.0), 1), "peak_RSS_MB": round(_peak_mb()),
            "data_s": round(make_s, 1),
            "final_acc": ", ".join(f"{s} {final[s]:.3f}" for s in STRATEGIES)}


def run(quick: bool = False) -> list[dict]:
    spawn = multiprocessing.get_context("spawn")
    rows = []
    n = 512 if quick else 2048
    for backbone, size, batch in (("resnet18", 32, 64), ("resnet18", 64, 64), ("resnet18", 32, 256)):
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            rows.append(pool.submit(_throughput, backbone, size, batch, n, 0).result())
    cache_dir = tempfile.mkdtemp(prefix="albench-bench-pretrained-")
    try:
        for part, seed in (("first comparison (extracts)", 0), ("second comparison (store hit)", 100)):
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                rows.append(pool.submit(_comparison, cache_dir, seed, quick, part).result())
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    return rows
