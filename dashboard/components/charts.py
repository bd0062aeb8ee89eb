"""Figures of a View, built by the plotly builders in core.present.figures: one function per chart,
used by the pages and by the Export page, so the page and the exported file are the same.

`shown_settings` reads what each page shows from its widgets' session-state values (kept
across pages by `widgets.keep`), so the Export page reproduces the views on screen.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.present import figures
from core.present import verdict_figures as vf
from core.analysis import verdicts as v
from core.engine.cache import Cache
from core.analysis.metrics import curve_table, summary_table
from dashboard.components.results import View

ALL_REPEATS = -1


def metric_name(view: View, kind: str) -> str:
    """'accuracy' or 'macro_f1' on the test split, or on the pool where there is no test split."""
    where = view.metric.split("_")[0]
    return f"{where}_{kind}"


def repeats_present(view: View, strategies: Sequence[str] | None = None) -> dict[str, int]:
    """Per strategy, the repeats with at least one completed round (a cancel may have left fewer
    than the config asks for)."""
    shown = view.config.strategies if strategies is None else strategies
    return {s: sum(1 for r in range(view.config.repeats) if view.done.get((s, r), 0) > 0) for s in shown}


def settings_line(view: View, strategies: Sequence[str] | None = None) -> str:
    """The subtitle of every chart of `view`: dataset, learner, budget, strategy settings, repeats present."""
    return figures.settings_line(view.config, repeats_present(view, strategies))


def learning_curves(view: View, metric: str) -> go.Figure:
    label = figures.METRIC_LABELS.get(metric, metric).split(" (")[0]
    curves = curve_table(view.rounds, metric)
    counts = {s: int(n) for s, n in curves.groupby("strategy", sort=False)["n_repeats"].max().items()}
    return figures.learning_curves(curves, metric, subtitle=settings_line(view), rounds=view.rounds,
                                   title=f"{label} vs labels ({figures.band_label(counts, repeats_drawn=True)})")


def minutes_curves(view: View, metric: str) -> go.Figure:
    """Mean `metric` against labelling minutes per strategy, on the minutes range every run reached;
    each strategy in its colour, marker and dash from the labels chart."""
    from core.analysis.labelling_time import minutes_curves as curves_of
    from core.present.chart_style import _title, _top_margin, strategy_style

    label = figures.METRIC_LABELS.get(metric, metric).split(" (")[0]
    curves = curves_of(view.rounds, metric)
    fig = go.Figure()
    for strategy, g in curves.groupby("strategy", sort=False):
        style = strategy_style(strategy)
        fig.add_trace(go.Scatter(
            x=g["minutes"], y=g["mean"], mode="lines", name=strategy, legendgroup=strategy,
            line=dict(color=style.color, width=2, dash=style.dash), customdata=g[["n_repeats"]].to_numpy(),
            hovertemplate=f"{strategy}<br>%{{x:.1f}} min<br>{label}: %{{y:.3f}}"
                          "<br>mean of %{customdata[0]} repeat(s)<extra></extra>"))
    title = f"{label} vs labelling minutes (mean over repeats, on the minutes every run reached)"
    subtitle = settings_line(view)
    fig.update_layout(
        title=_title(title, subtitle),
        xaxis_title="Labelling minutes (recorded decision times, capped at the project's 99th percentile)",
        yaxis_title=f"{label} (fraction)", legend_title_text="Strategy", template="plotly_white",
        hovermode="closest", margin=dict(l=60, r=20, t=_top_margin(subtitle, title), b=50))
    return fig


def minutes_display(table: pd.DataFrame) -> pd.DataFrame:
    """`core.analysis.labelling_time.minutes_summary` as readable text columns."""
    def ci(r):
        if pd.isna(r.aulc_minutes):
            return ""
        return f"{r.aulc_minutes:.3f}" + (f" [{r.aulc_minutes_ci_low:.3f}, {r.aulc_minutes_ci_high:.3f}]"
                                           if pd.notna(r.aulc_minutes_ci_low) else "")

    return pd.DataFrame({
        "Strategy": table["strategy"],
        "Minutes compared": [f"{r.minutes_from:.1f} to {r.minutes_to:.1f}" if pd.notna(r.minutes_from) else ""
                             for r in table.itertuples()],
        "AULC over minutes": [ci(r) for r in table.itertuples()],
        "Minutes to target (mean of repeats reaching it)": [
            ("not reached" if pd.isna(r.minutes_to_target) else f"{r.minutes_to_target:.1f}")
            + (f" ({r.reached_target} repeats)" if r.reached_target else "") for r in table.itertuples()],
    })


def summary(view: View, metric: str, target: float | None) -> pd.DataFrame:
    return summary_table(view.rounds, metric, target=target)


TARGET_COLUMN = "Labels to target (mean of repeats reaching it)"


def summary_display(table: pd.DataFrame) -> pd.DataFrame:
    """The summary as readable text columns: value [95% CI]."""
    def ci(value, low, high, signed=False):
        if pd.isna(value):
            return ""
        fmt = "+.3f" if signed else ".3f"
        return f"{value:{fmt}}" + (f" [{low:{fmt}}, {high:{fmt}}]" if pd.notna(low) else "")

    return pd.DataFrame({
        "Strategy": table["strategy"],
        "Repeats": table["repeats"],
        "Final (at labels)": [f"{ci(r.final, r.final_ci_low, r.final_ci_high)} @ {r.final_n_labeled}" for r in table.itertuples()],
        "AULC": [ci(r.aulc, r.aulc_ci_low, r.aulc_ci_high) for r in table.itertuples()],
        TARGET_COLUMN: [("not reached" if pd.isna(r.labels_to_target) else f"{r.labels_to_target:.0f}")
                                   + (f" ({r.reached_target} repeats)" if r.reached_target else "")
                                   for r in table.itertuples()],
        "AULC gain vs random": [ci(r.gain_vs_random, r.gain_ci_low, r.gain_ci_high, signed=True) for r in table.itertuples()],
        "p-value": ["" if pd.isna(p) else f"{p:.3f}" for p in table["gain_p_value"]],
    })


def confusion(view: View, round_1based: int, repeat: int, normalize: bool,
              strategies: Sequence[str] | None = None) -> go.Figure:
    panels = []
    where = "test"
    shown = [s for s in view.config.strategies if strategies is None or s in strategies]
    summed = repeat == ALL_REPEATS
    for strategy in shown:
        repeats = range(view.config.repeats) if summed else [repeat]
        records = [rs[round_1based - 1] for r in repeats if len(rs := view.results(strategy, r)) >= round_1based >= 1]
        if not records:
            continue
        where = records[0].confusion_on
        cm = np.sum([rec.confusion for rec in records], axis=0)
        count = f" · {len(records)} repeat{'s' * (len(records) != 1)}" if summed else ""
        panels.append((f"{strategy} · {records[0].n_labeled} labels{count}", cm))
    which = ("summed over the repeats present" if summed
             else f"repeat {repeat} (seed {view.config.seed + repeat})")
    split = "held-out test split" if where == "test" else "still-unlabelled pool"
    title = f"Confusion matrices on the {split}, round {round_1based}, {which}"
    return figures.confusion_matrices(panels, view.dataset.class_names, normalize=normalize, title=title,
                                      subtitle=settings_line(view, shown), evaluated_on=where)


def labelled_rounds(view: View, strategies: Sequence[str], repeat: int) -> int:
    """How many rounds' picks were labelled (a later round fitted on them) in every run shown.

    The last round of a run selects a batch that no round ever fits on (the budget is spent),
    and while a run computes, its newest round's picks wait for the next round.
    """
    return max(0, view.common_rounds(strategies or None, repeat) - 1)


def labelled_picks(view: View, strategy: str, repeat: int, up_to_round: int) -> tuple[np.ndarray, np.ndarray]:
    """Pool indices picked in rounds 1..up_to_round (1-based) and later labelled, and the round that picked each."""
    records = view.results(strategy, repeat)
    chosen = [(r.queried, np.full(len(r.queried), r.round + 1)) for r in records[:-1] if r.round + 1 <= up_to_round]
    if not chosen:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate([c[0] for c in chosen]), np.concatenate([c[1] for c in chosen])


def initial_set(view: View, repeat: int) -> np.ndarray:
    """Pool indices of the initial labelled set of `repeat` (the same for every strategy)."""
    for strategy in view.config.strategies:
        if records := view.results(strategy, repeat):
            return np.asarray(records[0].labeled)
    return np.zeros(0, dtype=np.int64)


def query_map(view: View, coords_all: np.ndarray, method: str, space: str, strategies, repeat: int,
              up_to_round: int) -> go.Figure:
    pool = view.pool(repeat).pool
    up_to_round = min(up_to_round, labelled_rounds(view, strategies, repeat))
    picks = {s: labelled_picks(view, s, repeat, up_to_round) for s in strategies}
    rounds = "no round's picks labelled yet" if up_to_round < 1 else (
        "picks of round 1" if up_to_round == 1 else f"picks of rounds 1-{up_to_round}")
    # The subtitle states the learner and its settings; the title names the space in short ("Backbone features").
    title = (f"Labelled samples on a {method} map of the pool: the initial set and the {rounds} "
             f"({space.split(': ')[0]}, repeat {repeat}, {len(pool)} points)")
    return figures.query_map(coords_all[pool], view.dataset.labels[pool], view.dataset.class_names, picks,
                             method=method, space=space, sample_ids=pool, max_round=view.config.rounds - 1, title=title,
                             subtitle=settings_line(view, strategies), initial=initial_set(view, repeat))


def score_text(score: float) -> str:
    """An uncertainty score with three significant digits: 0.000012 stays 1.2e-05, not 0.000."""
    return f"{max(float(score), 0.0):.3g}"  # max: no "-0" from float rounding


def _wrap(text: str, width: int) -> str:
    return "<br>".join(textwrap.wrap(text, width, break_long_words=True)) or text


def uncertain_images(view: View, strategy: str, repeat: int, round_1based: int, count: int) -> tuple[go.Figure, go.Figure]:
    """(most uncertain, least uncertain) unlabelled pool images of one round.

    Class names are wrapped onto as many caption lines as they need, never cut; the hover
    of each image repeats its sample, score and labels.
    """
    record = view.results(strategy, repeat)[round_1based - 1]
    pool = view.pool(repeat).pool
    candidates = np.flatnonzero(np.isfinite(record.scores))
    order = candidates[np.argsort(-record.scores[candidates], kind="stable")]
    names = [str(n) for n in view.dataset.class_names]
    labels = view.dataset.labels[pool]
    longest = max(len(n) for n in names) + 5  # "true " / "pred "
    columns = 8 if longest <= 19 else 6
    width = 19 if columns == 8 else 26  # characters that fit one caption line at that many columns
    figs = []
    subtitle = settings_line(view, [strategy])
    for which, chosen in (("Most", order[:count]), ("Least", order[::-1][:count])):
        images = figures.to_rgb_uint8(view.dataset.images[pool[chosen]])
        wrong = [labels[i] != record.predicted[i] for i in chosen]
        captions = [f"{score_text(record.scores[i])}{' ✗' if bad else ''}"
                    f"<br>{_wrap('true ' + names[labels[i]], width)}<br>{_wrap('pred ' + names[record.predicted[i]], width)}"
                    for i, bad in zip(chosen, wrong)]
        hovers = [f"sample {pool[i]}<br>{record.measure} {float(record.scores[i]):.4g}<br>true {names[labels[i]]}"
                  f"<br>predicted {names[record.predicted[i]]}" for i in chosen]
        title = (f"{which} uncertain unlabelled images: {strategy}, round {round_1based} "
                 f"({record.n_labeled} labels), {record.measure} score (higher = more uncertain; ✗ = wrong prediction)")
        figs.append(figures.image_grid(images, captions, title=title, subtitle=subtitle, columns=columns,
                                       hovers=hovers))
    return figs[0], figs[1]


def default_uncertain_strategy(strategies: Sequence[str]) -> str:
    """The first strategy that scores uncertainty (random scores nothing it uses)."""
    return next((s for s in strategies if s != "random"), strategies[0])


# --------------------------------------------------------------------------- what each page shows


@dataclass(frozen=True)
class Shown:
    """One page's settings as the page applies them (defaults where it was never opened)."""

    page: str
    settings: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.settings[name]


def _pick(state: Mapping, key: str, options: Sequence, default):
    value = state.get(key, default)
    return value if value in options else default


def _round(state: Mapping, key: str, rounds: int) -> int:
    """A round slider's value as `widgets.round_slider` shows it: the newest round unless moved back."""
    value = state.get(key)
    if rounds <= 1 or not isinstance(value, int) or value > rounds or value == state.get(f"{key}_max"):
        return max(rounds, 1)
    return max(value, 1)


def page_state(session_state: Mapping, kept: Mapping | None = None) -> dict[str, Any]:
    """The pages' widget values as seen from another page: the session's values, else the
    values `widgets.keep` remembered (a page change drops the old page's widget values before
    the new page's first run)."""
    return {**(kept or {}), **dict(session_state)}


def shown_settings(view: View, state: Mapping) -> dict[str, Shown]:
    """What the Compare, Confusion, Query map and Uncertain pages show, read from `state`
    (`page_state`: their widget keys) and checked against `view` the way the pages do."""
    c = view.config
    strategies = list(c.strategies)
    map_strategies = [s for s in state.get("map_strategies", strategies) if s in strategies]
    map_repeat = _pick(state, "map_repeat", range(c.repeats), 0)
    uncertain_strategy = _pick(state, "uncertain_strategy", strategies, default_uncertain_strategy(strategies))
    uncertain_repeat = _pick(state, "uncertain_repeat", range(c.repeats), 0)
    target = state.get("compare_target", 0.9)
    baseline_default = "random" if "random" in strategies else strategies[0]
    return {
        "verdict": Shown("Verdict", {
            "metric": _pick(state, "verdict_metric", ["accuracy", "macro_f1"], "accuracy"),
            "baseline": _pick(state, "verdict_baseline", strategies, baseline_default),
            "cuts": state.get("verdict_cuts", "") if isinstance(state.get("verdict_cuts", ""), str) else ""}),
        "compare": Shown("Compare", {
            "metric": _pick(state, "compare_metric", ["accuracy", "macro_f1"], "accuracy"),
            "target": float(target) if isinstance(target, (int, float)) else 0.9}),
        "confusion": Shown("Confusion matrices", {
            "round": _round(state, "confusion_round", view.common_rounds()),
            "repeat": _pick(state, "confusion_repeat", [ALL_REPEATS, *range(c.repeats)], ALL_REPEATS),
            "normalize": _pick(state, "confusion_normalize", [False, True], False),
            "strategies": [s for s in state.get("confusion_strategies", strategies) if s in strategies]}),
        "map": Shown("Query map", {
            "strategies": map_strategies, "repeat": map_repeat,
            "round": _round(state, "map_round", labelled_rounds(view, map_strategies, map_repeat)),
            "space": state.get("map_space", "Raw pixels"), "feature_round": state.get("map_feature_round")}),
        "uncertain": Shown("Uncertain images", {
            "strategy": uncertain_strategy, "repeat": uncertain_repeat,
            "round": _round(state, "uncertain_round", len(view.results(uncertain_strategy, uncertain_repeat))),
            "count": _pick(state, "uncertain_count", [8, 16, 24, 32], 16)}),
    }


def describe(shown: Shown, view: View) -> dict[str, str]:
    """A page's settings as the rows of a readable table (the Export page and the report)."""
    s = shown.settings
    repeat = "all (summed)" if s.get("repeat") == ALL_REPEATS else str(s.get("repeat"))
    if shown.page == "Verdict":
        return {"Metric": {"accuracy": "accuracy", "macro_f1": "macro-F1"}[s["metric"]], "Baseline": s["baseline"],
                "Budget regime cut points": s["cuts"] or "thirds"}
    if shown.page == "Compare":
        return {"Metric": {"accuracy": "accuracy", "macro_f1": "macro-F1"}[s["metric"]],
                "Target for 'labels to reach'": f"{s['target']:.2f}"}
    if shown.page == "Confusion matrices":
        return {"Round": str(s["round"]), "Repeat": repeat, "Show": "row-normalised" if s["normalize"] else "counts",
                "Strategies": figures.format_setting(s["strategies"])}
    if shown.page == "Query map":
        rounds = "none" if s["round"] < 1 else f"1-{s['round']}"
        return {"Strategies": figures.format_setting(s["strategies"]), "Picks of rounds": rounds, "Repeat": repeat,
                "Feature space": s["space"] + (f", round {s['feature_round']}" if s["space"] != "Raw pixels"
                                               and s["feature_round"] else "")}
    return {"Strategy": s["strategy"], "Round": str(s["round"]), "Repeat": repeat, "Images": str(s["count"])}


def verdict_section(view: View, shown: Shown, cache_root: str) -> tuple[str, list[tuple[str, str, go.Figure]]]:
    """The Verdict page's sentence and charts as it shows them (metric, baseline, cut points),
    for the Export page and its report: (sentence, [(title, file slug, figure)])."""
    rounds, baseline = view.rounds, shown["baseline"]
    metric = metric_name(view, shown["metric"])
    try:
        cuts = v.parse_cuts(shown["cuts"])
        v.regime_scores(rounds, metric, cuts)
    except ValueError:  # the page shows thirds then, and says why
        cuts = None
    subtitle = settings_line(view)
    sentence = v.verdict(rounds, metric, baseline, cuts=cuts).sentence
    out = []
    diffs = v.difference_table(rounds, metric, baseline)
    if len(diffs):
        out.append((f"Difference to {baseline}", "verdict_difference",
                    vf.difference_figure(diffs, metric, baseline, subtitle=subtitle)))
    ceiling = None
    if not metric.startswith("pool"):  # the ceiling as the Verdict page has it: computed when cheap, else if cached
        cache = Cache(cache_root)
        frame = (v.ceiling(view.config, view.dataset, cache) if v.ceiling_is_cheap(view.config)
                 else v.cached_ceiling(view.config, view.dataset, cache))
        ceiling = v.ceiling_summary(frame, metric)
    out.append(("Learning curves and the ceiling", "verdict_curves", vf.curves_with_ceiling(
        curve_table(rounds, metric), metric, ceiling, subtitle=subtitle, rounds=rounds,
        title=f"{vf.metric_label(metric)} vs labels, with the all-labels ceiling")))
    matrix = v.pairwise_matrix(rounds, metric)
    if len(matrix.strategies) >= 2:
        out.append(("Pairwise penalty matrix", "verdict_matrix", vf.penalty_heatmap(matrix, subtitle=subtitle)))
    regimes = v.regime_table(rounds, metric, cuts, baseline)
    if len(regimes):
        out.append(("Budget regimes", "verdict_regimes", vf.regime_figure(regimes, metric, baseline, subtitle=subtitle)))
    repeats = v.repeats_table(rounds, metric, baseline)
    if len(repeats) and repeats["repeats"].max() >= 2:
        out.append(("Repeats needed", "verdict_power", vf.power_figure(repeats, baseline, subtitle=subtitle)))
    return sentence, out


def settings_table(view: View) -> dict[str, str]:
    """The comparison's settings as a reader wants them (the report's first table)."""
    c = view.config
    rows = {"Dataset": figures.dataset_label(c) + f" ({view.dataset.n_classes} classes, {len(view.dataset.labels)} images)",
            "Learner": figures.learner_label(c), "Strategies": figures.format_setting(list(c.strategies)),
            "Budget": figures.budget_label(c).removeprefix("budget "),
            "Initial labelled set": str(c.initial), "Batch": str(c.batch), "Rounds": str(c.rounds)}
    if settings := figures.strategies_settings(c):  # every chosen strategy that declares parameters
        rows["Strategy settings"] = "; ".join(settings)
    if c.mode == "stream":
        rows["Mode"] = (f"stream, threshold {c.threshold:g}" if c.stream_policy == "threshold"
                        else "stream, budget policy")
    present = repeats_present(view)
    rows["Repeats"] = f"{c.repeats} (seeds {c.seed}-{c.seed + c.repeats - 1})" if c.repeats > 1 else f"1 (seed {c.seed})"
    if any(n != c.repeats for n in present.values()):
        rows["Repeats present"] = figures.format_setting({s: n for s, n in present.items()})
    rows["Test split"] = ("the dataset's own" if view.dataset.is_test is not None
                          else "none (pool accuracy)" if c.test_size == 0 else f"{c.test_size:.0%} held out")
    rows["Pool subset"] = "all" if not c.subset else f"first {c.subset}"
    return rows
