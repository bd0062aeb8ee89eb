"""The Sweep page through AppTest: a finished sweep's heatmap, tables, and opening a grid point."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.cache import Cache
from core.sweep import LocalExecutor, build_sweep, run_sweep
from tests.dashboard.conftest import SMALL, SMALL_STATE

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def sweep_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep") / "cache"
    base = {k: v for k, v in SMALL.to_dict().items() if k not in ("alpha", "clusters")}
    sweep = build_sweep(base, {"alpha": [0.5, 1.0], "clusters": [1, 2]}, name="page test")
    run_sweep(sweep, Cache(root), executor=LocalExecutor(jobs=1))
    return root


def _page(root) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["cache_dir"] = str(root)
    for key, value in SMALL_STATE.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("app_pages/sweep.py")
    at.run()
    return at


def test_finished_sweep_shows_heatmap_best_table_and_progress(sweep_cache):
    at = _page(sweep_cache)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "page test" in at.selectbox(key="sweep_choice").format_func(at.selectbox(key="sweep_choice").value)
    assert len(at.get("plotly_chart")) == 1
    assert at.selectbox(key="sweep_x").value == "alpha" and at.selectbox(key="sweep_y").value == "clusters"
    best = at.dataframe[0].value  # the best-configuration table comes first
    assert sorted(best.strategy) == ["entropy", "hybrid", "random"]
    # 4 points x 3 strategies x 2 repeats = 24 runs, of which random and entropy are shared: 2 + 2 + 4 x 2
    assert any("12/12 runs" in p.proto.text for p in at.get("progress"))


def test_grid_widgets_explain_invalid_values_and_open_a_point(sweep_cache):
    at = _page(sweep_cache)
    at.text_input(key="sweep_values_alpha").set_value("0.5, 0.5").run()
    assert any("more than once" in e.value for e in at.error)
    assert at.button(key="sweep_launch").disabled
    at.selectbox(key="sweep_point").select_index(3)  # alpha=1.0, clusters=2
    at.button(key="sweep_open").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["sidebar_alpha"] == 1.0 and at.session_state["sidebar_clusters"] == 2


def test_an_unnamed_sweep_is_listed_by_what_it_varies(tmp_path):
    root = tmp_path / "cache"
    base = {k: v for k, v in SMALL.to_dict().items() if k not in ("alpha", "strategies")}
    sweep = build_sweep({**base, "strategies": ["hybrid"]}, {"alpha": [0.5, 1.0]})  # as `--vary alpha=0.5,1`
    run_sweep(sweep, Cache(root), executor=LocalExecutor(jobs=1))
    at = _page(root)
    choice = at.selectbox(key="sweep_choice")
    assert choice.format_func(choice.value).startswith("alpha · 4/4 runs · done")
