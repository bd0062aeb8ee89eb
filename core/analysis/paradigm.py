"""What the paradigm buys next to what the strategy buys: a sweep over the learner or its head, read
with the verdicts' statistics.

The training paradigm (a semi-supervised head using the unlabelled pool) can move accuracy far more
than the query strategy (Lüth et al. 2023). A sweep over `learner` and/or `learner_params.head`
answers both questions at once. Two grid points that differ only in the learner share, repeat by
repeat, the seed, so the test split and the initial labels (`RunConfig.seed + repeat`): the unit of
evidence is the per-seed AULC difference, as in `core.analysis.verdicts`. Per strategy, each
learner setting's paired AULC gain over the baseline setting (the supervised `logistic` head, by
default) comes with its 95% t interval, the paired t-test and Holm-Bonferroni over the settings
compared; next to it, the strategy's paired gain over random under that same setting.

Input: the sweep's `runs` table (`core.sweep.results.collect_runs`), whose `aulc_by_seed` column
holds each repeat's AULC.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

import pandas as pd

from core.analysis.metrics import mean_ci
from core.analysis.paired_tests import CORRECTION, holm, paired_t

PARADIGM_AXES = ("learner", "learner_params.head")  # the grid options that change the training paradigm
BASELINE_VALUE = "logistic"  # the supervised head (and learner) every other setting is compared with
RANDOM = "random"
# The result columns of a sweep's runs table (core.sweep.results.collect_runs writes them, the heatmap and
# this table read them); every other column is a grid option. Here, below both, so neither reaches up.
RUN_COLUMNS = ["point", "strategy", "repeats", "metric", "final_n_labeled", "aulc", "aulc_ci_low", "aulc_ci_high",
               "aulc_ci_width", "final", "final_ci_low", "final_ci_high", "gain_vs_random", "complete", "config_key",
               "aulc_by_seed"]
_RESULT_COLUMNS = frozenset(RUN_COLUMNS)
COLUMNS = ["context", "option", "strategy", "paradigm", "baseline", "aulc", "repeats",
           "paradigm_gain", "paradigm_ci_low", "paradigm_ci_high", "paradigm_p", "paradigm_p_holm", "paradigm_pairs",
           "strategy_gain", "strategy_ci_low", "strategy_ci_high", "strategy_p", "strategy_p_holm", "strategy_pairs"]

# The columns a summary shows (the CLI's printed table, the Sweep page)
PARADIGM_SUMMARY = ["context", "strategy", "paradigm", "aulc", "paradigm_gain", "paradigm_ci_low", "paradigm_ci_high",
                    "paradigm_p_holm", "strategy_gain", "strategy_ci_low", "strategy_ci_high", "strategy_p_holm"]


def summary_columns(table: pd.DataFrame) -> list[str]:
    """`PARADIGM_SUMMARY`, without the context column when nothing else was swept."""
    return [c for c in PARADIGM_SUMMARY if c != "context" or (table["context"] != "").any()]


def paradigm_axes(runs: pd.DataFrame) -> list[str]:
    """The paradigm options the sweep varied (more than one value in its results)."""
    return [a for a in PARADIGM_AXES if a in runs.columns and runs[a].nunique(dropna=True) > 1]


def _short(axis: str) -> str:
    return axis.removeprefix("learner_params.")


def paradigm_label(values: Mapping[str, Any]) -> str:
    """'label_spreading' for one varied option, 'learner=pretrained, head=label_spreading' for two."""
    if len(values) == 1:
        return str(next(iter(values.values())))
    return ", ".join(f"{_short(a)}={v}" for a, v in values.items())


def _seeds(cell: Any) -> pd.Series:
    """{seed: aulc} of one runs row (JSON text, as in runs.csv, or a dict)."""
    values = json.loads(cell) if isinstance(cell, str) else dict(cell or {})
    return pd.Series({int(k): float(v) for k, v in values.items()}, dtype=float)


def _paired(a: pd.Series, b: pd.Series) -> tuple[float, float, float, float, int]:
    """(mean, ci_low, ci_high, p, n) of a - b over the seeds both have."""
    diff = (a - b).dropna().to_numpy(dtype=float)
    mean, low, high = mean_ci(diff)
    return mean, low, high, paired_t(diff)[1], int(diff.size)


def choose_baseline(paradigms: list[dict[str, Any]], axes: list[str],
                    baseline: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The setting others are compared with: `baseline` when given, else the one with the most options at
    `logistic` (each option's first value where it has no `logistic`), the first on ties."""
    if baseline is not None:
        wanted = {a: baseline[a] for a in axes if a in baseline}
        match = [p for p in paradigms if all(p[a] == v for a, v in wanted.items())]
        if not match:
            raise ValueError(f"baseline {dict(baseline)} is not among the swept settings "
                             f"{[paradigm_label(p) for p in paradigms]}")
        return match[0]
    preferred = {a: BASELINE_VALUE if any(p[a] == BASELINE_VALUE for p in paradigms) else paradigms[0][a]
                 for a in axes}
    return max(paradigms, key=lambda p: sum(p[a] == preferred[a] for a in axes))  # max keeps the first on ties


def paradigm_table(runs: pd.DataFrame, baseline: Mapping[str, Any] | None = None, *,
                   random: str = RANDOM) -> pd.DataFrame:
    """Per context (the other swept options), strategy and learner setting: the paired AULC gain over the
    baseline setting, and the strategy's paired AULC gain over `random` under that setting.

    Pairs are repeats with the same seed (the same initial labels) whose AULC covers the same label
    range (equal `final_n_labeled`); gains are means over pairs with a 95% t interval, tested by the
    paired t-test, Holm-Bonferroni corrected over the settings compared with the baseline (per
    strategy) and over the strategies compared with random (per setting), as the verdict does.
    Empty when the sweep varies no paradigm option. Raises ValueError for a `baseline` not swept.
    """
    axes = paradigm_axes(runs)
    if not axes or runs.empty:
        return pd.DataFrame(columns=COLUMNS)
    context_axes = [c for c in runs.columns if c not in _RESULT_COLUMNS and c not in axes]
    runs = runs.dropna(subset=axes)
    paradigms = [dict(zip(axes, values)) for values in runs[axes].drop_duplicates().itertuples(index=False)]
    base = choose_baseline(paradigms, axes, baseline)
    rows = []
    groups = runs.groupby(context_axes, sort=False, dropna=False) if context_axes else [((), runs)]
    for context, frame in groups:
        context = context if isinstance(context, tuple) else (context,)
        where = ", ".join(f"{a}={v}" for a, v in zip(context_axes, context))
        cells = {}  # (paradigm label, strategy) -> (seed -> aulc, final_n_labeled, mean aulc)
        for r in frame.to_dict("records"):
            cells[(paradigm_label({a: r[a] for a in axes}), r["strategy"])] = (
                _seeds(r["aulc_by_seed"]), r["final_n_labeled"], r["aulc"])
        base_label = paradigm_label(base)
        part = []
        for (label, strategy), (seeds, n_high, mean) in cells.items():
            row = dict.fromkeys(COLUMNS, math.nan)
            row.update(context=where, option=", ".join(map(_short, axes)), strategy=strategy, paradigm=label, baseline=label == base_label, aulc=mean,
                       repeats=int(seeds.size))
            other = cells.get((base_label, strategy))
            if label != base_label and other is not None and other[1] == n_high:
                (row["paradigm_gain"], row["paradigm_ci_low"], row["paradigm_ci_high"], row["paradigm_p"],
                 row["paradigm_pairs"]) = _paired(seeds, other[0])
            ref = cells.get((label, random))
            if strategy != random and ref is not None and ref[1] == n_high:
                (row["strategy_gain"], row["strategy_ci_low"], row["strategy_ci_high"], row["strategy_p"],
                 row["strategy_pairs"]) = _paired(seeds, ref[0])
            part.append(row)
        frame_out = pd.DataFrame(part, columns=COLUMNS)
        for key, column in (("strategy", "paradigm"), ("paradigm", "strategy")):
            for _, idx in frame_out.groupby(key, sort=False).groups.items():
                frame_out.loc[idx, f"{column}_p_holm"] = holm(frame_out.loc[idx, f"{column}_p"].to_numpy())
        rows.append(frame_out)
    out = pd.concat(rows, ignore_index=True)
    return out.astype({"baseline": bool, "repeats": int})


def _p_text(p: float) -> str:
    return "p n/a" if not math.isfinite(p) else ("p < 0.001" if p < 0.001 else f"p = {p:.3f}")


def _gain_text(gain: float, low: float, high: float, p_holm: float, n: int) -> str:
    ci = f" [{low:+.3f}, {high:+.3f}]" if math.isfinite(low) else ""
    return f"{gain:+.3f} AULC{ci} ({_p_text(p_holm)}, {n} paired repeats)"


def paradigm_sentence(table: pd.DataFrame) -> str:
    """One sentence: what the best learner setting buys over the baseline setting (under random sampling,
    where random was run: the paradigm alone), and what the best strategy buys over random with that setting."""
    if table.empty:
        return "The sweep varies no learner or head: nothing to say about the paradigm."
    context = table["context"].iloc[0]
    t = table[table["context"] == context]
    base = t.loc[t["baseline"], "paradigm"].iloc[0] if t["baseline"].any() else None
    strategies = list(dict.fromkeys(t["strategy"]))
    judge = RANDOM if RANDOM in strategies else strategies[0]
    tested = t[(t["strategy"] == judge) & t["paradigm_gain"].notna()]
    where = f" (at {context})" if context else ""
    if base is None or tested.empty:
        return f"No paired repeats between the learner settings{where}: run the same seeds for each."
    best = tested.sort_values("paradigm_gain", ascending=False, kind="stable").iloc[0]
    named = f"the {best.paradigm} {best.option}" if "," not in best.option else best.paradigm
    under = "under random sampling" if judge == RANDOM else f"with {judge}"
    verb = "buys" if best.paradigm_gain > 0 else "changes AULC by"
    sentence = (f"{under.capitalize()}, {named} {verb} "
                f"{_gain_text(best.paradigm_gain, best.paradigm_ci_low, best.paradigm_ci_high, best.paradigm_p_holm, int(best.paradigm_pairs))}"
                f" over {base}{where}")
    with_best = t[(t["paradigm"] == best.paradigm) & t["strategy_gain"].notna()]
    if with_best.empty:
        sentence += f"; no strategy to set against {RANDOM} with {best.paradigm}."
    else:
        top = with_best.sort_values("strategy_gain", ascending=False, kind="stable").iloc[0]
        verb = "buys" if top.strategy_gain > 0 else "changes AULC by"
        sentence += (f"; with {best.paradigm}, the best strategy, {top.strategy}, {verb} "
                     f"{_gain_text(top.strategy_gain, top.strategy_ci_low, top.strategy_ci_high, top.strategy_p_holm, int(top.strategy_pairs))}"
                     f" over {RANDOM}.")
    return sentence + f" Two-sided paired t-tests over seeds, p {CORRECTION}-corrected."
