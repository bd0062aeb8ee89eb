"""The sidebar keeps what it shows (issue 19) and its widgets cannot crash (issue 21, items 3-7), through AppTest.

A seeded random walk over sidebar widgets and pages checks, after every step, that the settings
object, the widgets shown and the config that Run would start equal a model of what was set.
"""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.engine.config import RunConfig
from core.params import ParamError
from core.engine.runner import prepare
from dashboard.components import results
from dashboard.components.settings import config_of, defaults, from_query, plugin_values, to_query
from tests.dashboard.conftest import SMALL, SMALL_SETTINGS, start_app, wkey

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
POOL = 300  # SMALL's subset of digits


def _text(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value.replace("  \n", "\n"))


def _budget(at):
    return next(s for s in at.sidebar.slider if s.label.startswith("Budget"))


def _expected(model: dict, pool: int | None = POOL) -> RunConfig | None:
    """The config Run should start for `model`: built and checked as the command line does, else None."""
    try:
        config = config_of(model, pool)
        prepare(config, results.load_dataset(config.dataset))
    except ParamError:
        return None
    return config


# --------------------------------------------------------------------------- the random walk

LEARNER_STEPS = {"logistic": [("C", [0.25, 0.5, 2.0]), ("max_iter", [200, 500, 1000])],
                 "label_spreading": [("gamma", [5.0, 20.0, 40.0]), ("max_iter", [10, 30, 50])]}
STRATEGY_STEPS = {"hybrid": [("alpha", [0.4, 0.6, 0.8]), ("clusters", [1, 2, 3])]}
PAGES = ["compare.py", "runs.py", "sweep.py", "confusion.py"]


def _check(at, model: dict, step: str) -> None:
    assert not at.exception, (step, [e.value for e in at.exception])
    s = at.session_state["settings"]
    for name in ("learner", "strategies", "initial", "batch", "budget", "repeats", "seed"):
        assert s[name] == model[name], (step, name, s[name], model[name])
    for kind in ("learner_params", "strategy_params"):
        for plugin, values in model[kind].items():
            assert {k: s[kind].get(plugin, {}).get(k) for k in values} == values, (step, plugin)
    # What the widgets show.
    assert at.selectbox(key=wkey(at, "learner")).value == model["learner"], step
    assert at.multiselect(key=wkey(at, "strategies")).value == model["strategies"], step
    for name in ("initial", "batch", "repeats", "seed"):
        assert at.number_input(key=wkey(at, name)).value == model[name], (step, name)
    from dashboard.components.settings import shown_budget

    budget = shown_budget(model, POOL)
    sliders = [sl for sl in at.sidebar.slider if sl.label.startswith("Budget")]
    assert [sl.value for sl in sliders] in ([budget], []), step
    learner_values = model["learner_params"].get(model["learner"], {})
    for param, value in learner_values.items():
        widget = next(w for w in at.sidebar if getattr(w, "key", None) == wkey(at, f"lp_{model['learner']}_{param}"))
        assert widget.value == value, (step, param)
    if "hybrid" in model["strategies"]:
        for param, value in model["strategy_params"].get("hybrid", {}).items():
            widget = next(w for w in at.sidebar if getattr(w, "key", None) == wkey(at, f"sp_hybrid_{param}"))
            assert widget.value == value, (step, param)
    # The config Run would start.
    expected = _expected(model)
    config = at.session_state["config"]
    assert (config and config.key()) == (expected and expected.key()), (step, config, expected)


def test_a_random_walk_over_sidebar_and_pages_keeps_what_was_set(small_cache):
    rng = np.random.default_rng(19)
    at = start_app(APP, small_cache)
    model = {**defaults(), **copy.deepcopy(SMALL_SETTINGS)}
    _check(at, model, "start")
    steps = 0
    while steps < 220:
        action = rng.choice(["page", "learner", "learner_param", "strategy", "strategy_param", "number", "budget",
                             "runs"])
        step = f"{steps}:{action}"
        if action == "page":
            at.switch_page(f"app_pages/{rng.choice(PAGES)}").run()
        elif action == "learner":
            learner = str(rng.choice(list(LEARNER_STEPS)))
            at.selectbox(key=wkey(at, "learner")).set_value(learner).run()
            model["learner"] = learner
        elif action == "learner_param":
            param, values = LEARNER_STEPS[model["learner"]][rng.integers(2)]
            value = values[rng.integers(len(values))]
            widget = next(w for w in at.sidebar if getattr(w, "key", None) == wkey(at, f"lp_{model['learner']}_{param}"))
            widget.set_value(value).run()
            model["learner_params"].setdefault(model["learner"], {})[param] = value
        elif action == "strategy":
            name = str(rng.choice(["random", "entropy", "hybrid"]))
            chosen = [s for s in model["strategies"] if s != name] if name in model["strategies"] \
                else model["strategies"] + [name]
            at.multiselect(key=wkey(at, "strategies")).set_value(chosen).run()
            model["strategies"] = chosen
        elif action == "strategy_param":
            if "hybrid" not in model["strategies"]:
                continue
            param, values = STRATEGY_STEPS["hybrid"][rng.integers(2)]
            value = values[rng.integers(len(values))]
            widget = next(w for w in at.sidebar if getattr(w, "key", None) == wkey(at, f"sp_hybrid_{param}"))
            widget.set_value(value).run()
            model["strategy_params"].setdefault("hybrid", {})[param] = value
        elif action == "number":
            name = str(rng.choice(["initial", "batch", "repeats", "seed"]))
            value = int(rng.choice({"initial": [10, 20, 30], "batch": [5, 10, 15], "repeats": [1, 2, 3],
                                    "seed": [0, 1, 7]}[name]))
            at.number_input(key=wkey(at, name)).set_value(value).run()
            model[name] = value
        elif action == "budget":
            sliders = [sl for sl in at.sidebar.slider if sl.label.startswith("Budget")]
            if not sliders:
                continue
            low, high, step_size = sliders[0].min, sliders[0].max, sliders[0].step
            value = int(low + step_size * rng.integers((high - low) // step_size + 1))
            sliders[0].set_value(value).run()
            model["budget"] = value
        elif action == "runs":  # choosing a run loads its settings, on purpose
            at.switch_page("app_pages/runs.py").run()
            choice = at.selectbox(key="runs_choice")
            if choice.value is None:
                choice.set_value(SMALL.key()).run()
                model.update({k: v for k, v in {**defaults(), **SMALL_SETTINGS, "seed": 0}.items()
                              if k not in ("learner_params", "strategy_params")})
                for kind, name in (("learner_params", "logistic"), ("strategy_params", "hybrid")):
                    model[kind][name] = plugin_values(defaults(), kind, name)  # the run's: declared defaults
                assert any(_text(i.value).startswith("Loaded the settings of run ") for i in at.sidebar.info), step
        _check(at, model, step)
        steps += 1


# --------------------------------------------------------------------------- the URL

def test_the_url_form_round_trips_and_states_only_what_differs():
    s = {**defaults(), "budget": 70, "strategies": ["random", "hybrid"], "learner_params": {"logistic": {"C": 0.5}},
         "strategy_params": {"hybrid": {"alpha": 0.8}, "entropy": {}}}
    query = to_query(s)
    assert query == {"budget": "70", "strategies": "random,hybrid", "logistic.C": "0.5", "hybrid.alpha": "0.8"}
    given, problems = from_query(query)
    assert problems == []
    assert config_of({**defaults(), **given}).key() == config_of(s).key()
    assert to_query(defaults()) == {}


def test_a_link_opens_the_same_comparison_and_bad_values_are_named_once(small_cache):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["cache_dir"] = str(small_cache)
    at.query_params.update({"budget": "40", "repeats": "2", "subset": "300", "hybrid.alpha": "0.8",
                            "logistic.C": "0.5", "batch": "ten", "hybrid.nonsense": "1", "test_size": "2"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (warning,) = at.sidebar.warning
    text = _text(warning.value)
    assert text.startswith("Ignored in the link: ") and "batch=ten" in text and "hybrid.nonsense=1" in text
    assert "test_size=2 (test_size must be a number in [0, 1))" in text
    config = at.session_state["config"]
    assert (config.budget, config.repeats, config.subset, config.batch) == (40, 2, 300, 10)
    assert config.params_for("hybrid")["alpha"] == 0.8 and config.learner_params == {"C": 0.5}
    # The app writes back what it shows: the valid settings, and no trace of the bad ones.
    _budget(at).set_value(30).run()
    assert at.query_params["budget"] == ["30"] or at.query_params["budget"] == "30"
    assert "batch" not in at.query_params and "hybrid.nonsense" not in at.query_params


# --------------------------------------------------------------------------- issue 21, item 4

def test_initial_above_the_pool_explains_the_conflict_instead_of_crashing(small_cache):
    at = start_app(APP, small_cache, subset=0)
    at.number_input(key=wkey(at, "initial")).set_value(5000).run()  # digits' pool: 1,347 samples
    assert not at.exception, [e.value for e in at.exception]
    assert not [s for s in at.sidebar.slider if s.label.startswith("Budget")]  # no slider with min > max
    assert any("has no room for a batch of 10 after 5000" in _text(c.value) for c in at.sidebar.caption)
    nodes = list(at.sidebar)
    widget = next(i for i, n in enumerate(nodes) if getattr(n, "key", None) == wkey(at, "initial"))
    assert _text(nodes[widget + 1].value) == "initial must be at most the pool size (1347); got 5000"  # under it
    assert at.session_state["config"] is None and at.button(key="sidebar_run").disabled
    at.number_input(key=wkey(at, "initial")).set_value(1337).run()  # exactly one batch fits: a fixed budget
    assert not at.exception
    assert any(_text(c.value) == "Budget: 1347 labels, the only budget the pool allows" for c in at.sidebar.caption)


# --------------------------------------------------------------------------- issue 21, item 5

def test_pretrained_default_weights_missing_offline_disable_run_with_the_whole_message(small_cache, tmp_path,
                                                                                        monkeypatch):
    from core.learners.pretrained import PretrainedLearner

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(PretrainedLearner, "_extract", lambda self, X: pytest.fail("no extraction before Run"))
    at = start_app(APP, small_cache, learner="pretrained", strategies=["random"])
    assert not at.exception, [e.value for e in at.exception]
    (error,) = at.sidebar.error
    message = _text(error.value)
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    assert "weights=none" in message and "weights=PATH" in message
    assert at.session_state["config"] is None and at.button(key="sidebar_run").disabled
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth").write_bytes(b"present")
    at.run()
    assert not at.sidebar.error and at.session_state["config"] is not None


# --------------------------------------------------------------------------- issue 21, item 13

def test_runs_page_after_delete_keeps_no_choice_tick_or_cancelled_banner(tmp_path, small_cache, monkeypatch):
    from core.engine import jobs
    from core.engine.cache import Cache
    from core.engine.runner import run_comparison

    root = tmp_path / "cache"
    shutil.copytree(small_cache, root)
    other = RunConfig(dataset="digits", strategies=("random",), initial=20, batch=10, rounds=2, repeats=1, subset=300,
                      seed=5)  # shares no run with SMALL
    run_comparison(other, cache=Cache(root))
    for record in (root / "runs").glob("*/round_0002.npz"):  # SMALL was cancelled before its last round
        record.unlink()
    real = jobs.status
    monkeypatch.setattr(jobs, "status", lambda cache_root, job_id: jobs.JobStatus(None, jobs.CANCELLED, "stopped")
                        if job_id == f"run-{SMALL.key()}" else real(cache_root, job_id))
    at = start_app(APP, root)
    at.switch_page("app_pages/runs.py").run()
    assert at.selectbox(key="runs_choice").value == SMALL.key()  # the sidebar's comparison
    assert any(w.value.startswith("Cancelled") for w in at.warning)
    at.checkbox(key="runs_confirm").check().run()
    at.button(key="runs_delete").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert SMALL.key() not in at.selectbox(key="runs_choice").options
    assert at.selectbox(key="runs_choice").value is None
    assert not at.checkbox(key="runs_confirm").value and at.button(key="runs_delete").disabled
    assert not any(w.value.startswith("Cancelled") for w in at.warning)
    assert any(s.value.startswith(f"Deleted run {SMALL.key()[:8]}") for s in at.success)


def test_choosing_a_run_loads_its_settings_and_says_so(small_cache):
    at = start_app(APP, small_cache, budget=70, learner_params={"logistic": {"C": 0.5}})
    at.switch_page("app_pages/runs.py").run()
    assert at.selectbox(key="runs_choice").value is None  # not the sidebar's: nothing is loaded by a visit
    assert at.session_state["config"].budget == 70
    at.selectbox(key="runs_choice").set_value(SMALL.key()).run()
    assert at.session_state["config"].key() == SMALL.key()
    assert [_text(i.value) for i in at.sidebar.info] == [f"Loaded the settings of run {SMALL.key()[:8]}"]
    assert _budget(at).value == 40 and at.number_input(key=wkey(at, "lp_logistic_C")).value == 1.0
    _budget(at).set_value(30).run()  # a change of the user's: the notice no longer describes the sidebar
    assert not at.sidebar.info


# --------------------------------------------------------------------------- issue 21, item 3

def test_sweep_strategy_filter_shows_strategies_that_appear_while_watched(tmp_path, monkeypatch):
    import streamlit as st

    from core import sweep as core_sweep
    from core.engine.cache import Cache
    from core.sweep import LocalExecutor, build_sweep, run_sweep

    root = tmp_path / "cache"
    base = {k: v for k, v in SMALL.to_dict().items() if k != "strategy_params"}
    run_sweep(build_sweep(base, {"alpha": [0.5, 1.0]}, name="live"), Cache(root), executor=LocalExecutor(jobs=1))
    real = core_sweep.load_sweep_results

    def without_hybrid(*args, **kwargs):
        result = real(*args, **kwargs)
        result.runs = result.runs[result.runs.strategy != "hybrid"]
        return result

    monkeypatch.setattr(core_sweep, "load_sweep_results", without_hybrid)
    st.cache_data.clear()
    at = start_app(APP, root)
    at.switch_page("app_pages/sweep.py").run()
    (shown,) = [m for m in at.multiselect if m.label == "Strategies" and m.key.startswith("sweep_")]
    assert shown.value == ["random", "entropy"]
    shown.set_value(["random"]).run()  # the user hides entropy
    monkeypatch.setattr(core_sweep, "load_sweep_results", real)  # hybrid's first results land
    st.cache_data.clear()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (shown,) = [m for m in at.multiselect if m.label == "Strategies" and m.key.startswith("sweep_")]
    assert shown.options == ["random", "entropy", "hybrid"]
    assert shown.value == ["random", "hybrid"]  # the new one shows; the hidden one stays hidden


def test_a_new_run_option_is_accepted_and_applied_everywhere(monkeypatch, tmp_path, small_cache):
    """Issue 19: a run option is one declaration in RUN_OPTIONS; RunConfig, the CLI, a --config file, a sweep grid
    and the sidebar follow it with no edit (RunConfig needed a hand-written field per option)."""
    import json

    from core.cli import main
    from core.engine.config import RUN_OPTIONS
    from core.params import Interval
    from core.sweep import parse_grid

    monkeypatch.setitem(RUN_OPTIONS, "warmup_rounds", Interval(int, 0, 10, default=0, help="rounds before timing"))
    assert RunConfig().warmup_rounds == 0 and RunConfig(warmup_rounds=2).warmup_rounds == 2
    assert RunConfig.from_dict(RunConfig(warmup_rounds=2).to_dict()) == RunConfig(warmup_rounds=2)
    assert RunConfig(warmup_rounds=2).key() != RunConfig().key()  # part of what the comparison is
    with pytest.raises(ParamError, match=r"warmup_rounds must be an integer in \[0, 10\]; got 11"):
        RunConfig(warmup_rounds=11)
    fast = ["--strategies", "random", "--rounds", "2", "--no-cache", "--quiet"]
    # a command-line flag
    assert main(["run", *fast, "--warmup-rounds", "3", "--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "config.json").read_text())["warmup_rounds"] == 3
    # a --config file
    (tmp_path / "run.toml").write_text("warmup_rounds = 4\n")
    assert main(["run", "--config", str(tmp_path / "run.toml"), *fast, "--out", str(tmp_path / "b")]) == 0
    assert json.loads((tmp_path / "b" / "config.json").read_text())["warmup_rounds"] == 4
    # a sweep grid axis
    sweep = parse_grid({"base": {"strategies": ["random"]}, "grid": {"warmup_rounds": [1, 5]}})
    assert [p.config.warmup_rounds for p in sweep.points] == [1, 5]
    # the sidebar: its widget is drawn from the declaration and its value reaches the config Run starts
    at = start_app(APP, small_cache)
    widget = at.number_input(key=wkey(at, "warmup_rounds"))
    assert widget.value == 0
    widget.set_value(6).run()
    assert not at.exception
    assert config_of(at.session_state["settings"], POOL).warmup_rounds == 6
    assert at.session_state["config"].warmup_rounds == 6
