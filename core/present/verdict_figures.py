"""Plotly figures of the verdict statistics (`core.analysis.verdicts`), shared by the dashboard's Verdict
page and `python -m core report`, in the house style of `core.present.figures`."""

from __future__ import annotations

import math
import textwrap
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.present.figures import METRIC_LABELS, MIN_BAND_REPEATS, add_ci_band, learning_curves, strategy_color, strategy_style
from core.analysis.verdicts import ALPHA, MAX_REPEATS_NEEDED, POWER, PairwiseMatrix, needed_text, paired_power

X_LABELS = "Labelled samples (count, initial set included)"


def _title(text: str, subtitle: str | None) -> dict:
    return dict(text=text, subtitle=dict(text=subtitle or "", font=dict(size=12, color="#555")))


def _top(subtitle: str | None) -> int:
    return 70 + (30 + 16 * subtitle.count("<br>") if subtitle else 0)


def _wrap(text: str, width: int = 140) -> str:
    return "<br>".join(textwrap.wrap(text, width)) or text


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric).split(" (")[0]


def difference_figure(diffs: pd.DataFrame, metric: str, baseline: str, *, title: str | None = None,
                      subtitle: str | None = None) -> go.Figure:
    """Paired difference to `baseline` against labels: one line and 95% CI band per strategy, a zero line.

    `diffs` is `core.analysis.verdicts.difference_table(...)`.
    """
    label = metric_label(metric)
    fig = go.Figure()
    for strategy, g in diffs.groupby("strategy", sort=False):
        g = g.sort_values("n_labeled")
        style = strategy_style(strategy)
        if g["n_repeats"].max() >= MIN_BAND_REPEATS:  # from 2-3 repeats a t band spans most of the axis
            add_ci_band(fig, g, strategy, style.color)
        fig.add_trace(go.Scatter(
            x=g.n_labeled, y=g["mean"], mode="lines+markers", name=strategy, legendgroup=strategy,
            line=dict(color=style.color, width=2, dash=style.dash), marker=dict(size=6, symbol=style.symbol),
            customdata=g[["ci_low", "ci_high", "p_value", "n_repeats"]].to_numpy(),
            hovertemplate=f"{strategy} − {baseline}<br>%{{x}} labels<br>difference: %{{y:+.3f}}"
                          "<br>95% CI [%{customdata[0]:+.3f}, %{customdata[1]:+.3f}]<br>paired t-test p = "
                          "%{customdata[2]:.3f} (uncorrected)<br>repeats: %{customdata[3]}<extra></extra>"))
    if len(diffs):
        fig.add_hline(y=0, line=dict(color=strategy_color(baseline), width=1.5, dash="dash"),
                      annotation_text=f"{baseline} (0)", annotation_position="bottom right")
    repeats = int(diffs["n_repeats"].max()) if len(diffs) else 0
    band = (f"mean and 95% CI over {repeats} paired repeats" if repeats >= MIN_BAND_REPEATS else
            f"mean over {repeats} paired repeats, n={repeats}: band not shown" if repeats >= 2 else "1 repeat: no CI band")
    fig.update_layout(
        title=_title(title or f"{label}: difference to {baseline} at each label count ({band})", subtitle),
        xaxis_title=X_LABELS, yaxis_title=f"{label} − {baseline} (same repeat seed)",
        legend_title_text="Strategy", template="plotly_white", hovermode="closest",
        margin=dict(l=70, r=20, t=_top(subtitle), b=50))
    return fig


def curves_with_ceiling(curves: pd.DataFrame, metric: str, ceiling: dict | None, *, title: str | None = None,
                        subtitle: str | None = None, note: str | None = None,
                        rounds: pd.DataFrame | None = None) -> go.Figure:
    """`core.present.figures.learning_curves` plus the ceiling (`core.analysis.verdicts.ceiling_summary`) as a dashed line."""
    fig = learning_curves(curves, metric, title=title, subtitle=subtitle, rounds=rounds)
    if ceiling is not None and len(curves):
        x = [int(curves.n_labeled.min()), int(curves.n_labeled.max())]
        ci = (f", 95% CI [{ceiling['ci_low']:.3f}, {ceiling['ci_high']:.3f}]" if math.isfinite(ceiling["ci_low"]) else "")
        text = f"all {ceiling['n_labeled']} pool labels: {ceiling['mean']:.3f}{ci}"
        if math.isfinite(ceiling["ci_low"]):
            fig.add_trace(go.Scatter(x=x + x[::-1], y=[ceiling["ci_high"]] * 2 + [ceiling["ci_low"]] * 2, mode="lines",
                                     fill="toself", fillcolor="rgba(0,0,0,0.07)", line=dict(width=0), hoverinfo="skip",
                                     showlegend=False, legendgroup="ceiling", name="ceiling 95% CI"))
        fig.add_trace(go.Scatter(
            x=x, y=[ceiling["mean"]] * 2, mode="lines", name=f"ceiling (all {ceiling['n_labeled']} labels)",
            legendgroup="ceiling", line=dict(color="black", width=1.5, dash="dash"),
            hovertemplate=f"ceiling: the same learner on {text}<extra></extra>"))
    if note:
        fig.add_annotation(text=note, xref="paper", yref="paper", x=0, y=-0.16, showarrow=False, xanchor="left",
                           font=dict(size=11, color="#555"))
        fig.update_layout(margin=dict(b=80))
    return fig


def penalty_heatmap(matrix: PairwiseMatrix, *, title: str | None = None, subtitle: str | None = None) -> go.Figure:
    """Cell (row i, column j): share of the tested units at which i is significantly better than j."""
    names = matrix.strategies
    z = matrix.share.loc[names, names].to_numpy(dtype=float)
    text = np.full(z.shape, "", dtype=object)
    hover = np.full(z.shape, "", dtype=object)
    for a, i in enumerate(names):
        for b, j in enumerate(names):
            if a == b:
                text[a, b] = "—"
                continue
            won, tested = int(matrix.wins.loc[i, j]), int(matrix.tested.loc[i, j])
            text[a, b] = f"{z[a, b]:.2f}<br>({won}/{tested})" if tested else "not tested"
            hover[a, b] = (f"{i} significantly better than {j}<br>at {won} of {tested} {matrix.unit}" if tested
                           else f"{i} vs {j}: no {matrix.unit[:-1]} with 2+ paired repeats")
    fig = go.Figure(go.Heatmap(
        z=z, x=names, y=names, text=text, texttemplate="%{text}", customdata=hover,
        hovertemplate="%{customdata}<extra></extra>", colorscale="Blues", zmin=0, zmax=1, xgap=2, ygap=2,
        colorbar=dict(title=dict(text="share", side="right"), tickformat=".0%", thickness=12)))
    notes = [f"Row beats column: share of {matrix.unit} where the row is significantly better ({matrix.correction})."]
    notes += matrix.notes
    sub = "<br>".join(([subtitle] if subtitle else []) + [_wrap(n) for n in notes])
    size = 120 + 70 * len(names)
    fig.update_layout(
        title=_title(title or f"Pairwise penalty matrix over {matrix.unit}", sub), template="plotly_white",
        xaxis=dict(title="…than this strategy", type="category", side="bottom"),
        yaxis=dict(title="This strategy is better…", type="category", autorange="reversed"),
        height=max(380, size + _top(sub)), margin=dict(l=130, r=40, t=_top(sub) + 10, b=60))
    return fig


def regime_figure(table: pd.DataFrame, metric: str, baseline: str, *, title: str | None = None,
                  subtitle: str | None = None) -> go.Figure:
    """Per budget regime: each strategy's paired AULC gain over `baseline` with its 95% CI (bars), or,
    without the baseline, the regime AULC with its CI."""
    label = metric_label(metric)
    gains = table["gain"].notna().any()
    fig = go.Figure()
    regimes = list(dict.fromkeys(table["regime"]))
    for strategy, g in table.groupby("strategy", sort=False):
        if gains and strategy == baseline:
            continue
        value, low, high = ("gain", "gain_ci_low", "gain_ci_high") if gains else ("aulc", "ci_low", "ci_high")
        g = g.set_index("regime").reindex(regimes)
        err_hi = (g[high] - g[value]).fillna(0).to_numpy()
        err_lo = (g[value] - g[low]).fillna(0).to_numpy()
        fig.add_trace(go.Bar(
            x=regimes, y=g[value], name=strategy, marker_color=strategy_color(strategy),
            error_y=dict(type="data", array=err_hi, arrayminus=err_lo, visible=True, color="#444", thickness=1.2),
            customdata=np.column_stack([g[low], g[high], g["p_value"], g["rank"], g["aulc"]]),
            hovertemplate=f"{strategy}<br>%{{x}}<br>{'gain over ' + baseline if gains else 'AULC'}: %{{y:+.3f}}"
                          "<br>95% CI [%{customdata[0]:+.3f}, %{customdata[1]:+.3f}]"
                          + ("<br>paired t-test p = %{customdata[2]:.3f}" if gains else "")
                          + "<br>AULC %{customdata[4]:.3f}, rank %{customdata[3]}<extra></extra>"))
    if gains:
        fig.add_hline(y=0, line=dict(color=strategy_color(baseline), width=1.5, dash="dash"),
                      annotation_text=f"{baseline} (0)", annotation_position="bottom right")
    what = f"AULC gain over {baseline}" if gains else "AULC"
    fig.update_layout(
        title=_title(title or f"{label}: {what} per budget regime (mean and 95% CI over paired repeats)", subtitle),
        barmode="group", xaxis_title="Budget regime (AULC over that label range, normalised by its width)",
        yaxis_title=f"{what} ({label.lower()})", legend_title_text="Strategy", template="plotly_white",
        margin=dict(l=70, r=20, t=_top(subtitle), b=50))
    return fig


POWER_AXIS_REPEATS = 50  # the power chart's axis ends here (or at 3x the repeats run): past it the curves are flat


def power_figure(table: pd.DataFrame, baseline: str, *, power: float = POWER, alpha: float = ALPHA,
                 cap: int = MAX_REPEATS_NEEDED, title: str | None = None, subtitle: str | None = None) -> go.Figure:
    """Power of the paired t-test against repeats, at each strategy's observed effect size
    (`core.analysis.verdicts.repeats_table`), with the target power and the repeats run so far.

    The axis stops at `POWER_AXIS_REPEATS` (or 3x the repeats run, if more), so one strategy that
    needs hundreds of repeats does not squash the others; it is named with its count in a note.
    """
    fig = go.Figure()
    finite = [r for r in table.itertuples() if isinstance(r.effect_size, float) and math.isfinite(r.effect_size)
              and r.effect_size > 0]
    needed = [r.needed_observed for r in finite if r.needed_observed is not None]
    have = int(table["repeats"].max()) if len(table) else 0
    top = int(min(cap, max([have * 2, 20, *(int(n * 1.3) + 2 for n in needed)])))
    top = min(top, max(POWER_AXIS_REPEATS, 3 * have))
    ns = np.unique(np.round(np.linspace(2, top, min(top - 1, 120))).astype(int))
    for r in finite:
        style = strategy_style(r.strategy)
        fig.add_trace(go.Scatter(
            x=ns, y=[paired_power(int(n), r.effect_size, alpha) for n in ns], mode="lines", name=r.strategy,
            line=dict(color=style.color, width=2, dash=style.dash),
            hovertemplate=f"{r.strategy} (effect size d = {r.effect_size:.2f}, gain {r.gain:+.3f})<br>"
                          "%{x} repeats: power %{y:.0%}<extra></extra>"))
    beyond = [f"{r.strategy} needs {needed_text(r.needed_observed, cap)}" for r in finite
              if r.needed_observed is None or r.needed_observed > top]
    if beyond:
        fig.add_annotation(text=_wrap(f"Beyond the axis ({top} repeats): " + "; ".join(beyond) + ".", 110),
                           xref="paper", yref="paper", x=1, y=0.02, xanchor="right", yanchor="bottom", showarrow=False,
                           align="right", font=dict(size=11, color="#555"), bgcolor="rgba(255,255,255,0.8)")
    fig.add_hline(y=power, line=dict(color="#444", width=1, dash="dot"), annotation_text=f"{power:.0%} power",
                  annotation_position="bottom right" if not beyond else "top left")
    if have:
        fig.add_vline(x=have, line=dict(color="#888", width=1, dash="dash"), annotation_text=f"{have} repeats run",
                      annotation_position="top right")
    fig.update_layout(
        title=_title(title or f"Repeats needed: power to detect each strategy's observed AULC difference to {baseline} "
                              f"(paired t-test, two-sided alpha {alpha:g})", subtitle),
        xaxis=dict(title="Repeats (paired seeds)", range=[0, top + 1]), yaxis=dict(title="Power", tickformat=".0%", range=[0, 1.02]),
        legend_title_text="Strategy", template="plotly_white", margin=dict(l=70, r=20, t=_top(subtitle), b=50))
    return fig
