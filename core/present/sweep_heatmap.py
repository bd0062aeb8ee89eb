"""The sweep heatmap: AULC over one or two swept options, one colour scale per strategy."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.paradigm import RUN_COLUMNS
from core.present.chart_labels import METRIC_LABELS
from core.present.chart_style import _grid, _title, _top_margin

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
    others = [c for c in runs.columns if c not in {x, y, "strategy"} and c not in RUN_COLUMNS]
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




def _sort_key(value):
    return (0, value, "") if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, 0, str(value))
