"""The dashboard's figures of a cached comparison: titles that count what is there, the query
map's labelled picks, whole class names and readable scores, and an Export that follows the pages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.engine.cache import Cache
from core.datasets import load_dataset
from core.analysis.projection import pca_2d, pixel_features
from core.engine.runner import load_comparison
from dashboard.components import charts
from dashboard.components.results import View
from tests.dashboard.conftest import SMALL, SMALL_STATE

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def _view(root, *, cancelled=(), class_names=None) -> View:
    """SMALL as the pages see it; `cancelled` runs hold no round (a cancel stopped before them)."""
    dataset = load_dataset("digits")
    if class_names is not None:
        dataset = dataclasses.replace(dataset, class_names=tuple(class_names))
    comparison = load_comparison(SMALL, Cache(root), dataset)
    for key in cancelled:
        comparison.runs[key] = []
    done = {key: len(records) for key, records in comparison.runs.items()}
    return View(SMALL, dataset, comparison, comparison.frame(), done)


def _app(root, page: str, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["cache_dir"] = str(root)
    for key, value in {**SMALL_STATE, **state}.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(f"app_pages/{page}").run()
    return at


def test_learning_curve_title_counts_the_repeats_each_strategy_has(small_cache):
    fig = charts.learning_curves(_view(small_cache, cancelled=[("hybrid", 1)]), "test_accuracy")
    assert fig.layout.title.text.replace("<br>", " ") == (
        "Test accuracy vs labels (mean of 2 repeats, n=2: band not shown, repeats drawn (hybrid: 1 repeat, no band))")
    assert fig.layout.title.subtitle.text == ("digits · logistic · budget 40 labels (20 initial + 2 × 10) · "
                                              "hybrid (alpha 0.5, clusters 5, measure entropy) · pool of 300 · 2 repeats (hybrid: 1)")


def test_report_settings_name_every_strategy_with_parameters(small_cache):
    rows = charts.settings_table(_view(small_cache))
    assert rows["Strategy settings"] == "hybrid (alpha 0.5, clusters 5, measure entropy)"
    assert not any(key.lower() == "hybrid" for key in rows)


def test_confusion_panels_count_the_repeats_summed(small_cache):
    fig = charts.confusion(_view(small_cache, cancelled=[("hybrid", 1)]), 2, charts.ALL_REPEATS, False)
    assert [a.text for a in fig.layout.annotations] == ["random · 30 labels · 2 repeats", "entropy · 30 labels · 2 repeats",
                                                        "hybrid · 30 labels · 1 repeat"]


def test_query_map_draws_the_labelled_picks_and_the_initial_set_only(small_cache):
    view = _view(small_cache)
    pool = view.pool(0).pool
    coords = pca_2d(pixel_features(view.dataset))
    records = view.results("entropy", 0)
    fig = charts.query_map(view, coords, "PCA", "raw pixels", ["entropy"], 0, 3)
    (picked,) = [t for t in fig.data if t.legendgroup == "queried"]
    labelled_later = np.setdiff1d(records[-1].labeled, records[0].labeled)
    assert sorted(picked.customdata[:, 0].astype(int)) == sorted(pool[labelled_later])
    assert not set(pool[records[-1].queried]) & set(picked.customdata[:, 0].astype(int))  # never labelled: not drawn
    assert sorted(set(picked.customdata[:, 2].astype(int))) == [1, 2]
    (initial,) = [t for t in fig.data if t.legendgroup == "initial"]
    assert sorted(initial.customdata[:, 0].astype(int)) == sorted(pool[records[0].labeled])
    assert "picks of rounds 1-2" in fig.layout.title.text


def test_uncertain_images_keep_class_names_whole_and_tiny_scores_readable(small_cache):
    names = [f"Apple Golden {i}" if i < 5 else f"Tomato Cherry Red {i}" for i in range(10)]
    view = _view(small_cache, class_names=names)
    most, least = charts.uncertain_images(view, "entropy", 0, 3, 16)
    record = view.results("entropy", 0)[2]
    scores = np.sort(record.scores[np.isfinite(record.scores)])[:16]
    captions = [a.text for a in least.layout.annotations][: len(scores)]
    shown = [float(c.split("<br>")[0].split()[0]) for c in captions]
    assert shown == pytest.approx(list(scores), rel=5e-3, abs=1e-12)  # three significant digits, not 0.000
    for caption in captions + [a.text for a in most.layout.annotations][:16]:
        plain = caption.replace("<br>", " ")
        assert "…" not in plain and any(f"true {n}" in plain for n in names)  # "Apple Golden 3", never "Apple Golden…"
    assert all("true Apple Golden" in t.hovertemplate or "true Tomato" in t.hovertemplate for t in least.data)
    assert charts.score_text(1.234e-5) == "1.23e-05" and charts.score_text(-1e-9) == "0"


def test_export_settings_are_what_the_pages_show(small_cache):
    view = _view(small_cache)
    state = {"compare_metric": "macro_f1", "compare_target": 0.8, "confusion_round": 1, "confusion_round_max": 3,
             "confusion_repeat": 0, "confusion_normalize": True, "confusion_strategies": ["entropy"],
             "map_strategies": ["hybrid"], "map_round": 1, "map_round_max": 2, "map_repeat": 1,
             "uncertain_strategy": "hybrid", "uncertain_round": 2, "uncertain_round_max": 3, "uncertain_count": 8}
    shown = charts.shown_settings(view, state)
    assert shown["compare"].settings == {"metric": "macro_f1", "target": 0.8}
    assert shown["confusion"].settings == {"round": 1, "repeat": 0, "normalize": True, "strategies": ["entropy"]}
    assert shown["map"]["round"] == 1 and shown["map"]["repeat"] == 1 and shown["map"]["strategies"] == ["hybrid"]
    assert (shown["uncertain"]["strategy"], shown["uncertain"]["round"], shown["uncertain"]["count"]) == ("hybrid", 2, 8)
    assert charts.describe(shown["confusion"], view) == {"Round": "1", "Repeat": "0", "Show": "row-normalised",
                                                          "Strategies": "entropy"}
    defaults = charts.shown_settings(view, {"confusion_round": 2, "confusion_round_max": 2})  # it followed the newest
    assert defaults["confusion"]["round"] == 3 and defaults["uncertain"]["strategy"] == "entropy"


def test_uncertain_page_opens_on_an_uncertainty_strategy(small_cache):
    at = _app(small_cache, "uncertain.py")
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="uncertain_strategy").value == "entropy"  # not random, which scores nothing it uses


def test_export_follows_the_confusion_page_settings(small_cache):
    at = _app(small_cache, "confusion.py")
    at.slider(key="confusion_round").set_value(1).run()
    at.radio(key="confusion_normalize").set_value(True).run()
    at.switch_page("app_pages/export.py").run()  # a page change drops the Confusion page's widget values
    for _ in range(2):  # the first run on the new page, and a later one
        assert not at.exception, [e.value for e in at.exception]
        captions = [c.value for c in at.caption]
        assert "Confusion matrices: Round 1 · Repeat all (summed) · Show row-normalised · Strategies random, entropy, " \
               "hybrid" in captions, captions
        assert any(c.startswith("Uncertain images: Strategy entropy") for c in captions)
        at.run()


def test_the_export_report_has_the_verdict_sentence_and_charts_as_the_verdict_page_shows_them(small_cache):
    from core.present import figures
    from core.analysis import verdicts

    view = _view(small_cache)
    shown = charts.shown_settings(view, {"verdict_baseline": "entropy", "verdict_metric": "macro_f1"})["verdict"]
    assert charts.describe(shown, view) == {"Metric": "macro-F1", "Baseline": "entropy",
                                             "Budget regime cut points": "thirds"}
    sentence, verdict_charts = charts.verdict_section(view, shown, str(small_cache))
    assert sentence == verdicts.verdict(view.rounds, "test_macro_f1", "entropy").sentence
    slugs = [slug for _, slug, _ in verdict_charts]
    assert slugs == ["verdict_difference", "verdict_curves", "verdict_matrix", "verdict_regimes", "verdict_power"]
    assert "difference to entropy" in verdict_charts[0][2].layout.title.text
    page = figures.html_report("r", [(t, f) for t, _, f in verdict_charts], config={},
                               paragraphs=[("Verdict (against entropy)", sentence)])
    assert "<h2>Verdict (against entropy)</h2>" in page and sentence.split(":")[0] in page


def test_export_page_offers_the_verdict_charts(small_cache):
    at = _app(small_cache, "export.py")
    assert not at.exception, [e.value for e in at.exception]
    titles = [m.value for m in at.markdown]
    assert "**Verdict: Pairwise penalty matrix**" in titles and "**Verdict: Difference to random**" in titles
    assert any(c.value.startswith("Verdict: Metric accuracy · Baseline random") for c in at.caption)
