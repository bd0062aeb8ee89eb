"""A sweep's results from the cache: one row per grid point x strategy, and each strategy's best point.

`collect_runs` and `load_sweep_results` only read; `save_comparisons` is the one writer
(a finished grid point recorded as a comparison, so the other pages list it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Mapping

import pandas as pd

from core.engine.cache import Cache
from core.engine.config import RunConfig
from core.analysis.metrics import default_metric, per_repeat, summary_table
from core.analysis.paradigm import RUN_COLUMNS
from core.engine.runner import Comparison, load_comparison, run_comparison
from core.sweep.grid import Sweep, relevant_strategies
from core.sweep.plan import Plan, plan_sweep
from core.sweep.status import SweepProgress
from core.types import Dataset




@dataclass
class SweepResult:
    sweep: Sweep
    progress: SweepProgress
    runs: pd.DataFrame  # one row per grid point x strategy
    best: pd.DataFrame  # one row per strategy: its best grid point by AULC
    metric: str
    errors: dict[str, str]  # unit key -> error
    dispatched: int  # units handed to the executor (0 for a finished sweep)


def _complete_points(plan: Plan, complete: set[str] | None) -> list[bool]:
    """Per grid point: whether every unit it needs is in `complete` (default: complete when planned)."""
    complete = {u.key for u in plan.units if u.complete} if complete is None else complete
    out = []
    for point, dkey in zip(plan.sweep.points, plan.point_datasets):
        fingerprint = plan.datasets[dkey].fingerprint
        out.append({spec.key(fingerprint) for spec in point.config.specs()} <= complete)
    return out


def save_comparisons(plan: Plan, cache: Cache, complete: set[str] | None = None) -> dict[int, Comparison]:
    """Record each grid point whose units all finished as a comparison in the cache, so the other pages list it.

    Nothing is computed for a finished point: its rounds are read back. Returns the saved
    comparisons by point index; `collect_runs(..., comparisons=...)` tabulates them without
    reading them again.
    """
    saved = {}
    for point, dkey, done in zip(plan.sweep.points, plan.point_datasets, _complete_points(plan, complete)):
        if done:
            saved[point.index] = run_comparison(point.config, cache=cache, dataset=plan.datasets[dkey])
    return saved


def collect_runs(plan: Plan, cache: Cache, complete: set[str] | None = None, *,
                 comparisons: Mapping[int, Comparison] | None = None) -> tuple[pd.DataFrame, str]:
    """One row per grid point x strategy: its grid values, AULC and final value with 95% CIs.

    `aulc_by_seed` holds each repeat's AULC as JSON {seed: aulc}: repeats of two grid points with
    the same seed share the initial labels, so `core.analysis.paradigm` pairs them across points
    (what a learner or head buys over another, with the verdicts' paired t statistics).

    Reads whatever the cache holds so far and writes nothing. A point is complete when
    every unit it needs is in `complete` (default: the units the plan found finished).
    `comparisons` (point index -> Comparison, as `save_comparisons` returns) are used as
    they are instead of reading those points from the cache again.
    """
    sweep = plan.sweep
    comparisons = comparisons or {}
    frames = []
    for point, dkey, done in zip(sweep.points, plan.point_datasets, _complete_points(plan, complete)):
        comparison = comparisons.get(point.index)
        if comparison is None:
            comparison = load_comparison(point.config, cache, plan.datasets[dkey])
        frame = comparison.frame()
        if len(frame):
            frames.append((point, frame, done))
    if not frames:
        return pd.DataFrame(columns=["point", *sweep.axes, *RUN_COLUMNS[1:]]), "test_accuracy"
    metric = default_metric(pd.concat([f for _, f, _ in frames]))
    rows = []
    for point, frame, done in frames:
        summary = summary_table(frame, metric)
        seeds = dict(zip(frame["repeat"], frame["seed"]))
        by_seed = {s: json.dumps({str(int(seeds[r.repeat])): float(r.aulc) for r in g.itertuples()})
                   for s, g in per_repeat(frame, metric, None).groupby("strategy", sort=False)}
        for r in summary.to_dict("records"):
            rows.append({"point": point.index, **{a: point.params[a] for a in sweep.axes}, "strategy": r["strategy"],
                         "repeats": r["repeats"], "metric": metric, "final_n_labeled": r["final_n_labeled"],
                         "aulc": r["aulc"], "aulc_ci_low": r["aulc_ci_low"], "aulc_ci_high": r["aulc_ci_high"],
                         "aulc_ci_width": r["aulc_ci_high"] - r["aulc_ci_low"], "final": r["final"],
                         "final_ci_low": r["final_ci_low"], "final_ci_high": r["final_ci_high"],
                         "gain_vs_random": r["gain_vs_random"], "complete": done, "config_key": point.config.key(),
                         "aulc_by_seed": by_seed.get(r["strategy"], "{}")})
    return pd.DataFrame(rows, columns=["point", *sweep.axes, *RUN_COLUMNS[1:]]), metric


def best_per_strategy(runs: pd.DataFrame) -> pd.DataFrame:
    """Each strategy's grid point with the highest mean AULC (first one on ties).

    An option that cannot change a strategy's runs (alpha for random) is left empty in that
    strategy's row: every value of it gave the same runs, so naming one would mislead.
    """
    if runs.empty:
        return runs.copy()
    ranked = runs.dropna(subset=["aulc"])
    best = ranked.loc[ranked.groupby("strategy", sort=False)["aulc"].idxmax()].copy()
    for option in [c for c in best.columns if c not in RUN_COLUMNS]:  # the grid's axes
        strategies = relevant_strategies(option)
        if strategies is not None:  # a strategy parameter: blank for the strategies it cannot change
            best[option] = best[option].astype(object)
            best.loc[~best.strategy.isin(strategies), option] = None
    return best.sort_values("aulc", ascending=False).reset_index(drop=True)


def load_sweep_results(sweep: Sweep, cache: Cache, *, load: Callable[[RunConfig], Dataset] | None = None,
                       plan: Plan | None = None) -> SweepResult:
    """Tabulate whatever the cache holds for `sweep`; computes nothing, starts no worker.

    `plan` is `plan_sweep(sweep, cache)` when the caller has made it already (then `load`
    is not used); without it the sweep is planned here.
    """
    if plan is None:
        plan = plan_sweep(sweep, cache, load=load)
    plan.check_for(sweep)
    runs, metric = collect_runs(plan, cache)
    progress = SweepProgress(total=len(plan.units), cached=sum(u.complete for u in plan.units))
    return SweepResult(plan.sweep, progress, runs, best_per_strategy(runs), metric, {}, dispatched=0)
