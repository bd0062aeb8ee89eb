"""Plotly figure builders shared by the dashboard, its export and the CLI."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

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
                x=list(band.n_labeled) + list(band.n_labeled[::-1]), y=list(band.ci_high) + list(band.ci_low[::-1]),
                fill="toself", fillcolor=_rgba(color, 0.18), line=dict(width=0), hoverinfo="skip",
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
