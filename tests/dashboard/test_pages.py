"""Every page through streamlit's AppTest, against a small cached comparison."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.engine.cache import Cache
from tests.dashboard.conftest import SMALL, choose_run, start_app, wkey

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
CHARTS = {"compare.py": 1, "confusion.py": 1, "query_map.py": 1, "uncertain.py": 2, "runs.py": 0, "export.py": 0}


def _app(cache_root, page: str | None = None, **settings) -> AppTest:
    at = start_app(APP, cache_root, **settings)
    if page is not None:
        at.switch_page(f"app_pages/{page}")
        at.run()
    return at


def _budget(at: AppTest):
    """The budget slider (its key follows its bounds)."""
    return next(s for s in at.sidebar.slider if s.label.startswith("Budget"))


def _no_problems(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _text(element) -> str:
    """A shown message as the reader sees it (widgets.plain escapes Markdown with backslashes)."""
    return _text_of(element.value)


def _spec(at: AppTest) -> str:
    """The first chart's plotly JSON, its wrapped titles joined (a line break is an escaped <br>)."""
    return at.get("plotly_chart")[0].proto.spec.replace("\\u003cbr\\u003e", " ")


def _text_of(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value.replace("  \n", "\n"))


@pytest.mark.parametrize("page", sorted(CHARTS))
def test_page_renders_the_cached_comparison(small_cache, page):
    at = _app(small_cache, page)
    _no_problems(at)
    assert at.session_state["config"].key() == SMALL.key()  # SMALL states hybrid's defaults, the sidebar leaves them out
    assert len(at.get("plotly_chart")) == CHARTS[page]
    assert _budget(at).value == 40
    assert at.slider(key="sidebar_sp_hybrid_alpha").value == 0.5


def test_budget_and_alpha_sliders_change_the_config(small_cache):
    at = _app(small_cache)
    _budget(at).set_value(70).run()
    assert at.session_state["config"].rounds == 6 and at.session_state["config"].budget == 70
    at.slider(key="sidebar_sp_hybrid_alpha").set_value(0.8).run()
    _no_problems(at)
    assert at.session_state["config"].strategy_params == {"hybrid": {"alpha": 0.8}}  # only what differs from the default
    assert at.session_state["config"].params_for("hybrid") == {"alpha": 0.8, "clusters": 5, "measure": "entropy"}
    # random and entropy runs extend (their first 3 rounds are reused); hybrid's alpha changed: nothing yet
    assert any("Partly cached" in m.value for m in at.markdown)
    assert not at.button(key="sidebar_run").disabled


def test_budget_snaps_to_the_batch_grid_when_the_batch_changes(small_cache):
    at = _app(small_cache)
    at.number_input(key="sidebar_batch").set_value(15).run()
    _no_problems(at)
    config = at.session_state["config"]
    assert (config.budget - config.initial) % 15 == 0 and config.batch == 15


def _after(at: AppTest, key: str):
    """The sidebar element drawn right after the widget `key` (its error slot)."""
    nodes = list(at.sidebar)
    return nodes[next(i for i, n in enumerate(nodes) if getattr(n, "key", None) == key) + 1]


def test_an_invalid_combination_is_explained_before_anything_runs(small_cache):
    at = _app(small_cache)
    at.number_input(key="sidebar_sp_hybrid_clusters").set_value(9).run()  # more clusters than round(0.5 * 10) = 5
    assert at.session_state["config"] is None
    (error,) = at.sidebar.error
    assert _text(error).startswith("hybrid.clusters must be between 1 and")
    assert _after(at, "sidebar_sp_hybrid_clusters") == error  # under the clusters widget, by the error's option
    assert at.button(key="sidebar_run").disabled
    assert any("Fix the settings" in i.value for i in at.info)


def test_a_cached_config_shows_without_running(small_cache):
    at = _app(small_cache)
    assert at.button(key="sidebar_run").disabled  # every round is cached: nothing to run
    assert any("All 3 rounds" in c.value for c in at.sidebar.caption)


def test_compare_metric_picker_switches_to_macro_f1(small_cache):
    at = _app(small_cache)
    at.radio(key="compare_metric").set_value("macro_f1").run()
    _no_problems(at)
    chart = at.get("plotly_chart")[0].proto.spec
    assert "macro-F1" in chart


def test_confusion_round_slider_and_normalisation(small_cache):
    at = _app(small_cache, "confusion.py")
    assert at.slider(key="confusion_round").value == 3
    at.slider(key="confusion_round").set_value(1).run()
    at.radio(key="confusion_normalize").set_value(True).run()
    _no_problems(at)
    assert "round 1" in at.get("plotly_chart")[0].proto.spec


def test_runs_page_opens_a_run_into_the_sidebar(small_cache):
    at = _app(small_cache, "runs.py", budget=70)
    assert at.session_state["config"].budget == 70
    choose_run(at)
    at.button(key="runs_open").click().run()
    _no_problems(at)
    assert at.session_state["config"].key() == SMALL.key()


def test_learner_settings_widgets_feed_the_config_and_explain_bad_values(small_cache):
    at = _app(small_cache)
    c_field = at.number_input(key="sidebar_lp_logistic_C")
    assert (c_field.value, c_field.label, c_field.proto.min) == (1.0, "C", 0.0)
    assert "Inverse regularisation strength" in _text_of(c_field.help) and "a number > 0" in _text_of(c_field.help)
    assert at.number_input(key="sidebar_lp_logistic_max_iter").proto.max == 100_000  # the declared at_most
    c_field.set_value(0.5).run()
    _no_problems(at)
    assert at.session_state["config"].learner_params == {"C": 0.5}
    assert any(_text(c) == "Changed: C=0.5" for c in at.sidebar.caption)  # readable with the expander closed
    at.number_input(key="sidebar_lp_logistic_C").set_value(1.0).run()  # back to the default: not stated
    assert at.session_state["config"].learner_params == {}
    at.number_input(key="sidebar_lp_logistic_C").set_value(0.0).run()  # the widget's lowest value, still refused
    assert at.session_state["config"] is None
    (error,) = at.sidebar.error
    assert _text(error) == "learner_params.C must be a number > 0; got 0.0"
    nodes = list(at.sidebar)
    assert nodes.index(error) < next(i for i, n in enumerate(nodes) if getattr(n, "key", None) == "sidebar_strategies")
    assert at.sidebar.button(key="sidebar_run").disabled


def test_each_learner_shows_its_own_declared_settings(small_cache):
    at = _app(small_cache, learner="label_spreading")
    _no_problems(at)
    keys = [n.key for n in at.sidebar if (getattr(n, "key", None) or "").startswith("sidebar_lp_")]
    assert keys == [f"sidebar_lp_label_spreading_{p}" for p in ("gamma", "max_iter", "kernel", "n_neighbors", "alpha")]
    assert at.selectbox(key="sidebar_lp_label_spreading_kernel").options == ["knn", "rbf"]
    alpha = at.slider(key="sidebar_lp_label_spreading_alpha")  # (0, 1): both ends nudged in by the step
    assert (alpha.min, alpha.max, alpha.step, alpha.value) == (0.05, 0.95, 0.05, 0.2)
    at.selectbox(key="sidebar_lp_label_spreading_kernel").set_value("knn").run()
    assert at.session_state["config"].learner_params == {"kernel": "knn"}


def test_runs_page_names_each_skipped_comparison_record(tmp_path, small_cache):
    """Issue 20.15: malformed comparison records were left out of the list without a word."""
    import shutil

    root = tmp_path / "cache"
    shutil.copytree(small_cache, root)
    bad = [root / "comparisons" / f"{c * 16}.json" for c in "ab"]
    bad[0].write_text("{not json")
    bad[1].write_text('{"config": 3}')
    at = _app(root, "runs.py")
    skipped = [w.value for w in at.warning if "Skipped comparison record" in w.value]
    assert len(skipped) == 2 and all(any(p.stem in text for text in skipped) for p in bad), skipped
    assert at.selectbox  # the readable comparison is still listed


def test_runs_page_deletes_only_after_confirmation(tmp_path, small_cache):
    import shutil

    root = tmp_path / "cache"
    shutil.copytree(small_cache, root)
    at = _app(root, "runs.py")
    assert at.button(key="runs_delete").disabled
    at.checkbox(key="runs_confirm").check().run()
    at.button(key="runs_delete").click().run()
    _no_problems(at)
    assert Cache(root).comparisons() == []


def test_export_offers_every_chart_and_the_tables(small_cache):
    at = _app(small_cache, "export.py")
    keys = {b.proto.id for b in at.get("download_button")}
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"rounds.csv", "summary.csv", "report.html"} <= set(labels)
    assert labels.count("HTML") == 10 and len(keys) == len(labels)  # 5 page charts, 5 Verdict charts


@pytest.fixture(scope="module")
def cnn_cache(tmp_path_factory):
    """A small CNN comparison (its weights stored per round) and a stand-in pixel UMAP.

    Tiny learner parameters: opening the run from the Runs page must carry them into the
    sidebar's learner settings, or the page would find nothing cached.
    """
    from core.engine.config import RunConfig
    from core.analysis.projection import ProjectionStore, pca_2d, pixel_features
    from core.engine.runner import run_comparison

    root = tmp_path_factory.mktemp("dashboard_cnn") / "cache"
    config = RunConfig(dataset="digits", learner="cnn", strategies=("entropy",), initial=20, batch=10,
                       rounds=2, repeats=1, subset=200,
                       learner_params={"epochs": 1, "min_steps": 5, "channels": "4,8,8", "hidden": 16})
    dataset = run_comparison(config, cache=Cache(root)).dataset
    ProjectionStore(root).save(dataset.fingerprint, "pixels", "umap", pca_2d(pixel_features(dataset)), 0.0)
    return root


def test_query_map_offers_and_draws_the_cnn_feature_space(cnn_cache, monkeypatch):
    from dashboard.components import maps

    started = []
    monkeypatch.setattr(maps.jobs, "start", lambda root, job_id, command, **kw: started.append(command))
    at = _app(cnn_cache, "runs.py")
    choose_run(at)
    at.button(key="runs_open").click().run()
    at.switch_page("app_pages/query_map.py").run()
    _no_problems(at)
    assert at.session_state["config"].learner == "cnn"
    assert at.session_state["config"].learner_params == {"epochs": 1, "min_steps": 5, "channels": "4,8,8", "hidden": 16}
    assert at.text_input(key=wkey(at, "lp_cnn_channels")).value == "4,8,8"
    assert (at.number_input(key=wkey(at, "lp_cnn_epochs")).value, at.number_input(key=wkey(at, "lp_cnn_lr")).value) == (1, 0.001)
    space = at.selectbox(key="map_space")
    assert space.options == ["Raw pixels", "CNN features of the entropy run"]
    assert space.value == "Raw pixels" and started == []  # the pixel map is stored: nothing to compute
    space.set_value("CNN features of the entropy run").run()
    _no_problems(at)
    assert at.selectbox(key="map_feature_round").options == ["1", "2"]
    assert at.selectbox(key="map_feature_round").value == 2
    chart = _spec(at)
    assert "CNN features, round 2 (entropy run)" in chart and "PCA 2 of CNN features, round 2" in chart
    assert any("CNN features, round 2" in c.value for c in at.caption)
    (command,) = started  # one background UMAP, reading the cached features of that round
    assert command[command.index("--features") + 1].endswith("features_0001.npz")
    at.selectbox(key="map_feature_round").set_value(1).run()
    _no_problems(at)
    assert "CNN features, round 1 (entropy run)" in _spec(at)


@pytest.fixture(scope="module")
def pretrained_cache(tmp_path_factory):
    """A small pretrained-backbone comparison (random-init resnet18: no ImageNet weights offline)."""
    from core.engine.config import RunConfig
    from core.analysis.projection import ProjectionStore, pca_2d, pixel_features
    from core.engine.runner import run_comparison

    root = tmp_path_factory.mktemp("dashboard_pretrained") / "cache"
    config = RunConfig(dataset="digits", learner="pretrained", strategies=("entropy",), initial=20, batch=10,
                       rounds=2, repeats=1, subset=200, learner_params={"weights": "none", "input_size": 32})
    dataset = run_comparison(config, cache=Cache(root)).dataset
    ProjectionStore(root).save(dataset.fingerprint, "pixels", "umap", pca_2d(pixel_features(dataset)), 0.0)
    return root


@pytest.mark.slow
def test_query_map_offers_the_backbone_features_and_titles_say_random_init(pretrained_cache, monkeypatch):
    from dashboard.components import maps

    started = []
    monkeypatch.setattr(maps.jobs, "start", lambda root, job_id, command, **kw: started.append(command))
    at = _app(pretrained_cache, "runs.py")
    choose_run(at)
    at.button(key="runs_open").click().run()
    at.switch_page("app_pages/query_map.py").run()
    _no_problems(at)
    assert at.session_state["config"].learner == "pretrained"
    label = "Backbone features: pretrained (backbone=resnet18, input_size=32, weights=none (random init))"
    space = at.selectbox(key="map_space")
    assert space.options == ["Raw pixels", label]
    space.set_value(label).run()
    _no_problems(at)
    assert not [s for s in at.selectbox if s.key == "map_feature_round"]  # the same features every round
    assert "weights=none (random init)" in _spec(at)
    (command,) = started  # one background UMAP, reading the feature store's file
    assert command[command.index("--features") + 1].endswith("features.npy")


def test_a_relative_data_directory_is_loaded_once(tmp_path, monkeypatch, small_cache):
    import numpy as np
    from PIL import Image

    from dashboard.components import results

    for c, colour in (("red", (200, 0, 0)), ("blue", (0, 0, 200))):
        (tmp_path / "photos" / c).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(np.full((8, 8, 3), colour, np.uint8)).save(tmp_path / "photos" / c / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "dataset-cache"))
    loads = []
    real = results.load_dataset
    monkeypatch.setattr(results, "load_dataset", lambda name, **options: loads.append(options) or real(name, **options))
    results.dataset.clear()
    at = _app(small_cache, dataset="folder", data_dir="photos", initial=2, batch=2,
              budget=6, strategies=["random"], repeats=1, subset=0)
    _no_problems(at)
    assert at.session_state["config"].data_dir == str(tmp_path / "photos")
    assert loads == [{"data_dir": str(tmp_path / "photos")}]  # the sidebar's and the config's copy are one


# --------------------------------------------------------------------------- issue 9

def test_budget_caption_counts_the_batches_after_the_initial_set(small_cache):
    at = _app(small_cache)  # budget 40 = 20 + 2 x 10: 3 rounds, as the config says
    assert at.session_state["config"].rounds == 3
    assert any(c.value.startswith("20 initial + 2 batches of 10 = 40 labels · 3 rounds") for c in at.sidebar.caption)
    from dashboard.components.sidebar import budget_caption

    assert budget_caption(20, 10, 10).startswith("20 initial + 9 batches of 10 = 110 labels · 10 rounds")
    assert budget_caption(20, 10, 2).startswith("20 initial + 1 batch of 10 = 30 labels · 2 rounds")


def test_engine_messages_are_shown_as_plain_text(small_cache):
    at = _app(small_cache)
    at.number_input(key="sidebar_sp_hybrid_clusters").set_value(9).run()  # more clusters than round(0.5 * 10) = 5
    (error,) = at.sidebar.error
    assert "alpha\\*batch" in error.value and "*" not in error.value.replace("\\*", "")  # no italics
    assert _text(error).startswith("hybrid.clusters must be between 1 and round(alpha*batch) = round(0.5*10) = 5")
    from dashboard.components.widgets import plain

    raw = "round(alpha*batch) = round(0.3*10) = 3; see `x` [a](b) $y$ :red[z] <b>\n1. _u_ ~v~ #w"
    escaped = plain(raw)
    assert re.search(r"(?<!\\)[*_`\[\]$<>~#:]", escaped) is None  # every Markdown, LaTeX or directive char escaped
    assert re.sub(r"\\(.)", r"\1", escaped.replace("  \n", "\n")) == raw


def test_compare_target_and_metric_survive_runs_without_results_and_other_pages(small_cache):
    at = _app(small_cache)
    at.number_input(key="compare_target").set_value(0.8).run()
    at.radio(key="compare_metric").set_value("macro_f1").run()
    # Two runs without the Compare widgets (nothing cached for seed 5), then back.
    at.number_input(key="sidebar_seed").set_value(5).run()
    assert any("Nothing cached" in i.value for i in at.info)
    at.number_input(key="sidebar_repeats").set_value(3).run()
    at.number_input(key="sidebar_repeats").set_value(2).run()
    at.number_input(key="sidebar_seed").set_value(0).run()
    _no_problems(at)
    target = at.number_input(key="compare_target")
    assert target.value == 0.8
    assert target.proto.set_value and target.proto.value == 0.8  # the browser is told, not left at its default 0.00
    assert at.radio(key="compare_metric").value == "macro_f1"
    summary = at.dataframe[0].value
    reach = next(c for c in summary.columns if "reach" in c.lower())
    assert not any(str(v).startswith("20 ") for v in summary[reach])  # target 0 would be met by the initial 20
    # Other pages: Export reads the target from session state; the widgets come back as they were.
    at.switch_page("app_pages/runs.py").run()
    at.run()
    assert at.session_state["compare_target"] == 0.8
    at.switch_page("app_pages/export.py").run()
    _no_problems(at)
    assert at.session_state["compare_target"] == 0.8
    at.switch_page("app_pages/compare.py").run()
    _no_problems(at)
    assert at.number_input(key="compare_target").value == 0.8
    assert at.radio(key="compare_metric").value == "macro_f1"


def test_round_slider_keeps_the_chosen_round_across_pages(small_cache):
    at = _app(small_cache, "confusion.py")
    at.slider(key="confusion_round").set_value(2).run()
    at.switch_page("app_pages/compare.py").run()
    at.run()
    at.switch_page("app_pages/confusion.py").run()
    _no_problems(at)
    assert at.slider(key="confusion_round").value == 2
    assert "round 2" in at.get("plotly_chart")[0].proto.spec


@pytest.fixture(scope="module")
def varied_cache(tmp_path_factory, small_cache):
    """SMALL and two comparisons that differ from it only in a learner setting or hybrid's alpha."""
    import dataclasses
    import shutil

    from core.engine.runner import run_comparison

    root = tmp_path_factory.mktemp("varied") / "cache"
    shutil.copytree(small_cache, root)
    run_comparison(dataclasses.replace(SMALL, learner_params={"C": 0.5}), cache=Cache(root))
    run_comparison(dataclasses.replace(SMALL, strategy_params={"hybrid": {"alpha": 0.8}}), cache=Cache(root))
    run_comparison(dataclasses.replace(SMALL, strategies=("random", "entropy"), strategy_params={"hybrid": {"alpha": 0.8}}), cache=Cache(root))
    return root


def test_runs_page_tells_comparisons_apart(varied_cache):
    at = _app(varied_cache, "runs.py")
    _no_problems(at)
    choice = at.selectbox(key="runs_choice")
    labels = list(choice.options)  # as displayed
    assert len(labels) == 4 and len(set(labels)) == 4
    assert sum("logistic (C=0.5)" in label for label in labels) == 1
    assert sum("hybrid (alpha 0.8, clusters 5, measure entropy)" in label for label in labels) == 1  # where hybrid runs
    assert sum("alpha" in label for label in labels) == 3
    assert all("20 + 2×10 = 40 labels" in label and "2 × seed 0" in label for label in labels)
    table = at.dataframe[0].value
    assert list(table.columns) == ["updated", "data", "learner", "strategies", "strategy settings", "labels", "status",
                                   "repeats"]
    assert sorted(table["strategy settings"]) == ["", "hybrid (alpha 0.5, clusters 5, measure entropy)",
                                                  "hybrid (alpha 0.5, clusters 5, measure entropy)",
                                                  "hybrid (alpha 0.8, clusters 5, measure entropy)"]
    assert set(table.status) == {"done"}
    assert set(table.data) == {"digits · subset 300"}
    assert sorted(table.learner) == ["logistic", "logistic", "logistic", "logistic (C=0.5)"]


def test_runs_page_shows_a_refused_delete_as_an_error(tmp_path, small_cache, monkeypatch):
    import shutil

    from core.engine.cache import CacheError

    root = tmp_path / "cache"
    shutil.copytree(small_cache, root)

    def refuse(self, key, **kwargs):
        raise CacheError(f"comparison {key} is being computed by another process; cancel it first")

    monkeypatch.setattr(Cache, "delete_comparison", refuse)
    at = _app(root, "runs.py")
    at.checkbox(key="runs_confirm").check().run()
    at.button(key="runs_delete").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (error,) = at.error
    assert _text(error).startswith("Not deleted: comparison ") and "cancel it first" in _text(error)
    assert len(Cache(root).comparisons()) == 1


def _old_style(root: Path, **options) -> None:
    """Rewrite the one saved comparison under `root` as an older version saved it: the hybrid's
    settings as top-level alpha / clusters / measure, no strategy_params."""
    import json

    record = next((root / "comparisons").glob("*.json"))
    item = json.loads(record.read_text())
    item["config"].pop("strategy_params")
    item["config"].update(options)
    record.write_text(json.dumps(item))


def test_runs_page_reads_and_opens_records_saved_before_strategies_declared_parameters(tmp_path, small_cache):
    import shutil

    root = tmp_path / "cache"
    shutil.copytree(small_cache, root)
    _old_style(root, alpha=0.5, clusters=5, measure="entropy")
    at = _app(root, "runs.py", budget=70)
    _no_problems(at)
    assert list(at.dataframe[0].value["strategy settings"]) == ["hybrid (alpha 0.5, clusters 5, measure entropy)"]
    choose_run(at)
    at.button(key="runs_open").click().run()
    _no_problems(at)
    assert at.session_state["config"].key() == SMALL.key()  # the same comparison: its rounds show
    assert at.slider(key=wkey(at, "sp_hybrid_alpha")).value == 0.5


def test_opening_a_saved_comparison_that_is_no_longer_valid_explains_why(tmp_path, small_cache):
    import shutil

    root = tmp_path / "cache"
    shutil.copytree(small_cache, root)
    _old_style(root, alpha=0.0, clusters=5)  # an older version saved unused options unchecked
    at = _app(root, "runs.py")
    assert not at.exception
    # Listed all the same, with the settings as saved.
    assert list(at.dataframe[0].value["strategy settings"]) == ["hybrid (alpha 0, clusters 5)"]
    choose_run(at)
    at.button(key="runs_open").click().run()
    assert not at.exception
    assert any(_text(e).startswith("Cannot open this comparison: hybrid.alpha must be a number in (0, 1]; got 0.0")
               for e in at.sidebar.error)


def test_compare_summarises_a_partial_comparison_at_the_labels_every_repeat_reached(tmp_path, small_cache):
    """random's repeat 1 stopped after its first round (Cancel): the summary, its AULC and the
    verdict compare at 20 labels for every strategy, and the page says the rest is only drawn."""
    import shutil

    from core.datasets import load_dataset

    root = tmp_path / "cache"
    shutil.copytree(small_cache, root)
    spec = next(s for s in SMALL.specs() if s.strategy == "random" and s.repeat == 1)
    run_dir = Cache(root).run(spec.key(load_dataset("digits").fingerprint)).root
    for name in ("round_0001.npz", "round_0002.npz"):
        (run_dir / name).unlink()
    at = _app(root, "compare.py")
    _no_problems(at)
    table = at.dataframe[0].value
    assert [cell.rsplit("@ ", 1)[1] for cell in table["Final (at labels)"]] == ["20", "20", "20"]
    shown = " ".join(_text(c) for c in at.caption) + " ".join(_text(i) for i in at.info)
    assert "summaries compare at 20 labels" in shown and "drawn up to 40" in shown
    assert "partial results: every repeat has reached 20 labels" in " ".join(_text(i) for i in at.info)
