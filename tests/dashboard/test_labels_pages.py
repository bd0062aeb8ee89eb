"""Compare on a person's own labels (minutes axis), and the Label page's comparison button and stop panel."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.engine.cache import Cache
from core.engine.config import RunConfig
from core.engine.runner import run_comparison
from tests.dashboard.conftest import start_app
from tests.dashboard.labels_project import build_project

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def labels_cache(tmp_path_factory):
    """A project of 120 labelled digit images and a cached comparison on it."""
    base = tmp_path_factory.mktemp("labels_pages")
    db = build_project(base / "photos")
    config = RunConfig(dataset="labels", data_dir=str(db), strategies=("random", "entropy"), initial=6, batch=8,
                       rounds=6, repeats=2)
    run_comparison(config, cache=Cache(base / "cache"))
    return {"db": db, "cache": base / "cache", "config": config}


def _compare(cache, **settings):
    at = start_app(APP, cache, **settings)
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _labels_settings(db):
    return dict(dataset="labels", data_dir=str(db), strategies=["random", "entropy"], initial=6, batch=8, budget=46,
                repeats=2, subset=0)


def test_compare_on_a_project_offers_labelling_minutes_and_states_the_verdict_in_minutes(labels_cache):
    at = _compare(labels_cache["cache"], **_labels_settings(labels_cache["db"]))
    assert at.session_state["config"].key() == labels_cache["config"].key()
    axis = at.radio(key="compare_axis")
    assert axis.value == "labels" and at.get("plotly_chart")[0].proto.spec.count("vs labels") >= 1
    at.number_input(key="compare_target").set_value(0.9).run()
    at.radio(key="compare_axis").set_value("minutes").run()
    assert not at.exception, [e.value for e in at.exception]
    import json

    from core.present.chart_style import strategy_style

    spec = at.get("plotly_chart")[0].proto.spec
    assert "vs labelling minutes" in spec
    traces = {t["name"]: t for t in json.loads(spec)["data"]}
    assert set(traces) == {"random", "entropy"}
    for name, trace in traces.items():  # the label curves' colour and dash for each strategy
        assert trace["line"]["color"] == strategy_style(name).color and trace["line"]["dash"] == strategy_style(name).dash
    shown = " ".join(i.value for i in at.info).replace("\\", "")
    assert "To reach 0.90:" in shown and " min (" in shown
    table = at.dataframe[0].value
    assert set(table["Strategy"]) == {"random", "entropy"}
    assert table["AULC over minutes"].str.match(r"0\.\d{3}").all()


def test_compare_on_data_without_times_has_no_minutes_toggle(small_cache):
    at = _compare(small_cache)
    assert "compare_axis" not in [r.key for r in at.radio]
    assert "vs labels" in at.get("plotly_chart")[0].proto.spec


def _label_page(db, cache, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(cache))
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["label_db"] = str(db)
    at.session_state["label_annotator"] = "ann"
    at.run()
    at.switch_page("app_pages/label.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _shown(at) -> str:
    return " ".join(e.value for kind in ("info", "success", "caption", "warning") for e in getattr(at, kind)).replace("\\", "")


@pytest.fixture
def half_labelled(tmp_path):
    """120 images, 24 audited, all but 30 labelled, with four model rounds recorded."""
    from tests.dashboard.labels_project import record_model_rounds

    db = build_project(tmp_path / "photos", undecided=30)
    record_model_rounds(db, 4)
    return db


def test_compare_on_my_labels_starts_the_sized_comparison_loads_its_settings_and_opens_compare(half_labelled, tmp_path,
                                                                                              monkeypatch):
    from core.engine import jobs
    from core.labels.recommend import labels_comparison
    from core.labels.store import LabelStore

    cache = tmp_path / "cache"
    at = _label_page(half_labelled, cache, monkeypatch)
    button = at.button(key="label_compare")
    assert not button.disabled
    expected, why = labels_comparison(LabelStore(half_labelled), half_labelled)
    assert "audit images are the test split" in why and why in _shown(at)
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    config = at.session_state["config"]
    assert config.key() == expected.key() and config.dataset == "labels"  # the sidebar now describes it
    assert jobs.status(str(cache), jobs.run_job_id(config)).state in (jobs.RUNNING, jobs.DONE)  # the Run job
    assert any(h.value == "Compare strategies" for h in at.header)  # on the Compare page
    jobs.cancel(str(cache), jobs.run_job_id(config))


def test_too_few_labels_disable_the_button_with_the_reason(tmp_path, monkeypatch):
    db = build_project(tmp_path / "photos", n_images=30, n_audit=4, undecided=25)
    at = _label_page(db, tmp_path / "cache", monkeypatch)
    assert at.button(key="label_compare").disabled
    assert "too few for a comparison" in _shown(at) or "at least two classes" in _shown(at)


def test_after_a_comparison_the_page_states_its_verdict_against_random(half_labelled, tmp_path, monkeypatch):
    from core.labels.recommend import labels_comparison
    from core.labels.store import LabelStore

    config, _ = labels_comparison(LabelStore(half_labelled), half_labelled)
    at = _label_page(half_labelled, tmp_path / "cache", monkeypatch)
    assert "Last comparison on your labels" not in _shown(at)
    run_comparison(config, cache=Cache(tmp_path / "cache"))
    at = _label_page(half_labelled, tmp_path / "cache", monkeypatch)
    shown = _shown(at)
    assert "Last comparison on your labels" in shown
    assert "random" in shown and "p = " in shown and "repeats" in shown  # the evidence, not a bare ranking


def test_a_winner_is_offered_with_its_confidence_and_taken_on_click(half_labelled, tmp_path, monkeypatch):
    """The page's wiring for a comparison whose verdict recommends a strategy (on these 96 labels none
    is significant, so the verdict is given here)."""
    import core.labels.recommend as rec
    from core.analysis.verdicts import Verdict

    sentence = "Use hybrid: AULC gain +0.050 over random, 95% CI [+0.020, +0.080], p = 0.004 (Holm), 3 repeats."
    monkeypatch.setattr(rec, "project_verdict", lambda cache, project: ({"key": "f" * 16}, Verdict(
        "recommend", sentence, "hybrid")))
    at = _label_page(half_labelled, tmp_path / "cache", monkeypatch)
    assert sentence in _shown(at)
    button = at.button(key="label_use_winner")
    assert button.label == "Continue labelling with hybrid"
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["label_strategy"] == "hybrid"
    assert at.selectbox(key="label_strategy").value == "hybrid"


def test_the_stop_panel_states_the_signal_and_the_audit_intervals(half_labelled, tmp_path, monkeypatch):
    at = _label_page(half_labelled, tmp_path / "cache", monkeypatch)
    assert any(s.value == "When to stop" for s in at.subheader)
    shown = _shown(at)
    assert "Gains have flattened since" in shown or "More labels still help" in shown
    assert "kappa" in shown
    table = at.dataframe[0].value if len(at.dataframe) == 1 else next(d.value for d in at.dataframe
                                                                        if "Audit accuracy" in d.value.columns)
    assert list(table.columns) == ["Labels", "Audit accuracy", "95% interval (Wilson)", "Audit images"]
    assert (table["Audit images"] == 24).all() and len(table) >= 4
