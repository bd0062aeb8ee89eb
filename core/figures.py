"""Plotly figure builders shared by the dashboard, its export and the CLI."""

from __future__ import annotations

import functools
import html
import math
import textwrap
from dataclasses import dataclass
import os
import shutil
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

METRIC_LABELS = {
    "test_accuracy": "Test accuracy",
    "pool_accuracy": "Pool accuracy (unlabelled samples)",
    "test_macro_f1": "Test macro-F1",
    "pool_macro_f1": "Pool macro-F1 (unlabelled samples)",
}
_GREY = "#7f7f7f"  # random's colour, and no one else's
# Okabe & Ito's palette (2008; Wong, Nature Methods 2011): seven colours that stay apart for the
# common colour-vision deficiencies. Sixteen strategies need more marks than seven colours, so
# each family (the module that holds a strategy: uncertainty, coverage, bald, ...) also has its
# own marker and dash, and two strategies share a colour only across families.
OKABE_ITO = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#f0e442"]
_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "star", "hexagon", "cross", "pentagon", "triangle-down"]
_DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
_FIXED = ["random", "entropy", "least_confidence", "smallest_margin", "largest_margin", "hybrid"]
MIN_BAND_REPEATS = 4  # a t interval from 2-3 repeats is 12.7x / 4.3x the standard error: too wide to read


@dataclass(frozen=True)
class Style:
    """How one strategy is drawn in every chart: colour, marker symbol and line dash."""

    color: str
    symbol: str
    dash: str
    family: str


def _family(strategy: str) -> str:
    from core.strategies import STRATEGIES

    return STRATEGIES[strategy].__module__.rsplit(".", 1)[-1] if strategy in STRATEGIES else strategy


@functools.cache
def _styles() -> dict[str, Style]:
    """Every registered strategy's style: within a family every colour differs; families differ in
    marker and dash; random is grey, solid, circles."""
    from core.strategies import STRATEGIES

    order = _FIXED[1:] + [name for name in STRATEGIES.names() if name not in _FIXED]
    families = list(dict.fromkeys(_family(s) for s in order))
    styles = {"random": Style(_GREY, _SYMBOLS[0], _DASHES[0], "random")}
    taken: dict[str, set[int]] = {}  # colours used per family and per dash
    for i, name in enumerate(order):
        f = families.index(_family(name))
        symbol, dash = _SYMBOLS[f % len(_SYMBOLS)], _DASHES[f % len(_DASHES)]
        avoid = taken.setdefault(f"family {f}", set()) | taken.setdefault(f"dash {dash}", set())
        k = next(c % len(OKABE_ITO) for c in range(i, i + len(OKABE_ITO)) if c % len(OKABE_ITO) not in avoid)
        taken[f"family {f}"].add(k)
        taken[f"dash {dash}"].add(k)
        styles[name] = Style(OKABE_ITO[k], symbol, dash, families[f])
    return styles


def strategy_style(strategy: str) -> Style:
    """The same colour, marker and dash for a strategy in every chart; an unregistered name gets
    a colour from its letters and the family marks of no registered family."""
    styles = _styles()
    if strategy in styles:
        return styles[strategy]
    return Style(OKABE_ITO[sum(map(ord, strategy)) % len(OKABE_ITO)], _SYMBOLS[-1], "dot", strategy)


def strategy_color(strategy: str) -> str:
    """The same colour for a strategy in every chart (random is always grey)."""
    return strategy_style(strategy).color


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


# --------------------------------------------------------------------------- titles and settings
# One place builds what a chart's title says about the run, so the page, the export and the
# command line say the same thing, and only what is there.


def dataset_label(config) -> str:
    """'digits', 'folder fruits360', 'cifar10 (32 px)': the data a comparison ran on, by name."""
    name = str(config.dataset)
    data_dir = getattr(config, "data_dir", None)
    if data_dir:
        folder = Path(str(data_dir)).name
        if folder and folder != name:
            name = f"{name} {folder}"
    if getattr(config, "image_size", None):
        name += f" ({config.image_size} px)"
    return name


def learner_label(config) -> str:
    """'logistic', 'cnn (epochs=5, lr=0.001)'."""
    params = dict(getattr(config, "learner_params", None) or {})
    from core.learners import LEARNERS

    if config.learner in LEARNERS:  # a learner may always show some settings (the pretrained backbone, its weights)
        params = LEARNERS[config.learner].label_settings(params)
    return config.learner + (f" ({', '.join(f'{k}={format_setting(v)}' for k, v in sorted(params.items()))})"
                             if params else "")


def budget_label(config) -> str:
    """'budget 110 labels (20 initial + 9 × 10)'."""
    steps = f" + {config.rounds - 1} × {config.batch}" if config.rounds > 1 else ""
    return f"budget {config.budget} labels ({config.initial} initial{steps})"


def strategy_label(config, strategy: str) -> str:
    """'hybrid (alpha 0.5, clusters 5, measure entropy)': a strategy with its declared parameters'
    values (defaults filled in); a strategy without parameters is its name."""
    params = config.params_for(strategy)
    params.pop("policy", None)
    params.pop("threshold", None)
    return strategy + (f" ({', '.join(f'{k} {format_setting(v)}' for k, v in params.items())})" if params else "")


def strategies_settings(config) -> list[str]:
    """The label of every chosen strategy that has parameters (what a chart's subtitle states)."""
    return [label for label in (strategy_label(config, s) for s in config.strategies) if "(" in label]


def repeats_label(counts: Mapping[str, int]) -> str:
    """'3 repeats', or per strategy where they differ ('3 repeats; hybrid: 1')."""
    if not counts:
        return "no repeat yet"
    top = max(counts.values())
    others = [f"{s}: {n}" for s, n in counts.items() if n != top]
    return f"{top} repeat{'s' * (top != 1)}" + (f" ({'; '.join(others)})" if others else "")


def settings_line(config, repeats: Mapping[str, int] | None = None) -> str:
    """The settings that matter for reading a chart of `config`, on one line.

    `repeats` (strategy -> repeats present) says how many repeats are really behind the
    chart; a cancelled comparison may hold fewer than `config.repeats`.
    """
    parts = [dataset_label(config), learner_label(config), budget_label(config)]
    parts.extend(strategies_settings(config))
    if getattr(config, "mode", "pool") == "stream":
        parts.append(f"stream, threshold {config.threshold:g}" if config.stream_policy == "threshold"
                     else "stream, budget policy")
    if getattr(config, "subset", None):
        parts.append(f"pool of {config.subset}")
    if getattr(config, "test_size", 0.25) == 0:
        parts.append("no test split")
    parts.append(repeats_label(repeats) if repeats is not None else f"{config.repeats} repeat{'s' * (config.repeats != 1)}")
    return " · ".join(parts)


def band_label(counts: Mapping[str, int], *, repeats_drawn: bool = False) -> str:
    """What a learning curve's band is over: 'mean and 95% CI over 5 repeats'; with fewer than
    `MIN_BAND_REPEATS` (a strategy's, or all) that the band is not shown, and whether the repeats are drawn."""
    if not counts:
        return "no completed round"

    def few(n: int) -> str:
        if n < 2:
            return "no band"
        return f"n={n}: band not shown" + (", repeats drawn" if repeats_drawn else "")

    top = max(counts.values())
    if top >= MIN_BAND_REPEATS:
        head = f"mean and 95% CI over {top} repeats"
    elif top >= 2:
        head = f"mean of {top} repeats, " + few(top)
    else:
        head = "1 repeat: mean only, no CI band"
    others = [f"{s}: {n} repeat{'s' * (n != 1)}" + (", " + few(n) if n < MIN_BAND_REPEATS <= top or n < 2 else "")
              for s, n in counts.items() if n != top]
    return head + (f" ({'; '.join(others)})" if others else "")


def format_setting(value) -> str:
    """A setting as a reader writes it: None -> '—', {} -> 'none', lists joined, 0.5 -> '0.5'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={format_setting(v)}" for k, v in value.items()) if value else "none"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(format_setting(v) for v in value) if value else "none"
    return str(value)


TITLE_CHARS = 95  # a title line at 17 px fits a 1100 px export and a wide dashboard column
SUBTITLE_CHARS = 150


def wrap(text: str, width: int) -> str:
    """`text` broken into lines of at most `width` characters with <br> (plotly titles do not wrap)."""
    return "<br>".join(textwrap.wrap(text, width, break_long_words=False)) or text


def _title(text: str, subtitle: str | None) -> dict:
    return dict(text=wrap(text, TITLE_CHARS),
                subtitle=dict(text=wrap(subtitle, SUBTITLE_CHARS) if subtitle else "", font=dict(size=12, color="#555")))


def _top_margin(subtitle: str | None, title: str = "") -> int:
    """Room above the plot for the wrapped title and subtitle."""
    lines = wrap(title, TITLE_CHARS).count("<br>")
    sub = (wrap(subtitle, SUBTITLE_CHARS).count("<br>") + 1) if subtitle else 0
    return 70 + 24 * lines + (30 + 16 * (sub - 1) if sub else 0)


def add_ci_band(fig: go.Figure, g: pd.DataFrame, strategy: str, color: str,
                bounds: tuple[float, float] | None = None) -> None:
    """The 95% CI of one strategy's line (columns n_labeled, ci_low, ci_high) as a filled band.

    With `bounds`, an interval past the quantity's range is drawn at its end.
    """
    band = g.dropna(subset=["ci_low", "ci_high"])
    if not len(band):
        return
    high, low = band.ci_high, band.ci_low[::-1]
    if bounds is not None:
        high, low = high.clip(upper=bounds[1]), low.clip(lower=bounds[0])
    fig.add_trace(go.Scatter(
        x=list(band.n_labeled) + list(band.n_labeled[::-1]), y=list(high) + list(low),
        mode="lines", fill="toself", fillcolor=_rgba(color, 0.18), line=dict(width=0), hoverinfo="skip",
        showlegend=False, legendgroup=strategy, name=f"{strategy} 95% CI"))


def learning_curves(curves: pd.DataFrame, metric: str, title: str | None = None,
                    subtitle: str | None = None, *, rounds: pd.DataFrame | None = None) -> go.Figure:
    """Mean `metric` against labels per strategy, with the 95% CI over repeats as a band.

    `curves` is `core.metrics.curve_table(...)`: strategy, n_labeled, mean, ci_low, ci_high,
    n_repeats. A strategy with fewer than `MIN_BAND_REPEATS` repeats gets no band (from 2-3
    repeats it spans most of [0, 1]); with `rounds` (one row per strategy, repeat and round)
    its repeats are drawn as thin lines instead. The default title says which.
    """
    label = METRIC_LABELS.get(metric, metric)
    fig = go.Figure()
    counts = {s: int(n) for s, n in curves.groupby("strategy", sort=False)["n_repeats"].max().items()}
    for strategy, g in curves.groupby("strategy", sort=False):
        g = g.sort_values("n_labeled")
        style = strategy_style(strategy)
        if counts[strategy] >= MIN_BAND_REPEATS:
            add_ci_band(fig, g, strategy, style.color, bounds=(0.0, 1.0))  # accuracy and F1 live in [0, 1]
        elif rounds is not None:
            for repeat, r in rounds[rounds.strategy == strategy].sort_values("n_labeled").groupby("repeat"):
                fig.add_trace(go.Scatter(
                    x=r.n_labeled, y=r[metric], mode="lines", line=dict(color=_rgba(style.color, 0.45), width=1,
                                                                        dash=style.dash),
                    legendgroup=strategy, showlegend=False, name=f"{strategy} repeat {repeat}",
                    hovertemplate=f"{strategy}, repeat {repeat}<br>%{{x}} labels<br>{label}: %{{y:.3f}}<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=g.n_labeled, y=g["mean"], mode="lines+markers", name=strategy, legendgroup=strategy,
            line=dict(color=style.color, width=2, dash=style.dash), marker=dict(size=6, symbol=style.symbol),
            customdata=g[["ci_low", "ci_high", "n_repeats"]].to_numpy(),
            hovertemplate=f"{strategy}<br>%{{x}} labels<br>{label}: %{{y:.3f}}"
                          "<br>95% CI [%{customdata[0]:.3f}, %{customdata[1]:.3f}]<br>repeats: %{customdata[2]}<extra></extra>"))
    if title is None:
        title = f"{label} vs labels ({band_label(counts, repeats_drawn=rounds is not None)})"
    fig.update_layout(
        title=_title(title, subtitle),
        xaxis_title="Labelled samples (count, initial set included)", yaxis_title=f"{label} (fraction)",
        legend_title_text="Strategy", template="plotly_white", hovermode="closest",
        margin=dict(l=60, r=20, t=_top_margin(subtitle, title), b=50))
    return fig


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    cols = max(1, min(n, max_cols))
    return -(-n // cols), cols


MANY_CLASSES = 15  # beyond this a confusion matrix gets a row of its own and every class a 14 px row
_TICK_CHARS = 24  # class names longer than this are cut on the axes (hover shows them whole)


def _clip(name: str, width: int = _TICK_CHARS) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def confusion_matrices(panels: list[tuple[str, np.ndarray]], class_names: Sequence[str], *, normalize: bool = False,
                       title: str | None = None, subtitle: str | None = None, evaluated_on: str = "test") -> go.Figure:
    """One heatmap per (panel title, confusion counts), rows = true class; every class is named.

    Up to `MANY_CLASSES` classes the panels sit side by side (class names on the first panel's
    axis only); beyond it each panel gets a row of its own, tall enough for one readable row
    per class, and the gaps are sized from the longest class name so no label reaches into
    the next panel. With `normalize`, each row is divided by its count (recall on the diagonal).
    """
    n_classes = len(class_names)
    names = [str(c) for c in class_names]
    ticks = [_clip(n) for n in names]
    many = n_classes > MANY_CLASSES
    rows, cols = _grid(max(1, len(panels)), 1 if many else 3)
    font = 9 if many else 11
    label_px = int(0.62 * font * max((len(t) for t in ticks), default=1)) + 8  # the longest tick label, in pixels
    panel_px = max(300, 14 * n_classes) if many else 300
    gap_px = label_px + 95  # x tick labels, the x title, the next panel's title
    plot_px = rows * panel_px + (rows - 1) * gap_px
    top, bottom = _top_margin(subtitle, title or "") + 20, label_px + 60
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[t for t, _ in panels] or ["(no round yet)"],
                        shared_yaxes=not many, horizontal_spacing=0.03,
                        vertical_spacing=gap_px / plot_px if rows > 1 else 0.1)
    show_text = n_classes <= 12
    for i, (panel, cm) in enumerate(panels):
        counts = np.asarray(cm, dtype=float)
        totals = counts.sum(axis=1, keepdims=True)
        z = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0) if normalize else counts
        fig.add_trace(go.Heatmap(
            z=z, x=names, y=names, coloraxis="coloraxis", customdata=counts,
            text=np.round(z, 2) if normalize else counts.astype(int), texttemplate="%{text}" if show_text else None,
            textfont=dict(size=9), xgap=1 if many else 0, ygap=1 if many else 0,
            hovertemplate="true %{y}<br>predicted %{x}<br>count %{customdata:.0f}"
                          + ("<br>row share %{z:.2f}" if normalize else "") + f"<extra>{panel}</extra>"),
            row=i // cols + 1, col=i % cols + 1)
    axis = dict(type="category", tickmode="array", tickvals=names, ticktext=ticks, tickfont=dict(size=font),
                automargin=False)
    fig.update_yaxes(autorange="reversed", **axis)
    fig.update_yaxes(title_text="True class", col=1)
    fig.update_xaxes(title_text="Predicted class", tickangle=-90 if many or n_classes > 8 else 0, **axis)
    unit = "share of the true class (row-normalised)" if normalize else "samples (count)"
    where = "held-out test split" if evaluated_on == "test" else "still-unlabelled pool"
    fig.update_layout(
        title=_title(title or f"Confusion matrices on the {where}", subtitle),
        coloraxis=dict(colorscale="Blues", colorbar=dict(title=dict(text=unit, side="right"), len=min(1.0, 600 / plot_px),
                                                         y=1.0, yanchor="top"),
                       cmin=0, cmax=1 if normalize else None),
        template="plotly_white", height=top + plot_px + bottom,
        margin=dict(l=label_px + 50, r=20, t=top, b=bottom))
    return fig


_CLASS_PALETTE = qualitative.D3
# Strong colours only (the pale Light24 and Pastel sets vanish on white at the pool's opacity).
_MANY_CLASS_PALETTE = list(dict.fromkeys(c.upper() for c in qualitative.Dark24 + qualitative.Alphabet + qualitative.Bold
                                         + qualitative.Vivid + qualitative.Safe + qualitative.Prism))


def class_colors(n_classes: int) -> list[str]:
    """One colour per class (distinct up to about 90 classes, then repeating)."""
    palette = _CLASS_PALETTE if n_classes <= 10 else _MANY_CLASS_PALETTE
    return [palette[c % len(palette)] for c in range(n_classes)]


def query_map(coords: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
              picks: dict[str, tuple[np.ndarray, np.ndarray]], *, method: str = "UMAP", space: str = "pixels",
              sample_ids: np.ndarray | None = None, max_round: int | None = None, title: str | None = None,
              subtitle: str | None = None, initial: np.ndarray | None = None) -> go.Figure:
    """The pool in 2-D, faint and coloured by class (one legend entry per class); the initial
    labelled set as open black circles; each strategy's picks on top, coloured by the round
    that picked them (one panel per strategy, shared axes).

    `picks[strategy] = (pool indices, round picked)` should hold only picks that were
    labelled (a later round fitted on them); `initial` holds the pool indices of the initial
    labelled set (the same for every strategy). `sample_ids` (dataset indices) show on hover.
    """
    coords = np.asarray(coords, dtype=float)
    labels = np.asarray(labels)
    ids = np.arange(len(coords)) if sample_ids is None else np.asarray(sample_ids)
    names = np.array([str(c) for c in class_names])
    colors = class_colors(len(names))
    initial = np.zeros(0, dtype=np.int64) if initial is None else np.asarray(initial, dtype=np.int64)
    strategies = list(picks)
    rows, cols = _grid(max(1, len(strategies)), 3)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=strategies or ["(no strategy)"], shared_xaxes="all",
                        shared_yaxes="all", horizontal_spacing=0.04, vertical_spacing=0.1 if rows > 1 else 0.08)
    top = max([int(r.max()) for _, r in picks.values() if len(r)] + [max_round or 1])
    dense = len(coords) > 3000
    pick_size = 5 if dense else 6  # small enough that the pool stays visible under a few hundred picks
    for i, strategy in enumerate(strategies or [""]):
        row, col = i // cols + 1, i % cols + 1
        for c, name in enumerate(names):
            mask = labels == c
            if i == 0:  # the legend entry at full colour (the pool itself is drawn faint)
                fig.add_trace(go.Scattergl(x=[None], y=[None], mode="markers", name=name, legendgroup=f"class {c}",
                                           legendrank=1000 + c, marker=dict(size=8, color=colors[c]), hoverinfo="skip"),
                              row=row, col=col)
            fig.add_trace(go.Scattergl(
                x=coords[mask, 0], y=coords[mask, 1], mode="markers", name=name, legendgroup=f"class {c}",
                showlegend=False, opacity=0.4, marker=dict(size=3 if dense else 4, color=colors[c]),
                customdata=ids[mask], hovertemplate=f"sample %{{customdata}}<br>true label {html.escape(name)}<extra></extra>"),
                row=row, col=col)
        if len(initial):
            fig.add_trace(go.Scattergl(
                x=coords[initial, 0], y=coords[initial, 1], mode="markers",
                name=f"initial labelled set ({len(initial)})", legendgroup="initial", showlegend=i == 0, legendrank=1,
                marker=dict(size=pick_size + 1, symbol="circle-open", color="black", line=dict(width=1.2)),
                customdata=np.column_stack([ids[initial], names[labels[initial]]]),
                hovertemplate="sample %{customdata[0]}<br>true label %{customdata[1]}"
                              "<br>initial labelled set<extra></extra>"),
                row=row, col=col)
        if not strategy:
            continue
        index, picked_round = (np.asarray(a) for a in picks[strategy])
        fig.add_trace(go.Scattergl(
            x=coords[index, 0], y=coords[index, 1], mode="markers", name="labelled pick (colour = round)",
            legendgroup="queried", showlegend=i == 0, legendrank=2,
            marker=dict(size=pick_size, color=picked_round, coloraxis="coloraxis", symbol="diamond",
                        line=dict(width=0.5, color="rgba(0,0,0,0.6)")),
            customdata=np.column_stack([ids[index], names[labels[index]], picked_round]),
            hovertemplate=f"{strategy}<br>sample %{{customdata[0]}}<br>true label %{{customdata[1]}}"
                          "<br>picked in round %{customdata[2]}<extra></extra>"),
            row=row, col=col)
    fig.update_xaxes(title_text=f"{method} 1 (arbitrary units)", showticklabels=False, row=rows)
    fig.update_yaxes(title_text=f"{method} 2 (arbitrary units)", showticklabels=False, col=1)
    many = len(names) > 12
    panels_px = 380 * rows
    legend_px = 0
    if many:  # the legend goes under the panels in columns, one entry per class (click one to hide it)
        entry_px = 10 + 6 * max(len(n) for n in names)  # the text; plotly adds about 40 px for the symbol
        legend_px = 30 + 20 * -(-(len(names) + 2) // max(1, 1000 // (entry_px + 40)))
        legend = dict(title=dict(text="True class (click to hide one; double-click to show it alone) and marks",
                                 side="top"),
                      orientation="h", x=0, xanchor="left", y=-60 / panels_px, yanchor="top", entrywidth=entry_px,
                      entrywidthmode="pixels", itemsizing="constant", font=dict(size=11))
    else:
        legend = dict(title_text="True class / marks", orientation="v", x=1.08, itemsizing="constant")
    top_px = _top_margin(subtitle, title or "") + 20
    fig.update_layout(
        title=_title(title or f"Labelled samples on a {method} map of the pool ({space})", subtitle),
        coloraxis=dict(colorscale="Viridis", cmin=1, cmax=max(top, 2),
                       colorbar=dict(title=dict(text="round picked", side="right"), x=1.0, len=min(0.6, 300 / panels_px),
                                     y=1.0, yanchor="top", tickformat="d",
                                     dtick=max(1, math.ceil(max(top, 2) / 10)))),  # whole rounds
        legend=legend, template="plotly_white", height=top_px + panels_px + 60 + legend_px,
        margin=dict(l=50, r=30, t=top_px, b=60 + legend_px))
    return fig


def to_rgb_uint8(images: np.ndarray) -> np.ndarray:
    """uint8 (n, h, w, c) -> 0-255 RGB for display (grey repeated; 0-16 digits stretched)."""
    peak = float(images.max()) if images.size else 0.0
    scale = 255.0 / peak if 0 < peak < 64 else 1.0  # low-range pixels (digits: 0-16) stretched to 0-255
    rgb = np.clip(np.asarray(images, dtype=np.float32) * scale, 0, 255).astype(np.uint8)
    return np.repeat(rgb, 3, axis=3) if rgb.shape[3] == 1 else rgb[..., :3]


def image_grid(images: np.ndarray, captions: Sequence[str], *, title: str, subtitle: str | None = None,
               columns: int = 8, hovers: Sequence[str] | None = None) -> go.Figure:
    """Images (n, h, w, 3) uint8 in a grid, each with a caption above it (lines split by <br>)
    and, with `hovers`, a tooltip of its own."""
    n = max(1, len(images))
    rows, cols = _grid(n, columns)
    lines = max((c.count("<br>") + 1 for c in captions), default=1)
    image_px, caption_px = 130, 14 * lines + 16
    plot_px = rows * image_px + (rows - 1) * caption_px
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(captions) or ["(none)"],
                        horizontal_spacing=0.012, vertical_spacing=caption_px / plot_px if rows > 1 else 0.05)
    for i, image in enumerate(images):
        hover = dict(hovertemplate=f"{hovers[i]}<extra></extra>") if hovers is not None else dict(hoverinfo="skip")
        fig.add_trace(go.Image(z=image, **hover), row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor=None)
    fig.update_annotations(font_size=11)
    top = _top_margin(subtitle, title) + caption_px
    fig.update_layout(title=_title(title, subtitle), template="plotly_white", height=plot_px + top + 10,
                      margin=dict(l=10, r=10, t=top, b=10))
    return fig


class ExportUnavailable(RuntimeError):
    """PNG/SVG export needs a Chrome or Chromium browser for kaleido; HTML export does not."""


def _ensure_browser_path() -> None:
    if "BROWSER_PATH" not in os.environ:
        found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if found:
            os.environ["BROWSER_PATH"] = found


def browser_available() -> bool:
    """Whether kaleido can find a Chrome/Chromium to render PNG and SVG."""
    _ensure_browser_path()
    path = os.environ.get("BROWSER_PATH", "")
    return bool(path) and os.path.exists(path)


def figure_image(fig: go.Figure, fmt: str, *, width: int = 1100, height: int | None = None, scale: float = 2) -> bytes:
    """PNG or SVG bytes via kaleido; raises ExportUnavailable when no browser is installed."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"image format must be 'png' or 'svg'; got {fmt!r}")
    _ensure_browser_path()
    try:
        return fig.to_image(format=fmt, width=width, height=height or fig.layout.height or 520,
                            scale=scale if fmt == "png" else 1)
    except RuntimeError as exc:  # plotly's wrapper of kaleido's ChromeNotFoundError
        raise ExportUnavailable(
            "PNG and SVG export need Chrome or Chromium (Debian: apt-get install -y chromium); "
            f"HTML export works without it. ({str(exc).strip().splitlines()[0]})") from None


def figure_html(fig: go.Figure) -> str:
    """A self-contained HTML page (plotly.js inline): opens offline."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


def _settings_table(settings: Mapping, css: str) -> str:
    return (f"<table class='{css}'>" + "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(format_setting(v))}</td></tr>" for k, v in settings.items())
        + "</table>")


def html_report(title: str, figures: Sequence[tuple], *, config: Mapping,
                tables: Sequence[tuple[str, pd.DataFrame]] = (), paragraphs: Sequence[tuple[str, str]] = ()) -> str:
    """One self-contained HTML page: the settings as a readable table, `paragraphs` ((heading,
    text): the verdict), the tables and every chart.

    `figures` holds (name, figure) or (name, figure, shown): `shown` (a mapping) is what the
    chart was drawn with (round, repeat, normalisation...), printed above it. Values read as
    a person writes them (`format_setting`): no None, {} or Python lists.
    """
    parts = [f"<h1>{html.escape(title)}</h1>", "<h2>Settings</h2>", _settings_table(config, "config")]
    for heading, text in paragraphs:
        parts += [f"<h2>{html.escape(heading)}</h2>", f"<p class='verdict'>{html.escape(text)}</p>"]
    for name, table in tables:
        parts += [f"<h2>{html.escape(name)}</h2>", table.to_html(index=False, float_format=lambda x: f"{x:.3f}", na_rep="")]
    for i, (name, fig, *rest) in enumerate(figures):
        parts.append(f"<h2>{html.escape(name)}</h2>")
        if rest and rest[0]:
            parts.append(_settings_table(rest[0], "shown"))
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "table.config th,table.shown th,table.config td,table.shown td{text-align:left}"
             "table.shown{font-size:90%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def _same(a, b) -> bool:
    """Grid values compare as read back from JSON or CSV too (1 == 1.0, '0.5' == 0.5)."""
    return a == b or str(a) == str(b)


def sweep_heatmap(runs: pd.DataFrame, x: str, y: str | None = None, *, metric: str = "test_accuracy",
                  strategies: Sequence[str] | None = None, title: str | None = None,
                  skipped: Sequence[Mapping] = ()) -> go.Figure:
    """AULC over one or two swept options, one panel per strategy, each with its own colour scale.

    `runs` is `core.sweep.SweepResult.runs` (one row per grid point x strategy); `skipped`
    the parameters of grid points left out as invalid (`Sweep.skipped`, or the status file's
    "skipped" entries' params): their cells read "skipped", other empty cells "no result".
    Each cell shows the mean and ±half its 95% CI; the best cell of a panel reads "best" and
    every cell whose CI overlaps the best one's reads "≈ best" (a difference within noise).
    A strategy the axes do not change (random under alpha: the same runs in every cell) gets
    no panel; a note under the title gives its single value. Where other options are swept
    too, a cell shows the best grid point among those sharing its x and y (its hover names them).
    """
    label = METRIC_LABELS.get(metric, metric)
    runs = runs.dropna(subset=["aulc"])
    if strategies is not None:
        runs = runs[runs.strategy.isin(strategies)]
    names = list(dict.fromkeys(runs.strategy))
    others = [c for c in runs.columns if c not in {x, y, "strategy"} and c not in _SWEEP_RESULT_COLUMNS]
    skipped = [dict(p) for p in skipped]
    xs = list(dict.fromkeys([*runs[x], *(p[x] for p in skipped if x in p)]))
    ys = list(dict.fromkeys([*runs[y], *(p[y] for p in skipped if y in p)])) if y is not None else [None]
    xs = sorted(dict.fromkeys(xs), key=_sort_key)
    if y is not None:
        ys = sorted(ys, key=_sort_key)
    xs = [v for i, v in enumerate(xs) if not any(_same(v, w) for w in xs[:i])]
    ys = [v for i, v in enumerate(ys) if not any(_same(v, w) for w in ys[:i])]

    def position(row) -> tuple[int, int]:
        i = next(k for k, v in enumerate(ys) if _same(v, row[y])) if y else 0
        return i, next(k for k, v in enumerate(xs) if _same(v, row[x]))

    entries = []
    for strategy in names:
        g = runs[runs.strategy == strategy]
        best = g.loc[g.groupby([x] + ([y] if y else []), sort=False)["aulc"].idxmax()]
        z = np.full((len(ys), len(xs)), np.nan)
        low, high = z.copy(), z.copy()
        hover = np.full(z.shape, "", dtype=object)
        for row in best.to_dict("records"):  # not itertuples: it renames columns such as "learner_params.C"
            i, j = position(row)
            z[i, j], low[i, j], high[i, j] = row["aulc"], row["aulc_ci_low"], row["aulc_ci_high"]
            half = (row["aulc_ci_high"] - row["aulc_ci_low"]) / 2
            ci = (f"[{row['aulc_ci_low']:.3f}, {row['aulc_ci_high']:.3f}], width {2 * half:.3f}" if np.isfinite(half)
                  else "n/a (1 repeat)")
            rest = "".join(f"<br>{o} = {row[o]}" for o in others if o in row)
            hover[i, j] = (f"{strategy}<br>{x} = {row[x]}" + (f"<br>{y} = {row[y]}" if y else "")
                           + f"<br>AULC {row['aulc']:.3f}<br>95% CI {ci}<br>repeats: {row['repeats']}{rest}")
        values = z[np.isfinite(z)]
        unchanged = values.size > 1 and np.ptp(values) <= 1e-12 * max(1.0, abs(values[0]))
        entries.append((strategy, z, low, high, hover, unchanged))
    # A strategy the axes cannot change repeats one value in every cell: say it once instead of a panel
    # (unless no strategy changes at all, when the panels are all there is to show).
    constant = [e for e in entries if e[5]] if not all(e[5] for e in entries) else []
    panels = [e[:5] for e in entries if not (e[5] and constant)]

    n = max(1, len(panels))
    rows, cols = _grid(n, 3)
    titles = []
    for strategy, z, low, high, _ in panels:
        flat = [axis for axis, changes in ((x, _varies(z, 1)), (y, _varies(z, 0))) if axis and not changes
                and (len(xs) if axis == x else len(ys)) > 1]
        notes_of = [f"the same for every {' and '.join(flat)}"] if flat else []
        if _all_near_best(z, low, high) and (_varies(z, 0) or _varies(z, 1)):
            notes_of.append("every cell within noise of the best")
        titles.append(strategy + (f" ({'; '.join(notes_of)})" if notes_of else ""))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles or ["(no result)"], horizontal_spacing=0.14,
                        vertical_spacing=0.22 if rows > 1 else 0.1)
    one_repeat = False
    for k, (strategy, z, low, high, hover) in enumerate(panels):
        row, col = k // cols + 1, k % cols + 1
        text = np.full(z.shape, "", dtype=object)
        finite = np.isfinite(z)
        b, near = _near_best(z, low, high)
        for i, j in zip(*np.nonzero(finite)):
            half = (high[i, j] - low[i, j]) / 2
            if not np.isfinite(half):
                one_repeat = True
            text[i, j] = f"{z[i, j]:.3f}" + (f"<br>±{half:.3f}" if np.isfinite(half) else "<br>(1 repeat)")
            if (i, j) == b:
                text[i, j] += "<br><b>best</b>"
            elif near[i, j]:
                text[i, j] += "<br>≈ best"
        axis = "coloraxis" if k == 0 else f"coloraxis{k + 1}"
        xlabels = [str(v) for v in xs]
        ylabels = [str(v) for v in ys] if y else [""]
        fig.add_trace(go.Heatmap(
            z=z, x=xlabels, y=ylabels, text=text, texttemplate="%{text}", customdata=hover,
            hovertemplate="%{customdata}<extra></extra>", coloraxis=axis, xgap=2, ygap=2), row=row, col=col)
        missing = ~finite
        if missing.any():  # grey cells that say why they are empty
            marks = np.full(z.shape, "", dtype=object)
            for i, j in zip(*np.nonzero(missing)):
                marks[i, j] = "skipped" if _is_skipped(skipped, strategy, x, xs[j], y, ys[i]) else "no result"
            fig.add_trace(go.Heatmap(
                z=np.where(missing, 0.0, np.nan), x=xlabels, y=ylabels, text=marks, texttemplate="%{text}",
                textfont=dict(color="#666"), colorscale=[[0, "#e6e6e6"], [1, "#e6e6e6"]], showscale=False,
                zmin=0, zmax=1, xgap=2, ygap=2, hovertemplate="%{text}<extra></extra>"), row=row, col=col)
        xaxis = fig.layout[f"xaxis{'' if k == 0 else k + 1}"]
        yaxis = fig.layout[f"yaxis{'' if k == 0 else k + 1}"]
        lo, hi = (np.nanmin(z), np.nanmax(z)) if finite.any() else (0.0, 1.0)
        fig.layout[axis] = dict(colorscale="Viridis", cmin=lo, cmax=hi if hi > lo else lo + 1e-6, colorbar=dict(
            title=dict(text="AULC", side="top"), x=xaxis.domain[1] + 0.01, xanchor="left", thickness=12,
            y=sum(yaxis.domain) / 2, len=yaxis.domain[1] - yaxis.domain[0], tickformat=".3f", nticks=4))
        fig.update_xaxes(title_text=x, type="category", row=row, col=col)
        fig.update_yaxes(title_text=(y or "") if col == 1 else "", type="category", row=row, col=col)
    notes = []
    if constant:
        def once(entry) -> str:
            strategy, z, low, high = entry[:4]
            k = int(np.flatnonzero(np.isfinite(z.ravel()))[0])
            half = (high.ravel()[k] - low.ravel()[k]) / 2
            return f"{strategy} AULC {z.ravel()[k]:.3f}" + (f" ±{half:.3f}" if np.isfinite(half) else "")

        axes = [a for a in (x, y) if a]
        notes.append(f"Not drawn ({' and '.join(axes)} {'do' if len(axes) > 1 else 'does'} not change their runs: "
                     "the same value in every cell): " + "; ".join(once(e) for e in constant))
    notes.append("Each panel has its own colour scale. ≈ best: 95% CI overlaps the best cell's (a difference within noise)"
                 + ("; cells of 1 repeat have no CI, so their differences are untested" if one_repeat else ""))
    default = f"AULC of {label.lower()} per strategy (cell: mean ± half the 95% CI over repeats" \
              + ("; best over the other swept options)" if others else ")")
    subtitle = "<br>".join(notes)
    fig.update_layout(
        title=_title(title or default, subtitle), template="plotly_white",
        margin=dict(l=60, r=60, t=_top_margin(subtitle) + 14 * len(notes) + 10, b=50),
        height=_top_margin(subtitle) + 14 * len(notes) + rows * (90 + 60 * max(len(ys), 2 if y else 1) + 40) + 40)
    return fig


def _near_best(z: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[tuple[int, ...] | None, np.ndarray]:
    """(the best cell, cells whose 95% CI reaches the best cell's CI): differences within noise."""
    finite = np.isfinite(z)
    if not finite.any():
        return None, np.zeros(z.shape, bool)
    best = np.unravel_index(np.nanargmax(np.where(finite, z, -np.inf)), z.shape)
    near = finite & np.isfinite(high) & np.isfinite(low[best]) & (high >= low[best])
    return best, near


def _all_near_best(z: np.ndarray, low: np.ndarray, high: np.ndarray) -> bool:
    best, near = _near_best(z, low, high)
    return best is not None and np.isfinite(z).sum() > 1 and bool(near[np.isfinite(z)].all())


def _varies(z: np.ndarray, axis: int) -> bool:
    """Whether z changes along `axis` (1: across columns, 0: across rows) anywhere."""
    spread = np.nanmax(z, axis=axis) - np.nanmin(z, axis=axis) if np.isfinite(z).any() else np.zeros(1)
    return bool(np.nan_to_num(spread, nan=0.0).max() > 1e-12)


def _is_skipped(skipped: Sequence[Mapping], strategy: str, x: str, xv, y: str | None, yv) -> bool:
    for params in skipped:
        if x in params and not _same(params[x], xv):
            continue
        if y and y in params and not _same(params[y], yv):
            continue
        chosen = params.get("strategies")
        if chosen is not None and strategy not in ([chosen] if isinstance(chosen, str) else list(chosen)):
            continue
        return True
    return False


_SWEEP_RESULT_COLUMNS = {"point", "repeats", "metric", "final_n_labeled", "aulc", "aulc_ci_low", "aulc_ci_high",
                         "aulc_ci_width", "final", "final_ci_low", "final_ci_high", "gain_vs_random", "complete",
                         "config_key"}


def _sort_key(value):
    return (0, value, "") if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, 0, str(value))
