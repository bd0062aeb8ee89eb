"""Contracts every registered plug-in keeps, derived from its declarations alone.

A strategy or learner added tomorrow is covered the moment it is registered: its invalid
values are rejected by name, its declarations are listed by the CLI, a learner that cannot
provide what a strategy needs is a config error before anything runs, and the runner
computes exactly what a strategy declared.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from core.engine.config import ConfigError, RunConfig
from core.learners import CAPABILITIES, LEARNERS, make_learner
from core.params import Interval, Options, ParamError, invalid_values
from core.strategies import NEEDS, STRATEGIES, make_strategy
from core.strategies.base import Strategy, check_k
from core.types import DataInfo, Selection
from tests.conftest import OFFLINE_LEARNER_SETTINGS

DIGITS_INFO = DataInfo(10, (8, 8, 1), 1.0, tuple("0123456789"))

STRATEGY_PARAMS = [(name, param) for name in STRATEGIES.names() for param in STRATEGIES[name].parameters]
LEARNER_PARAMS = [(name, param) for name in LEARNERS.names() for param in LEARNERS[name].parameters]


@pytest.mark.parametrize("strategy, param", STRATEGY_PARAMS)
def test_every_strategy_parameter_rejects_its_invalid_values_by_name(strategy, param):
    constraint = STRATEGIES[strategy].parameters[param]
    assert invalid_values(constraint), "every declared parameter has values it rejects"
    for value in invalid_values(constraint):
        with pytest.raises(ParamError) as raised:
            make_strategy(strategy, **{param: value})
        assert raised.value.option == f"{strategy}.{param}"
        assert str(raised.value) == f"{strategy}.{param} must be {constraint.allowed()}; got {value!r}"
        with pytest.raises(ConfigError) as through_config:  # the same error reaches a config, option kept
            RunConfig(strategies=(strategy,), strategy_params={strategy: {param: value}})
        assert through_config.value.option == f"{strategy}.{param}"


@pytest.mark.parametrize("learner, param", LEARNER_PARAMS)
def test_every_learner_parameter_rejects_its_invalid_values_by_name(learner, param):
    constraint = LEARNERS[learner].parameters[param]
    for value in invalid_values(constraint):
        with pytest.raises(ParamError) as raised:
            make_learner(learner, DIGITS_INFO, **{param: value})
        assert raised.value.option == f"learner_params.{param}"
        assert str(raised.value).startswith(f"learner_params.{param} must be ")


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_strategy_declares_known_needs_and_valid_defaults(name):
    cls = STRATEGIES[name]
    assert set(cls.needs) <= set(NEEDS), f"{name} declares needs outside {sorted(NEEDS)}"
    strategy = make_strategy(name)  # the declared defaults are valid values
    assert strategy.params() == {p: c.default for p, c in cls.parameters.items()}
    assert set(strategy.required()) <= set(cls.needs)
    assert (cls.__doc__ or "").strip(), f"{name} has no docstring: listings show its first line"


@pytest.mark.parametrize("name", LEARNERS.names())
def test_every_learner_declares_known_capabilities_and_computes_them(name):
    cls = LEARNERS[name]
    assert set(cls.provides) <= set(CAPABILITIES)
    quick = {**OFFLINE_LEARNER_SETTINGS, "cnn": {"epochs": 1, "min_steps": 0, "channels": "4,4,4", "hidden": 8}}
    learner = make_learner(name, DIGITS_INFO, seed=0, **quick.get(name, {}))
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 16, (30, 8, 8, 1)).astype(np.uint8), np.arange(30) % 10
    learner.fit(X[:20], y[:20], X_unlabeled=X[20:] if learner.semi_supervised else None)
    out = learner.infer(X[20:], cls.provided(learner.values))
    assert set(out) == set(cls.provided(learner.values))
    assert out["proba"].shape == (10, 10) and np.allclose(out["proba"].sum(axis=1), 1, atol=1e-5)
    assert out["features"].shape[0] == 10


def test_unknown_parameters_list_the_declared_ones():
    with pytest.raises(ParamError, match=r"unknown parameter\(s\) \['alhpa'\] for strategy 'hybrid'; valid: "
                                         r"\['alpha', 'clusters', 'measure'\]"):
        make_strategy("hybrid", alhpa=0.5)
    with pytest.raises(ParamError, match=r"for strategy 'random'; valid: none"):
        make_strategy("random", alpha=0.5)


@pytest.fixture
def sampling_strategy():
    """A throwaway strategy that needs probability samples (what BALD reads), registered for one test."""

    @STRATEGIES.register("needs_samples_test")
    class NeedsSamples(Strategy):
        """Test only: reads MC-dropout samples."""

        parameters = {"draws": Interval(int, 1, None, default=2), "mode": Options(("a", "b"), default="a")}
        needs = frozenset({"proba_samples"})

        def select(self, view, k, *, rng):
            check_k(k, view.n_unlabeled)
            disagreement = view.proba_samples.var(axis=0).sum(axis=1)
            return Selection(view.unlabeled[np.argsort(-disagreement, kind="stable")[:k]], disagreement)

    yield "needs_samples_test"
    STRATEGIES._items.pop("needs_samples_test")


SAMPLE_READERS = [name for name in STRATEGIES.names() if "proba_samples" in STRATEGIES[name].needs]


@pytest.mark.parametrize("reader", ["registered here", *SAMPLE_READERS])
def test_a_learner_that_cannot_provide_a_need_is_a_config_error_naming_a_fix(reader, sampling_strategy):
    """Every strategy that reads probability samples (and one registered by this test alone)."""
    sampling_strategy = sampling_strategy if reader == "registered here" else reader
    with pytest.raises(ConfigError) as raised:
        RunConfig(strategies=("random", sampling_strategy), learner="logistic")
    assert raised.value.option == "strategies"
    assert str(raised.value).startswith(f"{sampling_strategy} needs probability samples")
    assert "--learner cnn --learner-param mc_samples=8" in str(raised.value)
    with pytest.raises(ConfigError, match="needs probability samples"):  # the cnn only with samples switched on
        RunConfig(strategies=(sampling_strategy,), learner="cnn")
    RunConfig(strategies=(sampling_strategy,), learner="cnn", learner_params={"mc_samples": 4})
    with pytest.raises(ConfigError, match="needs probability samples"):  # without dropout every pass is the same
        RunConfig(strategies=(sampling_strategy,), learner="cnn", learner_params={"mc_samples": 4, "dropout": 0.0})


def test_the_runner_computes_what_a_strategy_declares(sampling_strategy):
    from core.engine.runner import run_comparison

    config = RunConfig(strategies=(sampling_strategy,), learner="cnn", initial=20, batch=5, rounds=2, subset=120,
                       learner_params={"mc_samples": 3, "epochs": 1, "min_steps": 0, "channels": "4,4,4", "hidden": 8})
    rounds = run_comparison(config).runs[(sampling_strategy, 0)]
    assert [r.n_labeled for r in rounds] == [20, 25]
    assert len(set(rounds[0].queried.tolist())) == 5


@pytest.mark.parametrize("family", ["strategies", "learners"])
def test_the_listing_names_every_registered_plugin_with_its_declarations(family):
    out = subprocess.run([sys.executable, "-m", "core", family, "--json"], capture_output=True, text=True, check=True)
    listed = {p["name"]: p for p in json.loads(out.stdout)}
    registry = STRATEGIES if family == "strategies" else LEARNERS
    assert sorted(listed) == registry.names()
    for name, plugin in listed.items():
        declared = registry[name].parameters
        assert list(plugin["parameters"]) == list(declared)
        for param, described in plugin["parameters"].items():
            assert described["default"] == declared[param].default or isinstance(declared[param].default, tuple)
            assert described["allowed"] == declared[param].allowed()
        if family == "strategies":
            assert sorted(plugin["needs"]) == sorted(registry[name].needs)
    text = subprocess.run([sys.executable, "-m", "core", family], capture_output=True, text=True, check=True).stdout
    assert all(f"{name}:" in text for name in listed)
