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
    spec = at.get("plotly_chart")[0].proto.spec
    assert "vs labelling minutes" in spec and "random" in spec and "entropy" in spec
    shown = " ".join(i.value for i in at.info).replace("\\", "")
    assert "To reach 0.90:" in shown and " min (" in shown
    table = at.dataframe[0].value
    assert set(table["Strategy"]) == {"random", "entropy"}
    assert table["AULC over minutes"].str.match(r"0\.\d{3}").all()


def test_compare_on_data_without_times_has_no_minutes_toggle(small_cache):
    at = _compare(small_cache)
    assert "compare_axis" not in [r.key for r in at.radio]
    assert "vs labels" in at.get("plotly_chart")[0].proto.spec
