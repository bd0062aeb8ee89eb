"""The CNN on a CIFAR-10-sized pool: time per round (fit / scoring / selection), images per
second, peak RSS, and fine-tune vs retrain-from-init on the same budget.

Uses the real CIFAR-10 when its files are in data/cifar10 (or $ALBENCH_DATA_DIR/cifar10),
otherwise synthetic data of the same shape (50,000 pool + 10,000 test, 32x32x3 uint8,
ten classes of coloured shapes on noisy backgrounds). Each configuration runs in a fresh
process so its peak RSS is its own.

Default (about 10 minutes on 2 cores): hybrid selection, 1,000 initial labels + 1,000 per
round, 3 rounds, 3 epochs per round - fewer than a real study uses, to stay in budget.
`--quick`: a 5,000-image pool, 2 rounds, 1 epoch.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

TITLE = "cnn learner on a CIFAR-10-sized pool: per-round time split, images/s, peak RSS, fine-tune vs retrain"


def synthetic_images(n: int, seed: int, n_classes: int = 10, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Class = (shape, colour) of a blob on a noisy background; position, size and noise vary."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    palette = rng.integers(40, 256, (n_classes, 3))
    for start in range(0, n, 2000):  # chunks keep the float temporaries small
        idx = np.arange(start, min(n, start + 2000))
        c = labels[idx]
        cy, cx = rng.uniform(10, 22, (2, len(idx)))
        r = rng.uniform(5, 9, len(idx))
        dy, dx = yy[None] - cy[:, None, None], xx[None] - cx[:, None, None]
        round_shape = dy**2 + dx**2 <= r[:, None, None] ** 2
        square = (np.abs(dy) <= r[:, None, None] * 0.8) & (np.abs(dx) <= r[:, None, None] * 0.8)
        mask = np.where((c % 2 == 0)[:, None, None], round_shape, square)
        background = rng.normal(90, 35, (len(idx), size, size, 3))
        colour = palette[c][:, None, None, :] + rng.normal(0, 20, (len(idx), 1, 1, 3))
        images[idx] = np.clip(np.where(mask[..., None], colour, background), 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def cifar_sized(quick: bool):
    from core.datasets import MissingDataError, load_dataset
    from core.types import Dataset

    os.environ["ALBENCH_OFFLINE"] = "1"  # a benchmark never downloads
    try:
        data = load_dataset("cifar10")
        if quick:
            keep = np.concatenate([np.flatnonzero(~data.is_test)[:5000], np.flatnonzero(data.is_test)[:1000]])
            data = Dataset("cifar10", data.images[keep], data.labels[keep], data.class_names, is_test=data.is_test[keep])
        return data, "CIFAR-10 (real files)"
    except MissingDataError:
        n_pool, n_test = (5000, 1000) if quick else (50_000, 10_000)
        images, labels = synthetic_images(n_pool + n_test, seed=0)
        is_test = np.zeros(n_pool + n_test, dtype=bool)
        is_test[n_pool:] = True
        return Dataset("synthetic-cifar", images, labels, tuple(f"class{i}" for i in range(10)), is_test=is_test), \
            f"synthetic {n_pool}+{n_test} x 32x32x3 (no CIFAR-10 files found)"


def _one(training: str, quick: bool, threads: int) -> list[dict]:
    from core.engine.config import RunConfig
    from core.engine.runner import run_comparison

    t_load = time.perf_counter()
    data, label = cifar_sized(quick)
    load_seconds = time.perf_counter() - t_load
    epochs, rounds, initial, batch = (1, 2, 500, 500) if quick else (3, 3, 1000, 1000)
    params = {"training": training, "epochs": epochs, "threads": threads}
    config = RunConfig(dataset="cifar10", learner="cnn", learner_params=params, strategies=("hybrid",), initial=initial,
                       batch=batch, rounds=rounds, strategy_params={"hybrid": {"alpha": 0.5, "clusters": 10}}, seed=0)
    results = run_comparison(config, dataset=data).runs[("hybrid", 0)]
    n_pool, n_test = int((~data.is_test).sum()), int(data.is_test.sum())
    rows = []
    for r in results:
        steps = math.ceil(r.n_labeled / 64)
        trained = r.n_labeled * max(epochs, math.ceil(100 / steps))  # the learner's epochs / min_steps rule
        rows.append({
            "data": label, "training": training, "threads": threads, "round": r.round, "n_labeled": r.n_labeled,
            "test_accuracy": round(r.test_accuracy, 4), "fit_s": round(r.fit_seconds, 1),
            "score_s": round(r.score_seconds, 1), "select_s": round(r.select_seconds, 1),
            "train_img_per_s": round(trained / r.fit_seconds),
            "infer_img_per_s": round((n_pool - r.n_labeled + n_test) / r.score_seconds),
        })
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for row in rows:
        row["load_s"] = round(load_seconds, 1)
        row["peak_RSS_MB"] = round(peak)
    return rows


def run(quick: bool = False) -> list[dict]:
    rows = []
    # The learner's default of one torch thread: on a shared 2-core machine two threads were
    # measured several times slower (OpenMP threads spin waiting for a descheduled peer).
    threads = int(os.environ.get("ALBENCH_CNN_THREADS", "1"))
    for training in ("finetune", "retrain"):
        # a fresh process per configuration, so peak RSS is that run's own
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows += pool.submit(_one, training, quick, threads).result()
    return rows
