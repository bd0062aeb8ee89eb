"""What the paradigm buys next to what the strategy buys, from a sweep's runs table (constructed here)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.analysis.metrics import mean_ci
from core.analysis.paired_tests import holm, paired_t
from core.analysis.paradigm import paradigm_axes, paradigm_sentence, paradigm_table

SEEDS = [0, 1, 2, 3]
BASE = np.array([0.60, 0.62, 0.58, 0.61])  # logistic + random, per seed
HEAD_GAIN = np.array([0.07, 0.09, 0.08, 0.085])  # label_spreading over logistic, per seed
ENTROPY_GAIN = np.array([0.012, 0.008, 0.015, 0.005])  # entropy over random, per seed


def _row(head, strategy, values, seeds=SEEDS, n_high=100, **extra):
    return {"point": 0, **extra, "learner_params.head": head, "strategy": strategy, "repeats": len(values),
            "metric": "test_accuracy", "final_n_labeled": n_high, "aulc": float(np.mean(values)),
            "aulc_by_seed": json.dumps({str(s): float(v) for s, v in zip(seeds, values)})}


def runs_table(**extra) -> pd.DataFrame:
    rows = []
    for head, plus in (("label_spreading", HEAD_GAIN), ("logistic", 0.0)):  # the baseline listed second
        rows.append(_row(head, "random", BASE + plus, **extra))
        rows.append(_row(head, "entropy", BASE + plus + ENTROPY_GAIN, **extra))
    return pd.DataFrame(rows)


def test_paired_gains_of_the_head_and_of_the_strategy_with_the_verdicts_statistics():
    table = paradigm_table(runs_table()).set_index(["paradigm", "strategy"])
    assert table.loc[("logistic", "random"), "baseline"] and not table.loc[("label_spreading", "random"), "baseline"]
    row = table.loc[("label_spreading", "random")]
    gain, low, high = mean_ci(HEAD_GAIN)
    assert (row.paradigm_gain, row.paradigm_ci_low, row.paradigm_ci_high) == pytest.approx((gain, low, high))
    assert row.paradigm_p == pytest.approx(paired_t(HEAD_GAIN)[1])
    assert row.paradigm_pairs == 4
    # entropy's gain over random under each head: the same per-seed differences
    for head in ("logistic", "label_spreading"):
        row = table.loc[(head, "entropy")]
        assert row.strategy_gain == pytest.approx(ENTROPY_GAIN.mean())
        assert row.strategy_p == pytest.approx(paired_t(ENTROPY_GAIN)[1])
    # the baseline has no paradigm gain, random no strategy gain
    assert np.isnan(table.loc[("logistic", "entropy"), "paradigm_gain"])
    assert np.isnan(table.loc[("label_spreading", "random"), "strategy_gain"])


def test_holm_corrects_over_the_heads_compared_with_the_baseline():
    runs = runs_table()
    third = BASE + np.array([0.01, -0.02, 0.03, 0.0])
    runs = pd.concat([runs, pd.DataFrame([_row("self_training", "random", third),
                                          _row("self_training", "entropy", third + ENTROPY_GAIN)])])
    table = paradigm_table(runs)
    random = table[(table.strategy == "random") & ~table.baseline].set_index("paradigm")
    expected = holm([paired_t(HEAD_GAIN)[1], paired_t(third - BASE)[1]])
    assert list(random.loc[["label_spreading", "self_training"], "paradigm_p_holm"]) == pytest.approx(list(expected))


def test_only_same_seeds_over_the_same_label_range_are_paired():
    runs = runs_table()
    other_seeds = runs["learner_params.head"] == "label_spreading"
    runs.loc[other_seeds & (runs.strategy == "random"), "aulc_by_seed"] = json.dumps(
        {str(s + 10): v for s, v in zip(SEEDS, BASE + HEAD_GAIN)})
    runs.loc[other_seeds & (runs.strategy == "entropy"), "final_n_labeled"] = 80  # a point still running
    table = paradigm_table(runs).set_index(["paradigm", "strategy"])
    assert np.isnan(table.loc[("label_spreading", "random"), "paradigm_gain"])  # no seed in common
    assert np.isnan(table.loc[("label_spreading", "entropy"), "paradigm_gain"])  # AULC over other label counts


def test_other_swept_options_are_separate_contexts_and_an_unswept_learner_gives_nothing():
    runs = pd.concat([runs_table(batch=5), runs_table(batch=10)], ignore_index=True)
    table = paradigm_table(runs)
    assert sorted(set(table.context)) == ["batch=10", "batch=5"]
    assert len(table) == 8
    only_one = runs_table()[lambda r: r["learner_params.head"] == "logistic"]
    assert paradigm_axes(only_one) == [] and paradigm_table(only_one).empty
    with pytest.raises(ValueError, match="baseline .* is not among the swept settings"):
        paradigm_table(runs_table(), {"learner_params.head": "linear"})


def test_the_sentence_states_both_gains_with_their_intervals():
    sentence = paradigm_sentence(paradigm_table(runs_table()))
    gain, low, high = mean_ci(HEAD_GAIN)
    assert sentence.startswith(f"Under random sampling, the label_spreading head buys {gain:+.3f} AULC [{low:+.3f}, {high:+.3f}]")
    assert "over logistic" in sentence
    assert f"the best strategy, entropy, buys {ENTROPY_GAIN.mean():+.3f} AULC" in sentence
    assert "over random" in sentence and "Holm-Bonferroni" in sentence
