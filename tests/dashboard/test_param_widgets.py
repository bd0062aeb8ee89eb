"""Sidebar widgets generated from declared parameters: a plug-in registered with parameters gets
widgets, ranges, help and error placement with no dashboard change."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.params import Interval, Options, ParamError, Text
from core.strategies import STRATEGIES
from core.strategies.base import Strategy
from core.types import Selection
from dashboard.components.param_widgets import slider_range, strategy_key
from dashboard.components.sidebar import error_slot
from tests.dashboard.conftest import choose_run, start_app, wkey

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
TOY = "toy_weighted"


def _app(cache_root, **settings) -> AppTest:
    return start_app(APP, cache_root, **settings)


def _text(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value.replace("  \n", "\n"))


@pytest.fixture
def toy_strategy():
    """A strategy the dashboard has never heard of, registered for one test."""

    @STRATEGIES.register(TOY)
    class ToyWeighted(Strategy):
        """Toy: the first or last unlabelled samples."""

        parameters = {
            "weight": Interval(float, 0.0, 1.0, default=0.25, step=0.25, label="Toy weight", help="how much it leans"),
            "end": Options(("first", "last"), default="first", help="which end of the pool"),
        }

        @classmethod
        def check_run(cls, params, batch):
            if params["weight"] == 1.0 and params["end"] == "last":
                raise ParamError(f"{TOY}.weight must be below 1 with end='last'; got 1.0", f"{TOY}.weight")

        def select(self, view, k, *, rng):
            return Selection(view.unlabeled[:k] if self.end == "first" else view.unlabeled[-k:])

    try:
        yield TOY
    finally:
        STRATEGIES._items.pop(TOY, None)


def test_a_newly_registered_strategy_gets_widgets_from_its_declaration(small_cache, toy_strategy):
    at = _app(small_cache, strategies=["random", toy_strategy])
    assert not at.exception, [e.value for e in at.exception]
    weight = at.slider(key=strategy_key(toy_strategy, "weight"))
    assert (weight.label, weight.min, weight.max, weight.step, weight.value) == ("Toy weight", 0.0, 1.0, 0.25, 0.25)
    assert _text(weight.help).startswith("How much it leans.")
    assert "Allowed: a number in [0, 1]. Default: 0.25." in _text(weight.help)
    end = at.selectbox(key=strategy_key(toy_strategy, "end"))
    assert (end.label, end.options, end.value) == ("end", ["first", "last"], "first")
    assert at.session_state["config"].strategy_params == {}  # defaults are not stated
    assert not [n for n in at.sidebar if (getattr(n, "key", None) or "").startswith("sidebar_sp_hybrid_")]

    weight.set_value(0.75).run()
    at.selectbox(key=strategy_key(toy_strategy, "end")).set_value("last").run()
    assert at.session_state["config"].strategy_params == {toy_strategy: {"weight": 0.75, "end": "last"}}

    at.slider(key=strategy_key(toy_strategy, "weight")).set_value(1.0).run()  # refused by the plug-in's own check
    assert at.session_state["config"] is None
    (error,) = at.sidebar.error
    assert _text(error.value) == f"{toy_strategy}.weight must be below 1 with end='last'; got 1.0"
    nodes = list(at.sidebar)
    widget = next(i for i, n in enumerate(nodes) if getattr(n, "key", None) == strategy_key(toy_strategy, "weight"))
    assert nodes[widget + 1] == error  # under the widget the error's option names


def test_opening_a_comparison_sets_the_generated_widgets(tmp_path, small_cache):
    root = tmp_path / "cache"
    shutil.copytree(small_cache, root)
    record = next((root / "comparisons").glob("*.json"))
    item = json.loads(record.read_text())
    item["config"].update(strategy_params={"hybrid": {"alpha": 0.8, "measure": "smallest_margin"}},
                          learner_params={"C": 0.5})
    record.write_text(json.dumps(item))
    at = _app(root, strategy_params={"hybrid": {"clusters": 3, "alpha": 0.7}})  # to be replaced by the saved values
    at.switch_page("app_pages/runs.py").run()
    choose_run(at)
    at.button(key="runs_open").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key=wkey(at, "sp_hybrid_alpha")).value == 0.8
    assert at.number_input(key=wkey(at, "sp_hybrid_clusters")).value == 5  # not saved: the declared default
    assert at.selectbox(key=wkey(at, "sp_hybrid_measure")).value == "smallest_margin"
    assert at.number_input(key=wkey(at, "lp_logistic_C")).value == 0.5
    config = at.session_state["config"]
    assert config.strategy_params == {"hybrid": {"alpha": 0.8, "measure": "smallest_margin"}}
    assert config.learner_params == {"C": 0.5}


def test_slider_ranges_follow_the_declaration():
    assert slider_range(STRATEGIES["hybrid"].parameters["alpha"]) == (0.05, 1.0, 0.05)  # (0, 1]: nudged by the step
    assert slider_range(Interval(float, 0.0, 1.0, closed="neither", default=0.2)) == (0.05, 0.95, 0.05)
    assert slider_range(Interval(float, 0.0, 1.0, closed="left", default=0.5)) == (0.0, 0.95, 0.05)
    assert slider_range(Interval(float, 0.0, 4.0, default=1.0, step=0.5)) == (0.0, 4.0, 0.5)  # a declared step
    # A number field instead: unbounded, integer, off the slider's positions, or a wide range without a step
    # (a learning rate in (0, 10] with default 0.001 cannot sit on a slider in steps of 0.5).
    assert slider_range(Interval(float, 0.0, None, closed="neither", default=1.0)) is None
    assert slider_range(Interval(int, 0, 10, default=3)) is None
    assert slider_range(Interval(float, 0.0, 1.0, default=0.33)) is None
    assert slider_range(Interval(float, 0.0, 10.0, closed="right", default=1e-3)) is None
    # A loaded value inside the range but beyond a nudged end widens the slider rather than failing.
    assert slider_range(STRATEGIES["hybrid"].parameters["alpha"], 0.01) == (0.01, 1.0, 0.05)


def test_errors_go_to_the_slot_their_option_names():
    slots = {name: name for name in ("general", "dataset", "learner", "learner_params", "strategies", "budget",
                                     "repeats", "advanced", "mode", "hybrid.clusters", ("strategy", "hybrid"))}
    assert error_slot("hybrid.clusters", slots) == "hybrid.clusters"  # the widget's own
    assert error_slot("hybrid.unknown_name", slots) == ("strategy", "hybrid")  # its strategy's section
    assert error_slot("learner_params.C", slots) == "learner_params"
    assert error_slot("rounds", slots) == "budget" and error_slot("seed", slots) == "repeats"
    assert error_slot("data_dir", slots) == "dataset" and error_slot("test_size", slots) == "advanced"
    assert error_slot("strategy", slots) == "strategies" and error_slot("threshold", slots) == "mode"
    assert error_slot(None, slots) == "general" and error_slot("something_new", slots) == "general"


def test_text_parameters_compare_by_meaning():
    from dashboard.components.settings import same as _same

    channels = Text("three integers", parse=lambda v: tuple(int(p) for p in str(v).split(",")), default="32,64,128")
    assert _same(channels, "32, 64,128", "32,64,128") and not _same(channels, "4,8,8", "32,64,128")
