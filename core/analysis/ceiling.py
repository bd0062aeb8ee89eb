"""The all-labels ceiling: the same learner fitted on every pool label of each repeat's split,
kept as one small JSON per repeat under `<cache>/ceilings/`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core.analysis.metrics import mean_ci



def ceiling_key(config, dataset_fingerprint: str, seed: int) -> str:
    """What an all-labels fit depends on: data, split, learner and its settings, seed."""
    from core.engine.config import SCHEMA_VERSION, stable_hash

    return stable_hash({"ceiling": 1, "dataset_fingerprint": dataset_fingerprint, "learner": config.learner,
                        "learner_params": dict(config.learner_params), "subset": config.subset,
                        "test_size": float(config.test_size), "seed": int(seed), "schema": SCHEMA_VERSION})


def _ceiling_path(cache, key: str):
    return cache.area("ceilings") / f"{key}.json"


def _read_ceiling(cache, key: str) -> dict | None:
    import json

    try:
        from core.files import read_regular_text

        item = json.loads(read_regular_text(_ceiling_path(cache, key)))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None
    return item if isinstance(item, dict) and "test_accuracy" in item else None


CEILING_COLUMNS = ["repeat", "seed", "n_labeled", "test_accuracy", "test_macro_f1", "fit_seconds"]


def cached_ceiling(config, dataset, cache) -> pd.DataFrame | None:
    """The ceiling of every repeat as stored under `<cache>/ceilings/`, or None while any is missing."""
    rows = []
    for repeat in range(config.repeats):
        item = _read_ceiling(cache, ceiling_key(config, dataset.fingerprint, config.seed + repeat))
        if item is None:
            return None
        rows.append({**item, "repeat": repeat, "seed": config.seed + repeat})
    return pd.DataFrame(rows, columns=CEILING_COLUMNS)


def ceiling(config, dataset, cache=None) -> pd.DataFrame:
    """The upper reference: the same learner fitted on every pool label of each repeat's split,
    evaluated on that repeat's test split. One row per repeat (NaN metrics without a test split).

    With `cache`, each repeat's result is read from / written (atomically) to
    `<cache>/ceilings/<key>.json`, so a page rerun fits nothing.
    """
    import time

    from threadpoolctl import threadpool_limits

    from core.files import atomic_write_json
    from core.learners import build_learner
    from core.analysis.metrics import evaluate
    from core.engine.runner import make_split

    rows = []
    for repeat in range(config.repeats):
        seed = config.seed + repeat
        key = ceiling_key(config, dataset.fingerprint, seed)
        item = _read_ceiling(cache, key) if cache is not None else None
        if item is None:
            split = make_split(dataset, seed, config.test_size, config.subset)
            # the RunConfig's checked settings, as the runner builds its learner: nothing is checked again
            learner = build_learner(config.learner, dataset.info, seed, config.learner_settings())
            t0 = time.perf_counter()
            with threadpool_limits(limits=learner.blas_threads):
                learner.fit(dataset.images[split.pool], dataset.labels[split.pool], X_unlabeled=None)
                if len(split.test):
                    pred = learner.predict_proba(dataset.images[split.test]).argmax(axis=1)
                    acc, f1, _ = evaluate(dataset.labels[split.test], pred, dataset.n_classes)
                else:
                    acc = f1 = math.nan
            item = {"n_labeled": int(len(split.pool)), "test_accuracy": None if math.isnan(acc) else acc,
                    "test_macro_f1": None if math.isnan(f1) else f1, "fit_seconds": time.perf_counter() - t0}
            if cache is not None:
                try:
                    atomic_write_json(_ceiling_path(cache, key), item)
                except OSError:  # a read-only cache: the ceiling is still shown, just refitted next time
                    pass
        rows.append({**item, "repeat": repeat, "seed": seed})
    frame = pd.DataFrame(rows, columns=CEILING_COLUMNS)
    return frame.astype({"test_accuracy": float, "test_macro_f1": float})


def ceiling_summary(frame: pd.DataFrame | None, metric: str) -> dict | None:
    """Mean and 95% CI of the ceiling for `metric` ('test_accuracy' or 'test_macro_f1'); None when undefined."""
    if frame is None or metric not in frame.columns:
        return None
    values = frame[metric].to_numpy(dtype=float)
    if not np.isfinite(values).any():
        return None
    mean, lo, hi = mean_ci(values, bounds=(0.0, 1.0))
    return {"mean": mean, "ci_low": lo, "ci_high": hi, "n_labeled": int(frame["n_labeled"].max()),
            "repeats": int(np.isfinite(values).sum())}


def ceiling_is_cheap(config) -> bool:
    """Whether the all-labels ceiling is computed without asking (learners declare `expensive_fit`)."""
    from core.learners import LEARNERS

    return not LEARNERS[config.learner].expensive_fit
