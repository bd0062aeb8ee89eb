"""Plotly figure builders shared by the dashboard, its export and the CLI: learning curves,
confusion matrices, the query map and image grids.

What used to live here too has a module of its own, and its names are still importable from
here: setting labels (`core.present.chart_labels`), colours and title layout (`core.present.chart_style`), PNG/SVG/HTML
export (`core.present.image_export`), the HTML report (`core.present.html_report`) and the sweep heatmap
(`core.present.sweep_heatmap`).
"""

from __future__ import annotations

import html
import math
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.present.chart_labels import (METRIC_LABELS, MIN_BAND_REPEATS, band_label, budget_label, dataset_label,  # noqa: F401
                               format_setting, learner_label, repeats_label, settings_line, strategies_settings,
                               strategy_label)
from core.present.chart_style import (OKABE_ITO, SUBTITLE_CHARS, TITLE_CHARS, Style, _grid, _rgba, _title, _top_margin,  # noqa: F401
                              class_colors, strategy_color, strategy_style, wrap)
from core.present.html_report import html_report  # noqa: F401
from core.present.image_export import ExportUnavailable, browser_available, figure_html, figure_image  # noqa: F401
from core.present.sweep_heatmap import sweep_heatmap  # noqa: F401


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

    `curves` is `core.analysis.metrics.curve_table(...)`: strategy, n_labeled, mean, ci_low, ci_high,
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
