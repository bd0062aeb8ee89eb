"""Statistics over repeats: CIs, AULC, labels to a target, the paired gain over random."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.analysis.metrics import aulc, curve_table, evaluate, labels_to_reach, mean_ci, summary_table


def test_aulc_is_normalised_to_the_label_range():
    assert aulc([10, 20, 30], [0.5, 0.5, 0.5]) == pytest.approx(0.5)
    assert aulc([10, 20, 30], [0.0, 1.0, 1.0]) == pytest.approx(0.75)  # trapezoids: (0.5 + 1) / 2
    assert aulc([10], [0.8]) == pytest.approx(0.8)
    assert math.isnan(aulc([], []))


def test_labels_to_reach_returns_the_first_count_at_or_above_target():
    assert labels_to_reach([10, 20, 30, 40], [0.5, 0.8, 0.7, 0.9], 0.8) == 20
    assert math.isnan(labels_to_reach([10, 20], [0.5, 0.6], 0.9))


def test_mean_ci_matches_the_t_interval():
    values = np.array([0.8, 0.82, 0.85, 0.79])
    mean, lo, hi = mean_ci(values)
    ref = stats.t.interval(0.95, 3, loc=values.mean(), scale=stats.sem(values))
    assert mean == pytest.approx(values.mean()) and (lo, hi) == pytest.approx(ref)
    single = mean_ci([0.7])
    assert single[0] == 0.7 and math.isnan(single[1])


def test_evaluate_counts_every_class_in_the_confusion_matrix():
    acc, f1, cm = evaluate(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), n_classes=4)
    assert acc == 0.75 and cm.shape == (4, 4) and cm.sum() == 4 and cm[1, 2] == 1
    assert 0 < f1 < 1


def rounds_frame(curves: dict[str, list[list[float]]]) -> pd.DataFrame:
    rows = []
    for strategy, repeats in curves.items():
        for repeat, accs in enumerate(repeats):
            for r, acc in enumerate(accs):
                rows.append({"strategy": strategy, "repeat": repeat, "round": r, "n_labeled": 10 + 10 * r,
                             "test_accuracy": acc, "pool_accuracy": acc})
    return pd.DataFrame(rows)


def test_summary_gain_is_paired_by_repeat():
    frame = rounds_frame({
        "random": [[0.5, 0.6, 0.7], [0.3, 0.4, 0.5], [0.6, 0.7, 0.8]],
        "entropy": [[0.55, 0.7, 0.8], [0.35, 0.5, 0.6], [0.62, 0.8, 0.9]],
    })
    summary = summary_table(frame, "test_accuracy", target=0.7).set_index("strategy")
    diffs = [aulc([10, 20, 30], e) - aulc([10, 20, 30], r) for e, r in zip(
        [[0.55, 0.7, 0.8], [0.35, 0.5, 0.6], [0.62, 0.8, 0.9]], [[0.5, 0.6, 0.7], [0.3, 0.4, 0.5], [0.6, 0.7, 0.8]])]
    assert summary.loc["entropy", "gain_vs_random"] == pytest.approx(np.mean(diffs))
    assert summary.loc["entropy", "gain_p_value"] == pytest.approx(stats.ttest_rel(diffs, np.zeros(3)).pvalue)
    assert summary.loc["entropy", "gain_ci_low"] > 0  # a consistent gain despite large between-repeat spread
    assert math.isnan(summary.loc["random", "gain_vs_random"])
    assert summary.loc["random", "reached_target"] == "2/3" and summary.loc["random", "labels_to_target"] == 25
    assert summary.loc["entropy", "final"] == pytest.approx(np.mean([0.8, 0.6, 0.9]))


def test_curve_table_has_mean_and_band_per_label_count():
    frame = rounds_frame({"random": [[0.5, 0.6], [0.7, 0.8]]})
    table = curve_table(frame, "test_accuracy")
    assert table["n_labeled"].tolist() == [10, 20]
    assert table["mean"].tolist() == pytest.approx([0.6, 0.7])
    assert (table["ci_low"] < table["mean"]).all() and (table["mean"] < table["ci_high"]).all()
    assert table["n_repeats"].tolist() == [2, 2]


def test_evaluate_equals_scikit_learn():
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    rng = np.random.default_rng(0)
    for trial in range(20):
        y_true = rng.integers(0, 6, size=50)
        y_pred = np.where(rng.random(50) < 0.6, y_true, rng.integers(0, 7, size=50))  # class 6 only predicted
        acc, f1, cm = evaluate(y_true, y_pred, n_classes=8)
        assert acc == pytest.approx(accuracy_score(y_true, y_pred))
        assert f1 == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
        np.testing.assert_array_equal(cm, confusion_matrix(y_true, y_pred, labels=np.arange(8)))


def test_intervals_of_accuracy_and_aulc_stay_within_0_and_1():
    import pandas as pd

    from core.analysis.metrics import curve_table, summary_table

    # two repeats far apart: the raw t interval (12.7 x the standard error) reaches far past [0, 1]
    rows = [{"strategy": "random", "repeat": r, "round": i, "n_labeled": n, "test_accuracy": acc}
            for r, accs in enumerate([(0.2, 0.3), (0.9, 1.0)]) for i, (n, acc) in enumerate(zip((10, 20), accs))]
    rounds = pd.DataFrame(rows)
    summary = summary_table(rounds, "test_accuracy")
    for column in ("final_ci_low", "final_ci_high", "aulc_ci_low", "aulc_ci_high"):
        assert 0.0 <= summary[column].iloc[0] <= 1.0, column
    assert summary["final_ci_low"].iloc[0] == 0.0 and summary["final_ci_high"].iloc[0] == 1.0
    curve = curve_table(rounds, "test_accuracy")
    assert (curve.ci_low >= 0).all() and (curve.ci_high <= 1).all()


def test_a_partial_comparison_is_summarised_at_the_labels_every_repeat_reached():
    """During a run or after Cancel, repeats stop at different label counts: the summary compares
    every strategy at the largest count all shown repeats reached (here 20), never a mean of a
    repeat at 70 labels and one at 20, and says so."""
    from core.analysis.metrics import common_n_labeled, partial_note

    frame = rounds_frame({
        "random": [[0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0], [0.0, 0.1]],  # repeat 1 cancelled after 20 labels
        "entropy": [[0.5, 0.7, 0.8, 0.9, 0.95, 1.0, 1.0], [0.1, 0.3, 0.5]],
    })
    assert common_n_labeled(frame) == 20
    summary = summary_table(frame, "test_accuracy", target=0.5).set_index("strategy")
    assert summary["final_n_labeled"].tolist() == [20, 20]
    assert summary.loc["random", "final"] == pytest.approx(np.mean([0.6, 0.1]))
    assert summary.loc["entropy", "final"] == pytest.approx(np.mean([0.7, 0.3]))
    assert summary.loc["random", "aulc"] == pytest.approx(np.mean([aulc([10, 20], [0.5, 0.6]), aulc([10, 20], [0.0, 0.1])]))
    assert summary.loc["entropy", "reached_target"] == "1/2"  # repeat 1 reached 0.5 only at 30 labels: not compared
    note = partial_note(frame)
    assert "20 labels" in note and "70" in note
    complete = rounds_frame({"random": [[0.5, 0.6], [0.4, 0.5]]})
    assert partial_note(complete) == "" and summary_table(complete, "test_accuracy")["final_n_labeled"].tolist() == [20]
