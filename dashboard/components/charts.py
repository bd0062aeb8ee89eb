"""Figures of a View, built by the plotly builders in core.figures: one function per chart,
used by the pages and by the Export page, so the page and the exported file are the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core import figures
from core.metrics import curve_table, summary_table
from dashboard.components.results import View

ALL_REPEATS = -1


def metric_name(view: View, kind: str) -> str:
    """'accuracy' or 'macro_f1' on the test split, or on the pool where there is no test split."""
    where = view.metric.split("_")[0]
    return f"{where}_{kind}"


def learning_curves(view: View, metric: str) -> go.Figure:
    c = view.config
    label = figures.METRIC_LABELS.get(metric, metric)
    title = (f"{c.dataset} · {c.learner}: {label.split(' (')[0].lower()} vs labels "
             f"(mean and 95% CI over {c.repeats} repeat{'s' if c.repeats > 1 else ''})")
    return figures.learning_curves(curve_table(view.rounds, metric), metric, title=title)


def summary(view: View, metric: str, target: float | None) -> pd.DataFrame:
    return summary_table(view.rounds, metric, target=target)


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
        "Labels to reach target": [("not reached" if pd.isna(r.labels_to_target) else f"{r.labels_to_target:.0f}")
                                   + (f" ({r.reached_target} repeats)" if r.reached_target else "")
                                   for r in table.itertuples()],
        "AULC gain vs random": [ci(r.gain_vs_random, r.gain_ci_low, r.gain_ci_high, signed=True) for r in table.itertuples()],
        "p-value": ["" if pd.isna(p) else f"{p:.3f}" for p in table["gain_p_value"]],
    })


def confusion(view: View, round_1based: int, repeat: int, normalize: bool) -> go.Figure:
    panels = []
    where = "test"
    for strategy in view.config.strategies:
        repeats = range(view.config.repeats) if repeat == ALL_REPEATS else [repeat]
        records = [rs[round_1based - 1] for r in repeats if len(rs := view.results(strategy, r)) >= round_1based]
        if not records:
            continue
        where = records[0].confusion_on
        cm = np.sum([rec.confusion for rec in records], axis=0)
        panels.append((f"{strategy} · {records[0].n_labeled} labels", cm))
    which = "summed over all repeats" if repeat == ALL_REPEATS else f"repeat {repeat} (seed {view.config.seed + repeat})"
    split = "held-out test split" if where == "test" else "still-unlabelled pool"
    title = f"Confusion matrices on the {split}, round {round_1based}, {which}"
    return figures.confusion_matrices(panels, view.dataset.class_names, normalize=normalize, title=title, evaluated_on=where)


def query_map(view: View, coords_all: np.ndarray, method: str, space: str, strategies, repeat: int,
              up_to_round: int) -> go.Figure:
    pool = view.pool(repeat).pool
    picks = {s: view.picks(s, repeat, up_to_round) for s in strategies}
    title = (f"Samples queried in rounds 1-{up_to_round} on a {method} map of the pool "
             f"({space}, repeat {repeat}, {len(pool)} points)")
    return figures.query_map(coords_all[pool], view.dataset.labels[pool], view.dataset.class_names, picks,
                             method=method, space=space, sample_ids=pool, max_round=view.config.rounds - 1, title=title)


def _short(name: str, width: int = 13) -> str:
    """Class names on their own caption line, cut so that neighbouring captions never touch."""
    return name if len(name) <= width else name[: width - 1] + "…"


def uncertain_images(view: View, strategy: str, repeat: int, round_1based: int, count: int) -> tuple[go.Figure, go.Figure]:
    """(most uncertain, least uncertain) unlabelled pool images of one round."""
    record = view.results(strategy, repeat)[round_1based - 1]
    pool = view.pool(repeat).pool
    candidates = np.flatnonzero(np.isfinite(record.scores))
    order = candidates[np.argsort(-record.scores[candidates], kind="stable")]
    names = view.dataset.class_names
    labels = view.dataset.labels[pool]
    figs = []
    for which, chosen in (("Most", order[:count]), ("Least", order[::-1][:count])):
        images = figures.to_rgb_uint8(view.dataset.images[pool[chosen]])
        captions = [f"{max(float(record.scores[i]), 0.0):.3f}"  # no "-0.000" from float rounding
                    + f"<br>true {_short(names[labels[i]])}<br>pred {_short(names[record.predicted[i]])}"
                    + (" ✗" if labels[i] != record.predicted[i] else "") for i in chosen]
        title = (f"{which} uncertain unlabelled images: {strategy}, round {round_1based} "
                 f"({record.n_labeled} labels), {record.measure} score (higher = more uncertain; ✗ = wrong prediction)")
        figs.append(figures.image_grid(images, captions, title=title))
    return figs[0], figs[1]
