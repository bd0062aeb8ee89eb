"""Label efficiency with the CNN: random vs entropy vs hybrid, 3 repeats, AULC with 95% CIs.

Two data sets: scikit-learn's digits upsampled from 8x8 to 16x16 (so the three poolings
keep spatial detail), and a generated colour image set (ten classes of coloured shapes
on noisy backgrounds, 32x32x3; see bench_cnn.synthetic_images). Every strategy starts
from the same initial labels and the same network initialisation for a given repeat. The
gain column is the paired AULC difference to random over repeats; with 3 repeats the
intervals are wide, so read "hybrid beats random" only where the interval excludes 0.

Default: about 10 minutes on 2 cores (small budgets and few epochs per round).
`--quick`: one repeat, three rounds.
"""

from __future__ import annotations

import numpy as np

TITLE = "label efficiency with the cnn learner: random / entropy / hybrid, AULC (test accuracy) with 95% CI"
STRATEGIES = ("random", "entropy", "hybrid")


def digits_16() -> "Dataset":  # noqa: F821
    from core.datasets import load_dataset
    from core.datasets.images import resize_stack
    from core.types import Dataset

    d = load_dataset("digits")
    images = resize_stack((d.images.astype(np.uint16) * 255 // 16).astype(np.uint8), 16)  # 0-16 -> 0-255, 8 -> 16 px
    return Dataset("digits16", images, d.labels, d.class_names, feature_scale=1 / 255)


def shapes(n: int = 3000) -> "Dataset":  # noqa: F821
    from benchmarks.bench_cnn import synthetic_images
    from core.types import Dataset

    images, labels = synthetic_images(n, seed=1)
    return Dataset("shapes32", images, labels, tuple(f"class{i}" for i in range(10)))


def run(quick: bool = False) -> list[dict]:
    from core.engine.config import RunConfig
    from core.analysis.metrics import summary_table
    from core.engine.runner import run_comparison

    repeats, rounds = (1, 3) if quick else (3, 8)
    cases = [("digits 16x16", digits_16(), dict(initial=20, batch=20, clusters=4)),
             ("shapes 32x32x3", shapes(), dict(initial=30, batch=30, clusters=5))]  # clusters: the hybrid's
    rows = []
    for name, data, budget in cases:
        config = RunConfig(dataset="digits", learner="cnn", learner_params={"epochs": 5, "min_steps": 100},
                           strategies=STRATEGIES, rounds=rounds, repeats=repeats, seed=0, initial=budget["initial"],
                           batch=budget["batch"], strategy_params={"hybrid": {"alpha": 0.5, "clusters": budget["clusters"]}})
        frame = run_comparison(config, dataset=data).frame()
        summary = summary_table(frame, "test_accuracy")
        for r in summary.itertuples():
            rows.append({
                "data": name, "strategy": r.strategy, "repeats": r.repeats, "labels": r.final_n_labeled,
                "final_acc": round(r.final, 3), "AULC": round(r.aulc, 3),
                "AULC_95CI": f"[{r.aulc_ci_low:.3f}, {r.aulc_ci_high:.3f}]",
                "gain_vs_random": "" if np.isnan(r.gain_vs_random) else f"{r.gain_vs_random:+.3f}",
                "gain_95CI": "" if np.isnan(r.gain_ci_low) else f"[{r.gain_ci_low:+.3f}, {r.gain_ci_high:+.3f}]",
                "fit_s_per_round": round(frame.loc[frame.strategy == r.strategy, "fit_seconds"].mean(), 2),
            })
    return rows
