"""Labelling time as the cost: accuracy per labelling minute, for data with recorded decision times.

A comparison on a labelling project (`--dataset labels`) has, per run and round, the recorded
time of every label its model was fitted on (`labelling_seconds` in rounds.csv). Strategies
that pick hard images pay more per label (Settles et al. 2008 measured this), so a ranking by
labels and a ranking by minutes can differ. Runs reach different minutes at each round, so the
minutes view compares them on the range that every run reached: a curve is interpolated
linearly between its rounds and never extrapolated.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core.analysis.metrics import mean_ci

COST = "labelling_seconds"


def has_times(rounds: pd.DataFrame) -> bool:
    """Whether these rounds carry recorded labelling times (data without them get no minutes view)."""
    return COST in rounds.columns and rounds[COST].notna().any()


def _runs(rounds: pd.DataFrame, metric: str):
    for (strategy, repeat), g in rounds.sort_values("round").groupby(["strategy", "repeat"], sort=False):
        minutes = g[COST].to_numpy(dtype=float) / 60.0
        value = g[metric].to_numpy(dtype=float)
        ok = np.isfinite(minutes) & np.isfinite(value)
        yield strategy, repeat, minutes[ok], value[ok]


def common_minutes(rounds: pd.DataFrame, metric: str) -> tuple[float, float]:
    """The minutes range every run covers: (largest first point, smallest last point)."""
    spans = [(m[0], m[-1]) for _, _, m, _ in _runs(rounds, metric) if m.size]
    if not spans:
        return math.nan, math.nan
    return max(s[0] for s in spans), min(s[1] for s in spans)


def minutes_summary(rounds: pd.DataFrame, metric: str, target: float | None = None) -> pd.DataFrame:
    """One row per strategy: AULC over the common minutes range (mean, 95% CI) and minutes to `target`.

    Minutes to target is the first recorded round at or above the target, averaged over the
    repeats that reached it (`reached_target` says how many did), as labels to target is.
    """
    low, high = common_minutes(rounds, metric)
    rows: dict[str, dict[str, list[float]]] = {}
    for strategy, _, minutes, value in _runs(rounds, metric):
        entry = rows.setdefault(strategy, {"aulc": [], "to_target": []})
        if math.isfinite(low) and high > low:
            grid = np.linspace(low, high, 101)
            entry["aulc"].append(float(np.trapezoid(np.interp(grid, minutes, value), grid) / (high - low)))
        if target is not None:
            hit = np.flatnonzero(value >= target)
            entry["to_target"].append(float(minutes[hit[0]]) if hit.size else math.nan)
    out = []
    for strategy, entry in rows.items():
        area, area_lo, area_hi = mean_ci(np.array(entry["aulc"]), bounds=(0.0, 1.0)) if entry["aulc"] else (math.nan,) * 3
        reached = [m for m in entry["to_target"] if math.isfinite(m)]
        out.append({"strategy": strategy, "metric": metric, "minutes_from": low, "minutes_to": high,
                    "aulc_minutes": area, "aulc_minutes_ci_low": area_lo, "aulc_minutes_ci_high": area_hi,
                    "target": target, "minutes_to_target": float(np.mean(reached)) if reached else math.nan,
                    "reached_target": f"{len(reached)}/{len(entry['to_target'])}" if target is not None else ""})
    return pd.DataFrame(out)


def _minutes(value: float) -> str:
    """3.5 (as the table shows it) under ten minutes, whole minutes above."""
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def minutes_sentence(summary: pd.DataFrame) -> str:
    """'to reach 0.90, entropy needed 41 min, random 58 min (mean over the repeats that reached it)'."""
    if summary.empty or summary["target"].isna().all():
        return ""
    target = float(summary["target"].iloc[0])
    ranked = summary.sort_values("minutes_to_target", na_position="last")
    parts = [f"{r.strategy} {_minutes(r.minutes_to_target)} min ({r.reached_target} repeats)" if math.isfinite(r.minutes_to_target)
             else f"{r.strategy} did not reach it" for r in ranked.itertuples()]
    return f"to reach {target:.2f}: " + ", ".join(parts)


def minutes_curves(rounds: pd.DataFrame, metric: str, points: int = 60) -> pd.DataFrame:
    """Per strategy: the mean curve over repeats against labelling minutes, on the range every run reached
    (each run interpolated between its rounds), with how many repeats are behind each point."""
    low, high = common_minutes(rounds, metric)
    if not (math.isfinite(low) and high > low):
        return pd.DataFrame(columns=["strategy", "minutes", "mean", "n_repeats"])
    grid = np.linspace(low, high, points)
    curves: dict[str, list[np.ndarray]] = {}
    for strategy, _, minutes, value in _runs(rounds, metric):
        curves.setdefault(strategy, []).append(np.interp(grid, minutes, value))
    return pd.DataFrame([{"strategy": s, "minutes": float(m), "mean": float(v), "n_repeats": len(runs)}
                         for s, runs in curves.items() for m, v in zip(grid, np.mean(runs, axis=0))])
