"""Figure builders from arrays: many-class confusion matrices, titles that say only what is
there, readable report settings, the query map's marks, the sweep heatmap's scales and notes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.present import figures
from core.engine.config import RunConfig
from core.analysis.metrics import curve_table

FRUITS = [f"{kind} {i}" for kind in ("Apple Golden", "Apple Granny Smith", "Banana Lady Finger", "Cherry Wax Yellow",
                                     "Melon Piel de Sapo", "Tomato Cherry Red") for i in range(1, 11)]  # 60 classes


def _panels(n_classes: int, n: int = 3):
    rng = np.random.default_rng(0)
    return [(f"s{i}", rng.integers(0, 5, size=(n_classes, n_classes))) for i in range(n)]


def _heatmap_axes(fig):
    return [(t.xaxis.replace("x", "xaxis"), t.yaxis.replace("y", "yaxis")) for t in fig.data]


def test_many_class_confusion_matrices_get_a_row_each_and_name_every_class():
    fig = figures.confusion_matrices(_panels(60), FRUITS)
    axes = _heatmap_axes(fig)
    x_domains = [tuple(fig.layout[x].domain) for x, _ in axes]
    assert len(set(x_domains)) == 1  # one column: no panel's labels can reach into a neighbour
    y_domains = sorted(tuple(fig.layout[y].domain) for _, y in axes)
    gap_px = (y_domains[1][0] - y_domains[0][1]) * (fig.layout.height - fig.layout.margin.t - fig.layout.margin.b)
    longest_px = 0.62 * 9 * max(len(n) for n in FRUITS)
    assert gap_px > longest_px + 60  # room for the rotated class names, the x title and the next panel's title
    for x, y in axes:
        for axis in (fig.layout[x], fig.layout[y]):
            assert list(axis.tickvals) == FRUITS and list(axis.ticktext) == FRUITS  # every class named, in full
        assert fig.layout[y].title.text == "True class"
    panel_px = (y_domains[0][1] - y_domains[0][0]) * (fig.layout.height - fig.layout.margin.t - fig.layout.margin.b)
    assert panel_px >= 14 * 60 - 1  # a readable row per class
    assert fig.layout.margin.l > longest_px  # the y labels fit left of the plot
    assert "true %{y}<br>predicted %{x}" in fig.data[0].hovertemplate  # hover: full names


def test_few_class_confusion_matrices_sit_side_by_side_with_one_true_class_title():
    names = [f"class {i}" for i in range(10)]
    fig = figures.confusion_matrices(_panels(10), names)
    axes = _heatmap_axes(fig)
    assert len({tuple(fig.layout[x].domain) for x, _ in axes}) == 3
    titles = [fig.layout[y].title.text for _, y in axes]
    assert titles[0] == "True class" and not any(titles[1:])  # no title sits on the previous panel's heatmap
    assert all(fig.layout[y].matches == "y" for _, y in axes[1:])  # shared rows: names on the first panel only


def test_a_long_class_name_is_cut_on_the_axis_and_whole_on_hover():
    names = ["a" * 40] + [f"c{i}" for i in range(19)]
    fig = figures.confusion_matrices(_panels(20, 1), names)
    assert fig.layout.yaxis.ticktext[0] == "a" * 23 + "…"
    assert fig.data[0].y[0] == "a" * 40


def test_titles_name_the_folder_the_learner_settings_budget_and_hybrid_settings(tmp_path):
    config = RunConfig(dataset="folder", data_dir=str(tmp_path / "fruits360"), learner="cnn",
                       learner_params={"epochs": 5, "lr": 0.001}, strategies=("random", "hybrid"), initial=60,
                       batch=20, rounds=4, strategy_params={"hybrid": {"alpha": 0.5, "clusters": 3}}, repeats=3)
    line = figures.settings_line(config, {"random": 3, "hybrid": 1})
    assert line.startswith("folder fruits360 · cnn (epochs=5, lr=0.001) · budget 120 labels (60 initial + 3 × 20)")
    assert "hybrid (alpha 0.5, clusters 3, measure entropy)" in line
    assert line.endswith("3 repeats (hybrid: 1)")  # what is there, not what was asked for
    plain = figures.settings_line(RunConfig(strategies=("random", "entropy"), repeats=1))
    assert plain == "digits · logistic · budget 110 labels (20 initial + 9 × 10) · 1 repeat"  # no alpha without hybrid


def _curves(repeats: dict[str, int]) -> pd.DataFrame:
    rows = [{"strategy": s, "repeat": r, "n_labeled": n, "test_accuracy": 0.5 + 0.01 * n + 0.01 * r}
            for s, count in repeats.items() for r in range(count) for n in (10, 20, 30)]
    return curve_table(pd.DataFrame(rows), "test_accuracy")


def test_learning_curve_title_says_when_there_is_no_band():
    one = figures.learning_curves(_curves({"random": 1, "entropy": 1}), "test_accuracy")
    assert "1 repeat: mean only, no CI band" in one.layout.title.text
    assert "95% CI over" not in one.layout.title.text
    mixed = figures.learning_curves(_curves({"random": 5, "hybrid": 1}), "test_accuracy")
    assert "mean and 95% CI over 5 repeats (hybrid: 1 repeat, no band)" in mixed.layout.title.text.replace("<br>", " ")


def _bands(fig) -> list[str]:
    return [t.name for t in fig.data if t.fill == "toself"]


def test_two_or_three_repeats_draw_the_repeats_not_a_band_that_spans_the_axis():
    """A t interval from 2 repeats is 12.7 standard errors wide and clips at 1.0: no band, the
    repeats themselves as thin lines, and the title says so."""
    rows = pd.DataFrame([{"strategy": s, "repeat": r, "n_labeled": n, "test_accuracy": 0.5 + 0.01 * n + 0.1 * r}
                         for s, count in {"random": 2, "entropy": 5}.items() for r in range(count) for n in (10, 20, 30)])
    curves = curve_table(rows, "test_accuracy")
    fig = figures.learning_curves(curves, "test_accuracy", rounds=rows)
    assert _bands(fig) == ["entropy 95% CI"]
    assert [t.name for t in fig.data if t.name.startswith("random repeat")] == ["random repeat 0", "random repeat 1"]
    title = fig.layout.title.text.replace("<br>", " ")
    assert "mean and 95% CI over 5 repeats (random: 2 repeats, n=2: band not shown, repeats drawn)" in title
    two = figures.learning_curves(curve_table(rows[rows.strategy == "random"], "test_accuracy"), "test_accuracy")
    assert _bands(two) == [] and "mean of 2 repeats, n=2: band not shown" in two.layout.title.text


def test_a_long_title_wraps_and_the_plot_moves_down_to_make_room():
    counts = {s: n for s, n in zip(["random", "entropy", "least_confidence", "smallest_margin", "hybrid"], [5, 4, 2, 1, 1])}
    fig = figures.learning_curves(_curves(counts), "test_accuracy", subtitle="digits · logistic · " + "x " * 120)
    lines = fig.layout.title.text.split("<br>")
    assert len(lines) >= 2 and max(map(len, lines)) <= figures.TITLE_CHARS
    short = figures.learning_curves(_curves({"random": 5}), "test_accuracy", subtitle="digits")
    assert fig.layout.margin.t >= short.layout.margin.t + 24 * (len(lines) - 1) + 16


def test_every_registered_strategy_is_told_apart_by_colour_blind_safe_colour_or_family_marks():
    from core.strategies import STRATEGIES

    styles = {name: figures.strategy_style(name) for name in STRATEGIES.names()}
    assert all(s.color in figures.OKABE_ITO for n, s in styles.items() if n != "random")
    assert styles["random"].color not in figures.OKABE_ITO
    for a in styles:
        for b in styles:
            if a < b and styles[a].color == styles[b].color:  # a shared colour: another family, marker and dash
                assert styles[a].family != styles[b].family, (a, b)
                assert styles[a].symbol != styles[b].symbol and styles[a].dash != styles[b].dash, (a, b)
    assert styles["coreset"].color != styles["entropy"].color and styles["bald"].color != styles["dropquery"].color
    first_seven = ["random", "entropy", "least_confidence", "smallest_margin", "largest_margin", "hybrid", "margin_density"]
    assert len({styles[s].color for s in first_seven}) == 7  # the tutorial's strategies and one more: seven colours
    fig = figures.learning_curves(_curves({"entropy": 1, "coreset": 1}), "test_accuracy")
    lines = {t.name: t for t in fig.data}
    assert lines["coreset"].marker.symbol != lines["entropy"].marker.symbol


def test_report_settings_read_as_a_person_writes_them():
    config = {"Data dir": None, "Learner params": {}, "Strategies": ["random", "entropy"], "Alpha": 0.5,
              "Cuda": False, "Params": {"C": 0.5}}
    page = figures.html_report("r", [], config=config)
    for shown in ("—", "none", "random, entropy", "0.5", "no", "C=0.5"):
        assert f"<td>{shown}</td>" in page
    for python in ("None", "{}", "['random'", "False"):
        assert python not in page


def test_query_map_names_every_class_and_marks_the_initial_set():
    rng = np.random.default_rng(0)
    n = 600
    labels = rng.integers(0, 60, n)
    picks = {"entropy": (np.arange(20, 40), np.repeat([1, 2], 10)), "random": (np.arange(40, 60), np.repeat([1, 2], 10))}
    fig = figures.query_map(rng.normal(size=(n, 2)), labels, FRUITS, picks, initial=np.arange(20))
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert [name for name in legend if name in FRUITS] == FRUITS  # one legend entry per class, 60 of them
    initial = [t for t in fig.data if t.legendgroup == "initial"]
    assert len(initial) == 2 and all(len(t.x) == 20 for t in initial)  # one mark per panel
    assert legend.count("initial labelled set (20)") == 1
    picked = [t for t in fig.data if t.legendgroup == "queried"]
    pool = [t for t in fig.data if t.legendgroup and t.legendgroup.startswith("class") and t.x is not None
            and len(t.x) and t.x[0] is not None]
    assert picked[0].marker.size <= 6 and picked[0].marker.size <= 2 * pool[0].marker.size  # the pool stays visible
    assert fig.layout.legend.orientation == "h" and fig.layout.margin.b > 20 * 60 / 8  # room for the legend


def _sweep_runs() -> pd.DataFrame:
    rows = []
    for alpha in (0.25, 0.5, 1.0):
        for clusters in (1, 2):
            if (alpha, clusters) == (0.25, 2):
                continue  # an invalid point the sweep skipped
            rows.append({"point": 0, "alpha": alpha, "clusters": clusters, "strategy": "random", "repeats": 3,
                         "aulc": 0.70, "aulc_ci_low": 0.69, "aulc_ci_high": 0.71})
            hybrid = 0.80 + 0.05 * alpha + 0.001 * clusters
            half = 0.004
            rows.append({"point": 0, "alpha": alpha, "clusters": clusters, "strategy": "hybrid", "repeats": 3,
                         "aulc": hybrid, "aulc_ci_low": hybrid - half, "aulc_ci_high": hybrid + half})
    return pd.DataFrame(rows)


def test_sweep_heatmap_scales_each_panel_and_says_what_is_not_drawn():
    fig = figures.sweep_heatmap(_sweep_runs(), "alpha", "clusters", skipped=[{"alpha": 0.25, "clusters": 2}])
    panels = [t for t in fig.data if t.coloraxis]
    assert [fig.layout[t.coloraxis].cmin for t in panels] == [pytest.approx(0.8135)]  # the hybrid's own range
    assert fig.layout[panels[0].coloraxis].cmax == pytest.approx(0.852)
    # random repeats one value in every cell: no panel, one note with its value
    assert [a.text for a in fig.layout.annotations] == ["hybrid"]
    assert "Not drawn (alpha and clusters do not change their runs" in fig.layout.title.subtitle.text
    assert "random AULC 0.700 ±0.010" in fig.layout.title.subtitle.text
    marks = [t for t in fig.data if not t.coloraxis]
    assert marks and "skipped" in np.asarray(marks[0].text, dtype=object).ravel().tolist()


def test_sweep_heatmap_marks_cells_within_noise_of_the_best():
    runs = _sweep_runs()
    hybrid = runs.strategy == "hybrid"
    runs.loc[hybrid, "aulc_ci_low"] = runs.loc[hybrid, "aulc"] - 0.015  # wider intervals: 0.5 and 1.0 overlap
    runs.loc[hybrid, "aulc_ci_high"] = runs.loc[hybrid, "aulc"] + 0.015
    fig = figures.sweep_heatmap(runs, "alpha", "clusters", strategies=["hybrid"])
    text = np.asarray(fig.data[0].text, dtype=object)  # rows: clusters 1, 2; columns: alpha 0.25, 0.5, 1.0
    assert text[1, 2].endswith("<b>best</b>")
    assert text[1, 1].endswith("≈ best") and text[0, 2].endswith("≈ best")
    assert not text[0, 0].endswith("best")  # 0.8135 + 0.015 < 0.852 - 0.015: a real difference
    assert "≈ best: 95% CI overlaps the best cell's" in fig.layout.title.subtitle.text


def test_sweep_heatmap_draws_every_strategy_when_none_changes():
    runs = _sweep_runs()
    fig = figures.sweep_heatmap(runs[runs.strategy == "random"], "alpha", "clusters")
    assert [a.text for a in fig.layout.annotations] == ["random (the same for every alpha and clusters)"]
