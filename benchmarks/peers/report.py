"""RESULTS.md and its charts from the measured tables."""

from __future__ import annotations

import math
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.present.figures import strategy_color

LIBRARY_DASH = {"ours": "solid", "modAL": "dash", "skactiveml": "dot"}
GOAL_RATIO = 3.0  # selection: at least 3x the faster peer at 100k and 1M samples


def markdown_table(df: pd.DataFrame, floatfmt: dict[str, str] | None = None) -> str:
    floatfmt = floatfmt or {}

    def cell(col, v):
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "**no**"
        if isinstance(v, (float, np.floating)):
            return "—" if math.isnan(v) else format(v, floatfmt.get(col, ".3g"))
        return str(v)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(c, v) for c, v in zip(df.columns, row)) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    mem = ""
    if Path("/proc/meminfo").exists():
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB memory"
    return {"machine": f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}",
            "python": platform.python_version()}


def versions() -> str:
    out = []
    for dist in ("numpy", "scipy", "scikit-learn", "numba", "modAL-python", "scikit-activeml", "threadpoolctl"):
        try:
            out.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            out.append(f"{dist} (not installed)")
    return ", ".join(out)


def busy(load: str) -> bool:
    """Whether a `load_average()` text says other work ran (1-minute load above 1 on entry)."""
    try:
        return float(load.split("/")[0]) > 1.0
    except ValueError:
        return False


def load_average() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def speed_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per pool size, k and measure: seconds per library and the ratio to the faster peer."""
    wide = rows.pivot_table(index=["n", "k", "measure"], columns="library", values="select_s", sort=False)
    same = rows[rows.library != "ours"].groupby(["n", "k", "measure"], sort=False)["same_as_ours"].all()
    proba = rows.groupby(["n", "k", "measure"], sort=False)["predict_proba_s"].first()
    out = pd.DataFrame({
        "pool": [f"{n:,}" for n, _, _ in wide.index], "k": [k for _, k, _ in wide.index],
        "measure": [m for _, _, m in wide.index],
        "predict_proba ms": proba.to_numpy() * 1e3,
        "ours ms": wide["ours"].to_numpy() * 1e3, "modAL ms": wide["modAL"].to_numpy() * 1e3,
        "skactiveml ms": wide["skactiveml"].to_numpy() * 1e3,
    })
    faster = np.minimum(wide["modAL"].to_numpy(), wide["skactiveml"].to_numpy())
    out["faster peer / ours"] = faster / wide["ours"].to_numpy()
    out["goal (3x at >=100k)"] = [("met" if r >= GOAL_RATIO else "**missed**") if n >= 100_000 else "—"
                                  for r, (n, _, _) in zip(out["faster peer / ours"], wide.index)]
    out["same picks"] = same.to_numpy()
    return out


def loop_table(rows: pd.DataFrame) -> pd.DataFrame:
    wide = rows.pivot_table(index="strategy", columns="library", values="loop_s", sort=False)
    out = pd.DataFrame({"strategy": wide.index, "ours s": wide["ours"].to_numpy(), "modAL s": wide["modAL"].to_numpy(),
                        "skactiveml s": wide["skactiveml"].to_numpy()})
    out["faster peer / ours"] = np.minimum(out["modAL s"], out["skactiveml s"]) / out["ours s"]
    out["goal (no slower)"] = ["met" if r >= 1.0 else "**missed**" for r in out["faster peer / ours"]]
    return out


def own_table(rows: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"strategy": rows.strategy, "pool": [f"{n:,}" for n in rows.n], "k": rows.k,
                        "reference": rows.reference, "ours ms": rows.ours_s * 1e3,
                        "reference ms": rows.reference_s * 1e3})
    out["speed-up"] = rows.reference_s / rows.ours_s
    out["same picks"] = rows.same.to_numpy()
    if "ours_default_threads_s" in rows:
        out["ours ms, default threads"] = rows.ours_default_threads_s * 1e3
    return out


def speed_figure(table: pd.DataFrame) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"k = {k}" for k in sorted(table.k.unique())], shared_yaxes=True)
    for col, k in enumerate(sorted(table.k.unique()), start=1):
        t = table[table.k == k]
        for measure, g in t.groupby("measure", sort=False):
            fig.add_trace(go.Bar(x=g.pool, y=g["faster peer / ours"], name=measure, legendgroup=measure,
                                 showlegend=col == 1, marker_color=strategy_color(measure),
                                 text=[f"{v:.1f}x" for v in g["faster peer / ours"]], textposition="outside"),
                          row=1, col=col)
        fig.add_hline(y=GOAL_RATIO, line_dash="dash", line_color="black", row=1, col=col,
                      annotation_text="goal 3x" if col == 1 else None)
        fig.add_hline(y=1.0, line_color="grey", row=1, col=col)
    fig.update_yaxes(type="log", title_text="faster peer's time / our time (x, log scale)", row=1, col=1)
    fig.update_xaxes(title_text="pool size (samples)")
    fig.update_layout(title="Selection speed-up over the faster of modAL and scikit-activeml (median of runs)",
                      template="plotly_white", barmode="group", width=1100, height=480, legend_title_text="measure")
    return fig


LIBRARY_COLOR = {"ours": "#1f77b4", "modAL": "#000000", "skactiveml": "#d62728"}


def curves_figure(curves: pd.DataFrame, learner: str, strategies: tuple[str, ...]) -> go.Figure:
    """One panel per strategy; colour and dash name the library, so one legend entry each."""
    cols = 3
    nrows = math.ceil(len(strategies) / cols)
    fig = make_subplots(rows=nrows, cols=cols, subplot_titles=list(strategies), shared_yaxes=True,
                        horizontal_spacing=0.04, vertical_spacing=0.16)
    in_legend: set[str] = set()
    for i, strategy in enumerate(strategies):
        r, c = divmod(i, cols)
        for library, g in curves[curves.strategy == strategy].groupby("library", sort=False):
            g = g.sort_values("n_labeled")
            fig.add_trace(go.Scatter(x=list(g.n_labeled) + list(g.n_labeled[::-1]),
                                     y=list(g.ci_high) + list(g.ci_low[::-1]), fill="toself", line=dict(width=0),
                                     fillcolor="rgba(120,120,120,0.12)", hoverinfo="skip", showlegend=False),
                          row=r + 1, col=c + 1)
            fig.add_trace(go.Scatter(x=g.n_labeled, y=g["mean"], mode="lines", name=library, legendgroup=library,
                                     showlegend=library not in in_legend,
                                     line=dict(color=LIBRARY_COLOR[library], dash=LIBRARY_DASH[library], width=2)),
                          row=r + 1, col=c + 1)
            in_legend.add(library)
    fig.update_xaxes(title_text="labelled samples (count)", row=nrows)
    fig.update_yaxes(title_text="test accuracy (fraction)", col=1)
    fig.update_layout(title=f"digits, {learner}: test accuracy vs labels, mean and 95% CI band over repeats",
                      template="plotly_white", width=1200, height=60 + 330 * nrows, legend_title_text="library",
                      legend=dict(traceorder="normal"))
    return fig


def save_figure(fig: go.Figure, path_png: Path) -> str:
    """PNG when kaleido finds a browser, else self-contained HTML; returns the file name written."""
    try:
        fig.write_image(path_png, scale=1)
        return path_png.name
    except (RuntimeError, ValueError, OSError) as exc:  # kaleido without Chrome/Chromium
        html = path_png.with_suffix(".html")
        fig.write_html(html, include_plotlyjs=True)
        print(f"PNG export failed ({exc.__class__.__name__}); wrote {html.name}")
        return html.name
