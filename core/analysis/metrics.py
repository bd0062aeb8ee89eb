"""Per-round metrics and the statistics of a comparison over repeats."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


# scipy.special's t distribution (stdtr/stdtrit) is imported on first use: ~0.15 s that a
# single-repeat summary never needs; scipy.stats would cost ~0.5 s more.
def t_quantile(q: float, df: int) -> float:
    from scipy import special

    return float(special.stdtrit(df, q))


def one_sample_t_pvalue(values: np.ndarray) -> float:
    """Two-sided p-value of Student's one-sample t-test of mean 0 (scipy.stats.ttest_1samp)."""
    values = np.asarray(values, dtype=float)
    from scipy import special

    n = values.size
    t = values.mean() / (values.std(ddof=1) / math.sqrt(n))
    return float(2.0 * special.stdtr(n - 1, -abs(t)))


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> tuple[float, float, np.ndarray]:
    """Accuracy, macro-F1 (over the classes present in truth or prediction) and confusion counts.

    Derived from one bincount rather than scikit-learn's `f1_score` + `confusion_matrix`:
    their input validation took half of a 10-round digits loop. Tests pin the equality
    with scikit-learn (macro average, zero_division=0).
    """
    if len(y_true) == 0:
        return math.nan, math.nan, np.zeros((n_classes, n_classes), dtype=np.int64)
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    cm = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1) + cm.sum(axis=0)  # true + predicted counts per class
    present = support > 0
    f1 = float(np.mean(2 * tp[present] / support[present]))
    return float(tp.sum() / len(y_true)), f1, cm


def mean_ci(values: np.ndarray, level: float = 0.95,
            bounds: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval; the interval is NaN for fewer than 2 values.

    `bounds` clips the interval to the quantity's range (accuracy and AULC live in [0, 1]; with
    2-3 repeats a t interval easily reaches past them, which no value can).
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan, math.nan
    half = t_quantile(0.5 + level / 2, values.size - 1) * float(values.std(ddof=1)) / math.sqrt(values.size)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return mean, low, high


def aulc(n_labeled: np.ndarray, accuracy: np.ndarray) -> float:
    """Area under the learning curve, normalised by the label range to [0, 1] (trapezoids)."""
    n = np.asarray(n_labeled, dtype=float)
    acc = np.asarray(accuracy, dtype=float)
    ok = np.isfinite(acc)
    n, acc = n[ok], acc[ok]
    if n.size == 0:
        return math.nan
    if n.size == 1 or n[-1] == n[0]:
        return float(acc[-1])
    return float(np.trapezoid(acc, n) / (n[-1] - n[0]))


def labels_to_reach(n_labeled: np.ndarray, accuracy: np.ndarray, target: float) -> float:
    """The first label count whose accuracy is at least `target`; NaN if never reached."""
    hit = np.flatnonzero(np.asarray(accuracy, dtype=float) >= target)
    return float(np.asarray(n_labeled)[hit[0]]) if hit.size else math.nan


def default_metric(rounds: pd.DataFrame) -> str:
    """Test accuracy when there is a test split, else the transductive pool accuracy."""
    return "test_accuracy" if rounds["test_accuracy"].notna().any() else "pool_accuracy"


def curve_table(rounds: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per strategy and label count: mean, 95% CI and the number of repeats behind it."""
    rows = []
    for (strategy, n), group in rounds.groupby(["strategy", "n_labeled"], sort=True):
        mean, lo, hi = mean_ci(group[metric].to_numpy(), bounds=(0.0, 1.0))
        rows.append({"strategy": strategy, "n_labeled": int(n), "mean": mean, "ci_low": lo, "ci_high": hi,
                     "n_repeats": int(group[metric].notna().sum())})
    return pd.DataFrame(rows, columns=["strategy", "n_labeled", "mean", "ci_low", "ci_high", "n_repeats"])


def common_n_labeled(rounds: pd.DataFrame) -> int | None:
    """The largest label count that every repeat of every strategy in `rounds` has reached
    (None for no rounds). While a comparison runs, or after Cancel, repeats stop at different
    counts; a mean over them would mix a repeat at 70 labels with one at 20."""
    if rounds.empty:
        return None
    return int(rounds.groupby(["strategy", "repeat"])["n_labeled"].max().min())


def comparable_rounds(rounds: pd.DataFrame) -> pd.DataFrame:
    """The rounds every summary compares: those up to `common_n_labeled` (all of them once the
    comparison is complete). The rest is drawn, never summarised."""
    common = common_n_labeled(rounds)
    if common is None or common >= rounds["n_labeled"].max():
        return rounds
    return rounds[rounds["n_labeled"] <= common]


def partial_note(rounds: pd.DataFrame) -> str:
    """'' for a comparison whose repeats all reached the same label count, else one sentence
    saying where summaries compare and how far the curves go."""
    common = common_n_labeled(rounds)
    if common is None or common >= rounds["n_labeled"].max():
        return ""
    return (f"Partial results: summaries compare at {common} labels, the most that every repeat of every "
            f"strategy shown has reached; curves are drawn up to {int(rounds['n_labeled'].max())}.")


def per_repeat(rounds: pd.DataFrame, metric: str, target: float | None) -> pd.DataFrame:
    """Per (strategy, repeat): AULC, final value and labels to `target`, over `comparable_rounds`."""
    rows = []
    for (strategy, repeat), g in comparable_rounds(rounds).sort_values("round").groupby(["strategy", "repeat"]):
        n, acc = g["n_labeled"].to_numpy(), g[metric].to_numpy(dtype=float)
        rows.append({"strategy": strategy, "repeat": repeat, "aulc": aulc(n, acc), "final": acc[-1],
                     "final_n_labeled": int(n[-1]),
                     "labels_to_target": labels_to_reach(n, acc, target) if target is not None else math.nan})
    return pd.DataFrame(rows)


def summary_table(rounds: pd.DataFrame, metric: str | None = None, target: float | None = None,
                  baseline: str = "random") -> pd.DataFrame:
    """One row per strategy: final value, AULC, labels to `target`, paired AULC gain over `baseline`.

    The gain is the mean over repeats of (AULC strategy - AULC baseline) for the same repeat
    seed (same initial labels), with a t interval and the paired t-test p-value.
    """
    metric = metric or default_metric(rounds)
    reps = per_repeat(rounds, metric, target)
    base = reps[reps.strategy == baseline].set_index("repeat")["aulc"] if baseline in set(reps.strategy) else None
    rows = []
    for strategy, g in reps.groupby("strategy", sort=False):
        final, final_lo, final_hi = mean_ci(g["final"], bounds=(0.0, 1.0))
        area, area_lo, area_hi = mean_ci(g["aulc"], bounds=(0.0, 1.0))
        reached = g["labels_to_target"].notna()
        row = {"strategy": strategy, "metric": metric, "repeats": len(g), "final_n_labeled": int(g["final_n_labeled"].max()),
               "final": final, "final_ci_low": final_lo, "final_ci_high": final_hi,
               "aulc": area, "aulc_ci_low": area_lo, "aulc_ci_high": area_hi,
               "target": target, "labels_to_target": float(g.loc[reached, "labels_to_target"].mean()) if reached.any() else math.nan,
               "reached_target": f"{int(reached.sum())}/{len(g)}" if target is not None else "",
               "gain_vs_random": math.nan, "gain_ci_low": math.nan, "gain_ci_high": math.nan, "gain_p_value": math.nan}
        if base is not None and strategy != baseline:
            paired = g.set_index("repeat")["aulc"].to_frame("s").join(base.rename("b"), how="inner")
            diff = (paired["s"] - paired["b"]).to_numpy()
            gain, lo, hi = mean_ci(diff)
            row.update(gain_vs_random=gain, gain_ci_low=lo, gain_ci_high=hi)
            if diff.size >= 2 and np.ptp(diff) > 0:
                row["gain_p_value"] = one_sample_t_pvalue(diff)
        rows.append(row)
    order = {s: i for i, s in enumerate(rounds["strategy"].drop_duplicates())}
    return pd.DataFrame(rows).sort_values("strategy", key=lambda s: s.map(order)).reset_index(drop=True)
