"""Verdicts a reviewer would accept: paired differences, pairwise significance, budget regimes,
repeats needed, one verdict sentence, and the all-labels ceiling.

Every test pairs repeats: repeat r of every strategy shares the seed, the test split and the
initial labelled set, so the unit of evidence is the per-repeat difference between two
strategies. Tests are two-sided paired (one-sample) t-tests of that difference, level
`ALPHA`; where one question is asked at many label counts (or many runs x regimes), the
p-values are Holm-Bonferroni corrected within each pair.

The tests themselves live in `core.analysis.paired_tests` and the all-labels ceiling in `core.analysis.ceiling`;
their names are still importable from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from core.analysis.ceiling import (CEILING_COLUMNS, cached_ceiling, ceiling, ceiling_is_cheap, ceiling_key,  # noqa: F401
                          ceiling_summary)
from core.analysis.metrics import aulc, comparable_rounds, default_metric, mean_ci
from core.analysis.paired_tests import (ALPHA, CORRECTION, MAX_REPEATS_NEEDED, POWER, holm, kendall_stability,  # noqa: F401
                               paired_power, paired_t, repeats_needed)


# --------------------------------------------------------------------------- tables


def paired_table(rounds: pd.DataFrame, metric: str, strategies: Sequence[str] | None = None, *,
                 common: bool = True) -> pd.DataFrame:
    """`metric` with one row per (repeat, n_labeled) and one column per strategy.

    Only rows where every strategy has a value are kept: a strategy cancelled early, or a
    repeat still computing, shortens what is compared rather than unpairing it. With `common`
    (every summary), also only label counts every repeat has reached (`comparable_rounds`), so
    each repeat's AULC covers the same range; `common=False` keeps what a chart draws.
    """
    order = list(dict.fromkeys(rounds["strategy"])) if strategies is None else list(strategies)
    rows = rounds[rounds["strategy"].isin(order)]
    if common:
        rows = comparable_rounds(rows)
    wide = rows.pivot_table(index=["repeat", "n_labeled"], columns="strategy", values=metric, aggfunc="first")
    wide = wide.reindex(columns=order).dropna()
    wide.columns.name = None
    return wide.sort_index()


def difference_table(rounds: pd.DataFrame, metric: str | None = None, baseline: str = "random",
                     level: float = 0.95) -> pd.DataFrame:
    """Per strategy and label count: mean paired difference to `baseline` over repeats, its t
    interval, the paired t-test p-value (uncorrected) and the repeats behind it."""
    metric = metric or default_metric(rounds)
    columns = ["strategy", "n_labeled", "mean", "ci_low", "ci_high", "p_value", "n_repeats"]
    wide = paired_table(rounds, metric, common=False)  # drawn per label count, so every count reached
    if baseline not in wide.columns:
        return pd.DataFrame(columns=columns)
    rows = []
    for strategy in (s for s in wide.columns if s != baseline):
        diff = (wide[strategy] - wide[baseline]).rename("diff").reset_index()
        for n, g in diff.groupby("n_labeled", sort=True):
            values = g["diff"].to_numpy()
            mean, lo, hi = mean_ci(values, level=level)
            rows.append({"strategy": strategy, "n_labeled": int(n), "mean": mean, "ci_low": lo, "ci_high": hi,
                         "p_value": paired_t(values)[1], "n_repeats": int(values.size)})
    return pd.DataFrame(rows, columns=columns)


def aulc_by_repeat(rounds: pd.DataFrame, metric: str | None = None, low: float | None = None,
                   high: float | None = None, *, wide: pd.DataFrame | None = None) -> pd.DataFrame:
    """AULC of every strategy (columns) in every repeat (rows), over label counts [low, high]
    (the whole range by default), from the piecewise-linear curve through the label counts
    every strategy reached (so the areas of one repeat compare like with like)."""
    if wide is None:
        wide = paired_table(rounds, metric or default_metric(rounds))
    out = {}
    for repeat, g in wide.groupby(level="repeat"):
        n = g.index.get_level_values("n_labeled").to_numpy(dtype=float)
        out[repeat] = {s: partial_aulc(n, g[s].to_numpy(dtype=float), low, high) for s in wide.columns}
    frame = pd.DataFrame.from_dict(out, orient="index", columns=list(wide.columns))
    frame.index.name = "repeat"
    return frame


def partial_aulc(n_labeled: np.ndarray, values: np.ndarray, low: float | None = None,
                 high: float | None = None) -> float:
    """Area under the linear interpolation of the curve between label counts `low` and `high`,
    divided by (high - low): the mean level of the curve there. The whole range is `core.analysis.metrics.aulc`."""
    n = np.asarray(n_labeled, dtype=float)
    v = np.asarray(values, dtype=float)
    if n.size == 0:
        return math.nan
    low = n[0] if low is None else max(float(low), n[0])
    high = n[-1] if high is None else min(float(high), n[-1])
    if high <= low:
        return float(np.interp(low, n, v))
    if low == n[0] and high == n[-1]:
        return aulc(n, v)
    inside = (n > low) & (n < high)
    xs = np.concatenate([[low], n[inside], [high]])
    ys = np.concatenate([[np.interp(low, n, v)], v[inside], [np.interp(high, n, v)]])
    return float(np.trapezoid(ys, xs) / (high - low))


@dataclass
class PairwiseMatrix:
    """Lüth et al.'s penalty matrix: `share.loc[i, j]` is the fraction of the tested units (label
    counts, or runs x budget regimes) at which strategy i is significantly better than j."""

    strategies: list[str]
    share: pd.DataFrame  # i (row) better than j (column), fraction of tested units; NaN: nothing tested
    wins: pd.DataFrame  # count of units at which i is significantly better than j
    tested: pd.DataFrame  # units with 2+ paired repeats for the pair
    unit: str  # what a unit is: "label counts", "runs x budget regimes"
    alpha: float = ALPHA
    notes: list[str] = field(default_factory=list)

    @property
    def correction(self) -> str:
        return (f"paired t-test over repeats, two-sided alpha {self.alpha:g}, {CORRECTION}-corrected over the "
                f"{self.unit} of each pair")


def pairwise_from_units(units: Sequence[pd.DataFrame], strategies: Sequence[str], *, unit: str,
                        alpha: float = ALPHA) -> PairwiseMatrix:
    """The penalty matrix from units, each a table (rows: paired repeats, columns: strategies).

    For each pair, a paired t-test per unit where both have 2+ paired values; Holm over that
    pair's units; i beats j at a unit when the corrected p < alpha and the mean difference is > 0.
    """
    names = list(strategies)
    wins = pd.DataFrame(0, index=names, columns=names)
    tested = pd.DataFrame(0, index=names, columns=names)
    for a, i in enumerate(names):
        for j in names[a + 1:]:
            p, sign = [], []
            for table in units:
                if i not in table.columns or j not in table.columns:
                    continue
                pair = table[[i, j]].dropna()
                if len(pair) < 2:
                    continue
                diff = (pair[i] - pair[j]).to_numpy(dtype=float)
                p.append(paired_t(diff)[1])
                sign.append(np.sign(diff.mean()))
            adjusted = holm(p)
            tested.loc[i, j] = tested.loc[j, i] = len(p)
            wins.loc[i, j] = int(sum(1 for q, s in zip(adjusted, sign) if q < alpha and s > 0))
            wins.loc[j, i] = int(sum(1 for q, s in zip(adjusted, sign) if q < alpha and s < 0))
    share = wins / tested.where(tested > 0)
    for s in names:
        share.loc[s, s] = math.nan
    return PairwiseMatrix(names, share.astype(float), wins, tested, unit, alpha)


def pairwise_matrix(rounds: pd.DataFrame, metric: str | None = None, alpha: float = ALPHA) -> PairwiseMatrix:
    """The penalty matrix of one comparison, over its label counts.

    The first label count is left out when every strategy has the same value there in every
    repeat: it is the shared initial set, identical by construction, and would only dilute
    the shares.
    """
    metric = metric or default_metric(rounds)
    wide = paired_table(rounds, metric)
    names = list(wide.columns)
    counts = sorted(set(wide.index.get_level_values("n_labeled")))
    notes = []
    if counts and len(names) > 1:
        first = wide.xs(counts[0], level="n_labeled")
        if (first.max(axis=1) - first.min(axis=1)).abs().max() <= 1e-12:
            notes.append(f"{counts[0]} labels (the shared initial set, identical for every strategy) left out")
            counts = counts[1:]
    units = [wide.xs(n, level="n_labeled") for n in counts]
    result = pairwise_from_units(units, names, unit="label counts", alpha=alpha)
    result.notes = notes
    return result


def rank_table(scores: pd.DataFrame) -> tuple[pd.DataFrame, float, int]:
    """Rank of every strategy by `scores` (rows: repeats, columns: strategies; 1 = highest,
    ties share the mean rank) in each repeat, averaged; plus the mean Kendall tau between the
    repeats' rankings and the number of repeat pairs behind it."""
    scores = scores.dropna()
    ranks = scores.rank(axis=1, ascending=False, method="average")
    table = pd.DataFrame({
        "strategy": list(scores.columns),
        "mean_rank": [float(ranks[s].mean()) for s in scores.columns],
        "rank_sd": [float(ranks[s].std(ddof=1)) if len(ranks) > 1 else math.nan for s in scores.columns],
        "best_in": [int((ranks[s] == ranks.min(axis=1)).sum()) for s in scores.columns],
        "repeats": len(scores),
        "aulc": [float(scores[s].mean()) for s in scores.columns],
    }).sort_values("mean_rank", kind="stable").reset_index(drop=True)
    tau, pairs = kendall_stability(scores)
    return table, tau, pairs


def tau_sentence(tau: float, pairs: int, repeats: int) -> str:
    if pairs == 0:
        return ("Rank stability: needs 2+ repeats with distinct AULCs." if repeats < 2
                else "Rank stability: undefined (every repeat ties all strategies).")
    word = ("stable" if tau >= 0.8 else "fairly stable" if tau >= 0.5 else "unstable" if tau >= 0.2
            else "no consistent order")
    return (f"Rank stability over seeds: mean Kendall tau {tau:.2f} between the AULC rankings of "
            f"{repeats} repeats ({pairs} pairs; 1 = the same order in every repeat, 0 = unrelated): {word}.")


# --------------------------------------------------------------------------- budget regimes

REGIME_NAMES = ("low", "middle", "high")


def regime_bounds(n_min: float, n_max: float, cuts: Sequence[float] | None = None) -> list[tuple[float, float]]:
    """Label-count intervals: thirds of [n_min, n_max], or split at `cuts` (inside the range, increasing)."""
    if cuts is None or len(cuts) == 0:
        span = n_max - n_min
        cuts = [n_min + span / 3, n_min + 2 * span / 3] if span > 0 else []
        if span >= 6:  # whole label counts read better (20–113 rather than 20–113.3); the areas do not care
            cuts = [float(round(c)) for c in cuts]
    else:
        cuts = [float(c) for c in cuts]
        bad = [c for c in cuts if not n_min < c < n_max]
        if bad:
            raise ValueError(f"regime cut points must lie strictly between {n_min:g} and {n_max:g} labels; got "
                             f"{', '.join(f'{c:g}' for c in bad)}")
        if any(b <= a for a, b in zip(cuts, cuts[1:])):
            raise ValueError(f"regime cut points must increase; got {', '.join(f'{c:g}' for c in cuts)}")
    edges = [float(n_min), *cuts, float(n_max)]
    return list(zip(edges[:-1], edges[1:]))


def _fmt_n(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def regime_name(index: int, count: int, low: float, high: float) -> str:
    """'low: 20–50 labels' (thirds), 'regime 2: 60–90 labels' (other cut points)."""
    name = REGIME_NAMES[index] if count == 3 else f"regime {index + 1}"
    return f"{name}: {_fmt_n(low)}–{_fmt_n(high)} labels"


def parse_cuts(text: str | Sequence[float] | None) -> list[float] | None:
    """'60, 90' -> [60.0, 90.0]; empty -> None (thirds)."""
    if text is None:
        return None
    if not isinstance(text, str):
        return [float(c) for c in text] or None
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        return [float(p) for p in parts] or None
    except ValueError:
        raise ValueError(f"regime cut points are label counts separated by commas (e.g. 60, 90); got {text!r}") from None


def regime_scores(rounds: pd.DataFrame, metric: str | None = None, cuts: Sequence[float] | None = None
                  ) -> list[tuple[str, float, float, pd.DataFrame]]:
    """(name, low, high, AULC per repeat x strategy) for each budget regime."""
    wide = paired_table(rounds, metric or default_metric(rounds))
    if wide.empty:
        return []
    n = wide.index.get_level_values("n_labeled")
    bounds = regime_bounds(float(n.min()), float(n.max()), cuts)
    return [(regime_name(k, len(bounds), lo, hi), lo, hi, aulc_by_repeat(rounds, low=lo, high=hi, wide=wide))
            for k, (lo, hi) in enumerate(bounds)]


def regime_table(rounds: pd.DataFrame, metric: str | None = None, cuts: Sequence[float] | None = None,
                 baseline: str = "random") -> pd.DataFrame:
    """Per regime and strategy: AULC over that label range (mean, 95% CI), its rank by mean
    (1 = best), and the paired gain over `baseline` with its CI and p-value."""
    columns = ["regime", "low", "high", "strategy", "aulc", "ci_low", "ci_high", "rank", "gain", "gain_ci_low",
               "gain_ci_high", "p_value", "repeats"]
    rows = []
    for name, lo, hi, scores in regime_scores(rounds, metric, cuts):
        means = scores.mean()
        ranks = means.rank(ascending=False, method="min")
        for s in scores.columns:
            mean, ci_lo, ci_hi = mean_ci(scores[s].to_numpy(), bounds=(0.0, 1.0))
            row = {"regime": name, "low": lo, "high": hi, "strategy": s, "aulc": mean, "ci_low": ci_lo,
                   "ci_high": ci_hi, "rank": int(ranks[s]), "gain": math.nan, "gain_ci_low": math.nan,
                   "gain_ci_high": math.nan, "p_value": math.nan, "repeats": int(scores[s].notna().sum())}
            if baseline in scores.columns and s != baseline:
                diff = (scores[s] - scores[baseline]).to_numpy()
                row["gain"], row["gain_ci_low"], row["gain_ci_high"] = mean_ci(diff)
                row["p_value"] = paired_t(diff)[1]
            rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def regime_sentence(rounds: pd.DataFrame, metric: str | None = None, cuts: Sequence[float] | None = None,
                    alpha: float = ALPHA) -> str:
    """One sentence on whether the leader (highest mean AULC) changes with the budget, e.g.
    'The ranking flips with the budget: hybrid leads up to 50 labels, entropy after 50 ...'."""
    regimes = regime_scores(rounds, metric, cuts)
    if not regimes or regimes[0][3].shape[1] < 2:
        return "Budget regimes: need two strategies with results to rank."
    leaders, significant, orders = [], [], []
    for _, lo, hi, scores in regimes:
        means = scores.mean().sort_values(ascending=False, kind="stable")
        leaders.append(means.index[0])
        orders.append(tuple(means.index))
        diff = (scores[means.index[0]] - scores[means.index[1]]).to_numpy()
        significant.append(paired_t(diff)[1] < alpha)
    test = f"paired t-test on the regime's AULC, p < {alpha:g}"
    k = sum(significant)
    margin = (f"; no regime's lead is significant ({test})" if k == 0 else
              f"; the lead is significant in every regime ({test})" if k == len(regimes) else
              f"; the lead is significant ({test}) in {k} of {len(regimes)} regimes")
    if len(set(leaders)) == 1:
        others = len(set(orders)) > 1
        listed = "; ".join(r[0].removesuffix(" labels") for r in regimes)
        return (f"{leaders[0]} leads in every budget regime ({listed} labels)"
                + ("; the order of the others changes" if others else "") + margin + ".")
    # merge consecutive regimes with the same leader
    spans: list[list] = []
    for (name, lo, hi, _), leader in zip(regimes, leaders):
        if spans and spans[-1][0] == leader:
            spans[-1][2] = hi
        else:
            spans.append([leader, lo, hi])
    parts = []
    for k, (leader, lo, hi) in enumerate(spans):
        if k == 0:
            parts.append(f"{leader} leads up to {_fmt_n(hi)} labels")
        elif k == len(spans) - 1:
            parts.append(f"{leader} after {_fmt_n(lo)}")
        else:
            parts.append(f"{leader} from {_fmt_n(lo)} to {_fmt_n(hi)}")
    return "The ranking flips with the budget: " + ", ".join(parts) + margin + "."


# --------------------------------------------------------------------------- repeats needed


def repeats_table(rounds: pd.DataFrame, metric: str | None = None, baseline: str = "random",
                  gain: float | None = None, *, power: float = POWER, alpha: float = ALPHA,
                  cap: int = MAX_REPEATS_NEEDED) -> pd.DataFrame:
    """Per strategy against `baseline`: the paired AULC gain, the standard deviation of the
    per-repeat AULC differences, and the repeats a paired t-test needs to detect the observed
    gain (and `gain`, when given) with `power` at two-sided `alpha`. None: more than `cap`."""
    columns = ["strategy", "repeats", "gain", "sd", "effect_size", "p_value", "needed_observed", "chosen_gain",
               "needed_chosen"]
    scores = aulc_by_repeat(rounds, metric)
    if baseline not in scores.columns:
        return pd.DataFrame(columns=columns)
    rows = []
    for s in (c for c in scores.columns if c != baseline):
        diff = (scores[s] - scores[baseline]).dropna().to_numpy()
        n = diff.size
        mean = float(diff.mean()) if n else math.nan
        sd = float(diff.std(ddof=1)) if n > 1 else math.nan
        if n < 2:
            d = math.nan
        elif sd > 0:
            d = abs(mean) / sd
        else:
            d = math.inf if mean != 0 else 0.0
        rows.append({"strategy": s, "repeats": n, "gain": mean, "sd": sd, "effect_size": d,
                     "p_value": paired_t(diff)[1],
                     "needed_observed": repeats_needed(mean, sd, power=power, alpha=alpha, cap=cap) if n > 1 else None,
                     "chosen_gain": gain if gain is not None else math.nan,
                     "needed_chosen": (repeats_needed(gain, sd, power=power, alpha=alpha, cap=cap)
                                       if gain is not None and n > 1 else None)})
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("needed_observed", "needed_chosen"):  # None (more than `cap`) must not turn into NaN
        frame[column] = pd.Series([r[column] for r in rows], dtype=object)
    return frame


def needed_text(needed: int | None, cap: int = MAX_REPEATS_NEEDED) -> str:
    """'17', or 'more than 1000' for None."""
    return f"more than {cap}" if needed is None else str(int(needed))


def repeats_sentence(table: pd.DataFrame, baseline: str = "random", *, power: float = POWER,
                     alpha: float = ALPHA, cap: int = MAX_REPEATS_NEEDED) -> str:
    """Plainly: can the current repeats support a verdict against `baseline`, and how many would."""
    if table.empty:
        return f"Enough repeats? No strategy to compare with {baseline}."
    n = int(table["repeats"].max())
    if n < 2:
        return (f"Enough repeats? No: with {n} repeat no test is possible (a paired t-test needs 2 or more, and "
                "the spread between repeats is unknown); run at least 3, better 5 or more, before reading a verdict.")
    parts = []
    for r in table.itertuples():
        if not math.isfinite(r.gain):
            continue
        need = r.needed_observed
        if need is None:
            parts.append(f"{r.strategy}: its difference of {r.gain:+.3f} would need {needed_text(None, cap)} repeats")
        elif need <= r.repeats:
            parts.append(f"{r.strategy}: {need} suffice to detect its difference of {r.gain:+.3f} (have {r.repeats})")
        else:
            parts.append(f"{r.strategy}: {need} needed to detect its difference of {r.gain:+.3f} (have {r.repeats})")
        if r.needed_chosen is not None or math.isfinite(r.chosen_gain):
            parts[-1] += f"; a gain of {r.chosen_gain:+.3f} needs {needed_text(r.needed_chosen, cap)}"
    short = [r for r in table.itertuples() if r.needed_observed is None or r.needed_observed > r.repeats]
    head = ("Enough repeats? Not for every strategy" if short else "Enough repeats? Yes") + \
           f" ({power:.0%} power, paired t-test, two-sided alpha {alpha:g}, spread of the {n} repeats' AULC differences)"
    rough = " The spread is estimated from only 2 repeats, so these numbers are rough." if n == 2 else ""
    return head + ": " + "; ".join(parts) + "." + rough


# --------------------------------------------------------------------------- the verdict


@dataclass
class Verdict:
    """What to use, and the evidence; `kind` is 'recommend', 'none', 'untestable' or 'no baseline'."""

    kind: str
    sentence: str
    recommended: str | None = None
    evidence: pd.DataFrame | None = None  # per strategy: gain, CI, p, Holm-corrected p, repeats


def _join(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _p_text(p: float) -> str:
    """'p = 0.043', 'p < 0.001'."""
    return "p n/a" if not math.isfinite(p) else ("p < 0.001" if p < 0.001 else f"p = {p:.3f}")


def verdict(rounds: pd.DataFrame, metric: str | None = None, baseline: str = "random", *,
            alpha: float = ALPHA, cuts: Sequence[float] | None = None, power: float = POWER) -> Verdict:
    """The recommended strategy for this data and budget, or that none is reliably better than `baseline`.

    Evidence: the paired AULC gain over `baseline` (95% t CI) and its paired t-test, Holm-
    corrected over the strategies compared with the baseline. The recommendation is the
    significant strategy with the largest mean gain; the sentence adds whether it is
    distinguishable from the runner-up and where the budget regimes disagree.
    """
    metric = metric or default_metric(rounds)
    scores = aulc_by_repeat(rounds, metric)
    if baseline not in scores.columns:
        return Verdict("no baseline", f"No verdict: the baseline {baseline!r} is not part of this comparison "
                                      f"(strategies: {', '.join(scores.columns) or 'none with results'}).")
    others = [s for s in scores.columns if s != baseline]
    if not others:
        return Verdict("no baseline", f"No verdict: only {baseline} has results; add a strategy to compare.")
    n = len(scores.dropna())
    span = paired_table(rounds, metric).index.get_level_values("n_labeled")
    budget = f"{span.min()}–{span.max()} labels" if len(span) else "no labels"
    drawn = int(rounds["n_labeled"].max())
    if len(span) and span.max() < drawn:  # a run in progress or cancelled: say what is not summarised
        budget += f"; partial results: every repeat has reached {span.max()} labels, the curves go to {drawn}"
    rows = []
    for s in others:
        diff = (scores[s] - scores[baseline]).dropna().to_numpy()
        gain, lo, hi = mean_ci(diff)
        rows.append({"strategy": s, "gain": gain, "ci_low": lo, "ci_high": hi, "p_value": paired_t(diff)[1],
                     "repeats": int(diff.size)})
    evidence = pd.DataFrame(rows)
    evidence["p_holm"] = holm(evidence["p_value"].to_numpy())
    best = evidence.sort_values("gain", ascending=False, kind="stable").iloc[0]
    if n < 2:
        return Verdict("untestable", (
            f"No verdict: {n} repeat allows no test (a paired t-test needs 2 or more repeats). Observed without "
            f"a test: {best.strategy} {best.gain:+.3f} AULC against {baseline} ({metric.replace('_', ' ')}, {budget})."),
            evidence=evidence)
    correction = f"{CORRECTION} over {len(others)} strategies"

    def evidence_text(r) -> str:
        ci = f", 95% CI [{r.ci_low:+.3f}, {r.ci_high:+.3f}]" if math.isfinite(r.ci_low) else ""
        word = "gain" if r.gain > 0 else "difference"
        p = (f"{_p_text(r.p_value)} ({correction}: {_p_text(r.p_holm).removeprefix('p = ')})" if len(others) > 1
             else f"{_p_text(r.p_value)} (paired t-test)")
        return f"AULC {word} {r.gain:+.3f} {'over' if r.gain > 0 else 'to'} {baseline}{ci}, {p}, {r.repeats} repeats"

    winners = evidence[(evidence.p_holm < alpha) & (evidence.gain > 0)].sort_values("gain", ascending=False)
    where = f"({metric.replace('_', ' ')}, {budget})"
    if winners.empty:
        need = repeats_needed(best.gain, float((scores[best.strategy] - scores[baseline]).std(ddof=1)), power=power,
                              alpha=alpha)
        more = ""
        if best.gain > 0 and need is None:
            more = f"; more than {MAX_REPEATS_NEEDED} repeats would be needed to detect a gain this small"
        elif best.gain > 0 and need > n:
            more = f"; about {need} repeats would detect a gain this size ({power:.0%} power)"
        worse = list(evidence[(evidence.p_holm < alpha) & (evidence.gain < 0)].strategy)
        tail = ""
        if worse:
            tail = f" {_join(worse)} {'is' if len(worse) == 1 else 'are'} reliably worse than {baseline}"
            tail += f": {baseline} is the choice here." if len(worse) == len(others) else "."
        lead = "the best" if best.gain > 0 else "the closest"
        return Verdict("none", f"No strategy is reliably better than {baseline} here {where}: {lead}, "
                               f"{best.strategy}, has an {evidence_text(best)}{more}.{tail}", evidence=evidence)
    top = winners.iloc[0]
    sentence = f"Recommended on this data and budget {where}: {top.strategy}, with an {evidence_text(top)}."
    if len(winners) > 1:
        second = winners.iloc[1]
        diff = (scores[top.strategy] - scores[second.strategy]).dropna().to_numpy()
        p = paired_t(diff)[1]
        sentence += (f" It is also significantly ahead of {second.strategy} ({_p_text(p)})." if p < alpha else
                     f" {second.strategy} is also better than {baseline}, and not distinguishable from "
                     f"{top.strategy} (paired AULC difference {diff.mean():+.3f}, {_p_text(p)}).")
    flip = regime_sentence(rounds, metric, cuts, alpha)
    if flip.startswith("The ranking flips"):
        sentence += " " + flip.split(";")[0] + "."
    return Verdict("recommend", sentence, recommended=str(top.strategy), evidence=evidence)


def verdict_sentence(rounds_df: pd.DataFrame, metric: str | None = None, baseline: str = "random") -> str:
    """The verdict in one or two sentences (the Compare page's line)."""
    return verdict(rounds_df, metric, baseline).sentence

__all__ = ["ALPHA", "CORRECTION", "MAX_REPEATS_NEEDED", "POWER", "PairwiseMatrix", "Verdict",
           "aulc_by_repeat", "cached_ceiling", "ceiling", "ceiling_is_cheap", "ceiling_summary", "difference_table",
           "holm", "kendall_stability", "needed_text", "paired_power", "paired_t", "paired_table", "pairwise_from_units",
           "pairwise_matrix", "parse_cuts", "partial_aulc", "rank_table", "regime_bounds", "regime_scores",
           "regime_sentence", "regime_table", "repeats_needed", "repeats_sentence", "repeats_table", "tau_sentence",
           "verdict", "verdict_sentence"]
