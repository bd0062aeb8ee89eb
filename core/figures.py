"""Plotly figure builders shared by the dashboard, its export and the CLI."""

from __future__ import annotations

import html
import math
import os
import shutil
from typing import Sequence

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
_PALETTE = qualitative.D3
_FIXED = ["random", "entropy", "least_confidence", "smallest_margin", "largest_margin", "hybrid"]


def strategy_color(strategy: str) -> str:
    """The same colour for a strategy in every chart (random is always grey)."""
    if strategy == "random":
        return "#7f7f7f"
    index = _FIXED.index(strategy) if strategy in _FIXED else len(_FIXED) + sum(map(ord, strategy))
    return _PALETTE[index % len(_PALETTE)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def learning_curves(curves: pd.DataFrame, metric: str, title: str | None = None) -> go.Figure:
    """Mean `metric` against labels per strategy, with the 95% CI over repeats as a band.

    `curves` is `core.metrics.curve_table(...)`: strategy, n_labeled, mean, ci_low, ci_high.
    """
    label = METRIC_LABELS.get(metric, metric)
    fig = go.Figure()
    for strategy, g in curves.groupby("strategy", sort=False):
        g = g.sort_values("n_labeled")
        color = strategy_color(strategy)
        band = g.dropna(subset=["ci_low", "ci_high"])
        if len(band):
            fig.add_trace(go.Scatter(
                x=list(band.n_labeled) + list(band.n_labeled[::-1]),
                # accuracy and F1 live in [0, 1]: a t interval past the ends is drawn at the end
                y=list(band.ci_high.clip(upper=1.0)) + list(band.ci_low[::-1].clip(lower=0.0)),
                mode="lines", fill="toself", fillcolor=_rgba(color, 0.18), line=dict(width=0), hoverinfo="skip",
                showlegend=False, legendgroup=strategy, name=f"{strategy} 95% CI"))
        fig.add_trace(go.Scatter(
            x=g.n_labeled, y=g["mean"], mode="lines+markers", name=strategy, legendgroup=strategy,
            line=dict(color=color, width=2), marker=dict(size=5),
            customdata=g[["ci_low", "ci_high", "n_repeats"]].to_numpy(),
            hovertemplate=f"{strategy}<br>%{{x}} labels<br>{label}: %{{y:.3f}}"
                          "<br>95% CI [%{customdata[0]:.3f}, %{customdata[1]:.3f}]<br>repeats: %{customdata[2]}<extra></extra>"))
    fig.update_layout(
        title=title or f"{label} vs labels (mean and 95% CI over repeats)",
        xaxis_title="Labelled samples (count, initial set included)", yaxis_title=f"{label} (fraction)",
        legend_title_text="Strategy", template="plotly_white", hovermode="closest",
        margin=dict(l=60, r=20, t=60, b=50))
    return fig


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    cols = max(1, min(n, max_cols))
    return -(-n // cols), cols


def confusion_matrices(panels: list[tuple[str, np.ndarray]], class_names: Sequence[str], *, normalize: bool = False,
                       title: str | None = None, evaluated_on: str = "test") -> go.Figure:
    """One heatmap per (panel title, confusion counts) side by side, rows = true class.

    With `normalize`, each row is divided by its count (recall on the diagonal).
    """
    n_classes = len(class_names)
    rows, cols = _grid(len(panels), 3)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[t for t, _ in panels],
                        horizontal_spacing=0.08, vertical_spacing=0.16 if rows > 1 else 0.1)
    show_text = n_classes <= 12
    names = [str(c) for c in class_names]
    for i, (panel, cm) in enumerate(panels):
        counts = np.asarray(cm, dtype=float)
        totals = counts.sum(axis=1, keepdims=True)
        z = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0) if normalize else counts
        fig.add_trace(go.Heatmap(
            z=z, x=names, y=names, coloraxis="coloraxis", customdata=counts,
            text=np.round(z, 2) if normalize else counts.astype(int), texttemplate="%{text}" if show_text else None,
            textfont=dict(size=9),
            hovertemplate="true %{y}, predicted %{x}<br>count %{customdata:.0f}"
                          + ("<br>row share %{z:.2f}" if normalize else "") + f"<extra>{panel}</extra>"),
            row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(autorange="reversed", title_text="True class", type="category")
    fig.update_xaxes(title_text="Predicted class", type="category")
    unit = "share of the true class (row-normalised)" if normalize else "samples (count)"
    where = "held-out test split" if evaluated_on == "test" else "still-unlabelled pool"
    fig.update_layout(
        title=title or f"Confusion matrices on the {where}",
        coloraxis=dict(colorscale="Blues", colorbar=dict(title=dict(text=unit, side="right")),
                       cmin=0, cmax=1 if normalize else None),
        template="plotly_white", height=340 * rows + 90, margin=dict(l=60, r=20, t=90, b=50))
    return fig


def query_map(coords: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
              picks: dict[str, tuple[np.ndarray, np.ndarray]], *, method: str = "UMAP", space: str = "pixels",
              sample_ids: np.ndarray | None = None, max_round: int | None = None, title: str | None = None) -> go.Figure:
    """The pool in 2-D, faint and coloured by class; each strategy's queried points on top,
    coloured by the round they were picked in (one panel per strategy, shared axes).

    `picks[strategy] = (pool indices, round picked)`; `sample_ids` (dataset indices) show on hover.
    """
    coords = np.asarray(coords, dtype=float)
    labels = np.asarray(labels)
    ids = np.arange(len(coords)) if sample_ids is None else np.asarray(sample_ids)
    names = np.array([str(c) for c in class_names])
    strategies = list(picks)
    rows, cols = _grid(max(1, len(strategies)), 3)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=strategies or ["(no strategy)"], shared_xaxes="all",
                        shared_yaxes="all", horizontal_spacing=0.04, vertical_spacing=0.1 if rows > 1 else 0.08)
    palette = qualitative.Dark24 if len(names) > 10 else qualitative.D3
    per_class = len(names) <= 24
    top = max([int(r.max()) for _, r in picks.values() if len(r)] + [max_round or 1])
    for i, strategy in enumerate(strategies or [""]):
        row, col = i // cols + 1, i % cols + 1
        groups = [(names[c], labels == c, palette[c % len(palette)]) for c in range(len(names))] if per_class \
            else [("pool", np.ones(len(labels), bool), None)]
        for name, mask, color in groups:
            fig.add_trace(go.Scattergl(
                x=coords[mask, 0], y=coords[mask, 1], mode="markers", name=f"class {name}", legendgroup=f"class {name}",
                showlegend=(i == 0 and per_class), opacity=0.3,
                marker=dict(size=4, color=color if color else labels[mask], colorscale=None if color else "Turbo"),
                customdata=np.column_stack([ids[mask], names[labels[mask]]]),
                hovertemplate="sample %{customdata[0]}<br>true label %{customdata[1]}<br>not queried<extra></extra>"),
                row=row, col=col)
        if not strategy:
            continue
        index, picked_round = (np.asarray(a) for a in picks[strategy])
        fig.add_trace(go.Scattergl(
            x=coords[index, 0], y=coords[index, 1], mode="markers", name="queried (colour = round)",
            legendgroup="queried", showlegend=i == 0,
            marker=dict(size=8, color=picked_round, coloraxis="coloraxis", line=dict(width=0.8, color="black"),
                        symbol="diamond"),
            customdata=np.column_stack([ids[index], names[labels[index]], picked_round]),
            hovertemplate=f"{strategy}<br>sample %{{customdata[0]}}<br>true label %{{customdata[1]}}"
                          "<br>picked in round %{customdata[2]}<extra></extra>"),
            row=row, col=col)
    fig.update_xaxes(title_text=f"{method} 1 (arbitrary units)", showticklabels=False, row=rows)
    fig.update_yaxes(title_text=f"{method} 2 (arbitrary units)", showticklabels=False, col=1)
    fig.update_layout(
        title=title or f"Queried samples on a {method} map of the pool ({space})",
        coloraxis=dict(colorscale="Viridis", cmin=1, cmax=max(top, 2),
                       colorbar=dict(title=dict(text="round picked", side="right"), x=1.0, len=0.6, y=0.4,
                                     tickformat="d", dtick=max(1, math.ceil(max(top, 2) / 10)))),  # whole rounds
        legend=dict(title_text="True class / marks", orientation="v", x=1.08, itemsizing="constant"),
        template="plotly_white", height=380 * rows + 110, margin=dict(l=50, r=30, t=90, b=50))
    return fig


def to_rgb_uint8(images: np.ndarray) -> np.ndarray:
    """uint8 (n, h, w, c) -> 0-255 RGB for display (grey repeated; 0-16 digits stretched)."""
    peak = float(images.max()) if images.size else 0.0
    scale = 255.0 / peak if 0 < peak < 64 else 1.0  # low-range pixels (digits: 0-16) stretched to 0-255
    rgb = np.clip(np.asarray(images, dtype=np.float32) * scale, 0, 255).astype(np.uint8)
    return np.repeat(rgb, 3, axis=3) if rgb.shape[3] == 1 else rgb[..., :3]


def image_grid(images: np.ndarray, captions: Sequence[str], *, title: str, columns: int = 8) -> go.Figure:
    """Images (n, h, w, 3) uint8 in a grid, each with a short caption above it."""
    n = max(1, len(images))
    rows, cols = _grid(n, columns)
    lines = max((c.count("<br>") + 1 for c in captions), default=1)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(captions) or ["(none)"],
                        horizontal_spacing=0.012, vertical_spacing=(0.12 + 0.1 * lines) / rows if rows > 1 else 0.05)
    for i, image in enumerate(images):
        fig.add_trace(go.Image(z=image, hoverinfo="skip"), row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor=None)
    fig.update_annotations(font_size=11)
    fig.update_layout(title=title, template="plotly_white", height=(130 + 14 * lines) * rows + 80,
                      margin=dict(l=10, r=10, t=76 + 14 * lines, b=10))
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


def html_report(title: str, figures: Sequence[tuple[str, go.Figure]], *, config: dict,
                tables: Sequence[tuple[str, pd.DataFrame]] = ()) -> str:
    """One self-contained HTML page: the config, every chart and the tables."""
    parts = [f"<h1>{html.escape(title)}</h1>", "<h2>Configuration</h2>",
             "<table class='config'>" + "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                                                for k, v in config.items()) + "</table>"]
    for name, table in tables:
        parts += [f"<h2>{html.escape(name)}</h2>", table.to_html(index=False, float_format=lambda x: f"{x:.3f}", na_rep="")]
    for i, (name, fig) in enumerate(figures):
        parts += [f"<h2>{html.escape(name)}</h2>", fig.to_html(full_html=False, include_plotlyjs=(i == 0))]
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "table.config th{text-align:left}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def sweep_heatmap(runs: pd.DataFrame, x: str, y: str | None = None, *, metric: str = "test_accuracy",
                  strategies: Sequence[str] | None = None, title: str | None = None) -> go.Figure:
    """AULC over two swept options, one panel per strategy; each cell shows the mean and ±half its 95% CI.

    `runs` is `core.sweep.SweepResult.runs` (one row per grid point x strategy). Where other
    options are swept too, a cell shows the best grid point among those sharing its x and y
    (its hover names them), so no result is averaged away.
    """
    from plotly.subplots import make_subplots  # noqa: PLC0415  (kept local: this builder stands alone)

    label = METRIC_LABELS.get(metric, metric)
    runs = runs.dropna(subset=["aulc"])
    if strategies is not None:
        runs = runs[runs.strategy.isin(strategies)]
    names = list(dict.fromkeys(runs.strategy))
    others = [c for c in runs.columns if c not in {x, y, "strategy"} and c not in _SWEEP_RESULT_COLUMNS]
    xs = list(dict.fromkeys(runs[x]))
    ys = list(dict.fromkeys(runs[y])) if y is not None else [None]
    if y is not None:
        xs, ys = sorted(xs, key=_sort_key), sorted(ys, key=_sort_key)
    fig = make_subplots(rows=1, cols=max(1, len(names)), subplot_titles=names, shared_yaxes=True,
                        horizontal_spacing=0.04)
    lo, hi = (runs.aulc.min(), runs.aulc.max()) if len(runs) else (0.0, 1.0)
    for col, strategy in enumerate(names, start=1):
        g = runs[runs.strategy == strategy]
        best = g.loc[g.groupby([x] + ([y] if y else []), sort=False)["aulc"].idxmax()]
        z = np.full((len(ys), len(xs)), np.nan)
        text = np.full(z.shape, "", dtype=object)
        hover = np.full(z.shape, "", dtype=object)
        for row in best.to_dict("records"):  # not itertuples: it renames columns such as "learner_params.C"
            i, j = ys.index(row[y]) if y else 0, xs.index(row[x])
            z[i, j] = row["aulc"]
            half = (row["aulc_ci_high"] - row["aulc_ci_low"]) / 2
            has_ci = np.isfinite(half)
            text[i, j] = f"{row['aulc']:.3f}<br>±{half:.3f}" if has_ci else f"{row['aulc']:.3f}<br>(1 repeat)"
            ci = f"[{row['aulc_ci_low']:.3f}, {row['aulc_ci_high']:.3f}], width {2 * half:.3f}" if has_ci else "n/a (1 repeat)"
            rest = "".join(f"<br>{o} = {row[o]}" for o in others if o in row)
            hover[i, j] = (f"{strategy}<br>{x} = {row[x]}" + (f"<br>{y} = {row[y]}" if y else "")
                           + f"<br>AULC {row['aulc']:.3f}<br>95% CI {ci}<br>repeats: {row['repeats']}{rest}")
        fig.add_trace(go.Heatmap(
            z=z, x=[str(v) for v in xs], y=[str(v) for v in ys] if y else [""], text=text, texttemplate="%{text}",
            customdata=hover, hovertemplate="%{customdata}<extra></extra>", coloraxis="coloraxis", xgap=2, ygap=2),
            row=1, col=col)
        fig.update_xaxes(title_text=x, type="category", row=1, col=col)
    fig.update_yaxes(title_text=y or "", type="category", row=1, col=1)
    fig.update_layout(
        title=title or (f"AULC of {label.lower()} per strategy (cell: mean ± half the 95% CI over repeats"
                        + ("; best over the other swept options)" if others else ")")),
        coloraxis=dict(colorscale="Viridis", cmin=lo, cmax=hi, colorbar=dict(title="AULC")),
        template="plotly_white", margin=dict(l=60, r=20, t=80, b=50), height=140 + 60 * max(len(ys), 3))
    return fig


_SWEEP_RESULT_COLUMNS = {"point", "repeats", "metric", "final_n_labeled", "aulc", "aulc_ci_low", "aulc_ci_high",
                         "aulc_ci_width", "final", "final_ci_low", "final_ci_high", "gain_vs_random", "complete",
                         "config_key"}


def _sort_key(value):
    return (0, value, "") if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, 0, str(value))
