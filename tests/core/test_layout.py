"""Modules hold one concern each, and the names other code imported before a split still import
(issue 19, "the house after it")."""

from __future__ import annotations

import inspect

import pytest

import core.present.figures
import core.analysis.verdicts


@pytest.mark.parametrize("module, names", [
    ("core.present.chart_labels", ["METRIC_LABELS", "dataset_label", "learner_label", "budget_label", "strategy_label",
                           "strategies_settings", "settings_line", "band_label", "format_setting"]),
    ("core.present.chart_style", ["strategy_color", "strategy_style", "class_colors", "OKABE_ITO"]),
    ("core.present.image_export", ["ExportUnavailable", "browser_available", "figure_image", "figure_html"]),
    ("core.present.html_report", ["html_report"]),
    ("core.present.sweep_heatmap", ["sweep_heatmap"]),
])
def test_figures_still_exports_what_moved_out_of_it(module, names):
    import importlib

    moved = importlib.import_module(module)
    for name in names:
        assert getattr(core.present.figures, name) is getattr(moved, name), name


@pytest.mark.parametrize("module, names", [
    ("core.analysis.paired_tests", ["ALPHA", "POWER", "CORRECTION", "MAX_REPEATS_NEEDED", "paired_t", "holm", "paired_power",
                           "repeats_needed", "kendall_stability"]),
    ("core.analysis.ceiling", ["ceiling", "cached_ceiling", "ceiling_summary", "ceiling_is_cheap", "ceiling_key"]),
])
def test_verdicts_still_exports_what_moved_out_of_it(module, names):
    import importlib

    moved = importlib.import_module(module)
    for name in names:
        assert getattr(core.analysis.verdicts, name) is getattr(moved, name), name


def test_plots_and_verdict_tables_no_longer_mix_in_other_concerns():
    figures, verdicts = inspect.getsource(core.present.figures), inspect.getsource(core.analysis.verdicts)
    assert "os.environ" not in figures and "to_image" not in figures and "<html" not in figures
    assert "def sweep_heatmap" not in figures
    assert "make_learner" not in verdicts and "ceilings" not in verdicts and "scipy" not in verdicts.split('"""', 2)[2]
