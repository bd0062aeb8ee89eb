"""Semi-supervised heads on backbone-sized features: one fit on a large pool (issue 23's goal: 50k x 512
under 10 s per fit, peak memory under 1 GB). label_spreading is timed twice: its first fit of a run
(PCA and k-NN graph built) and a later round's (200 more labels, the same pool in another order: the
graph is reused, `semi_heads.SpreadGraph`)."""

from __future__ import annotations

import numpy as np

from benchmarks.measure import median_seconds, peak_mb

TITLE = "semi-supervised heads: one fit, labelled + unlabelled pool of backbone features (one thread)"


def _features(n: int, dims: int, n_classes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (n_classes, dims)).astype(np.float32)
    y = rng.integers(0, n_classes, n)
    X = centres[y] + rng.normal(0, 0.8, (n, dims)).astype(np.float32)
    return X, y


def run(quick: bool = False) -> list[dict]:
    from threadpoolctl import threadpool_limits

    from core.learners.semi_heads import SelfTrainingHead, SpreadGraph, SpreadHead

    rows = []
    sizes = [(5_000, 512)] if quick else [(10_000, 512), (50_000, 512)]
    with threadpool_limits(1):
        for n, dims in sizes:
            X, y = _features(n, dims)
            labelled, later = np.arange(200), np.arange(400)
            spread_graph = {}

            def spread(first: bool):
                def fit():
                    if first or "graph" not in spread_graph:
                        spread_graph["graph"] = SpreadGraph()
                    picked = labelled if first else later  # a later round: the same pool, more labels
                    head = SpreadHead(10, 0.99, graph=spread_graph["graph"])
                    proba = head.fit(X[picked], y[picked], X[len(picked):][::-1])
                    fit.accuracy = float((head.classes_[proba.argmax(1)] == y[len(picked):][::-1]).mean())
                return fit

            def self_training():
                head = SelfTrainingHead(1.0, 0.9)
                proba = head.fit(X[labelled], y[labelled], X[200:])
                self_training.accuracy = float((head.classes_[proba.argmax(1)] == y[200:]).mean())

            heads = {"label_spreading (k=10, alpha=0.99): first fit of a run": spread(True),
                     "label_spreading: a later round's fit (graph reused)": spread(False),
                     "self_training (threshold 0.9)": self_training}
            for name, fit in heads.items():
                seconds = median_seconds(fit, 1 if n > 10_000 else 3)
                rows.append({"head": name, "pool": n, "dims": dims, "labels": 400 if "later" in name else 200,
                             "threads": 1, "seconds": round(seconds, 2), "peak_MB": round(peak_mb(fit)),
                             "accuracy_unlabelled": round(fit.accuracy, 3)})
    return rows
