"""RunConfig and learner settings: every option checked when it is built, bounded, and keyed by what it changes."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from core.engine.config import (MAX_REPEATS, MAX_SEED, SCHEMA_VERSION, ConfigError, RunConfig, check_against_data, parse_param,
                         stable_hash)
from core.learners import LEARNERS, LearnerError, learner_param_names, make_learner
from core.learners.cnn import estimate_bytes, memory_limit
from core.types import DataInfo

DIGITS_INFO = DataInfo(10, (8, 8, 1), 1.0, tuple("0123456789"))


# ----------------------------------------------------------------------------- seeds (issue 15, item 8)

def test_seeds_are_32_bit_including_every_repeat():
    RunConfig(seed=MAX_SEED)
    RunConfig(seed=MAX_SEED - 2, repeats=3)
    with pytest.raises(ConfigError, match=r"seed must be an integer in \[0, 4294967295\]; got 4294967296"):
        RunConfig(seed=2**32)
    with pytest.raises(ConfigError, match=r"seed \+ repeats - 1 must be at most 4294967295.*seed=4294967295, repeats=2"):
        RunConfig(seed=MAX_SEED, repeats=2)
    for bad in (-1, True, 1.0, "0", None):
        with pytest.raises(ConfigError, match="seed must be an integer"):
            RunConfig(seed=bad)


# ----------------------------------------------------------------------------- every option, always (item 11)

NOT_FINITE = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", [*NOT_FINITE, 0.0, 1.5, "0.5", None, True])
def test_alpha_is_checked_without_the_hybrid(value):
    with pytest.raises(ConfigError, match=r"hybrid.alpha must be a number in \(0, 1\]") as raised:
        RunConfig(strategies=("random", "entropy"), strategy_params={"hybrid": {"alpha": value}})
    assert raised.value.option == "hybrid.alpha"
    with pytest.raises(ConfigError, match=r"hybrid.alpha must be a number in \(0, 1\]"):  # the alias of old configs
        RunConfig.from_dict({"strategies": ["random"], "alpha": value})


@pytest.mark.parametrize("value", [*NOT_FINITE, -0.1, 1.01, "1", None, False])
def test_threshold_is_checked_in_pool_mode(value):
    with pytest.raises(ConfigError, match=r"threshold must be a number in \[0, 1\]"):
        RunConfig(mode="pool", threshold=value)


@pytest.mark.parametrize("value", [*NOT_FINITE, -0.1, 1.0, 10**400, "0.2", True])
def test_test_size_rejects_non_finite_and_wrong_types(value):
    with pytest.raises(ConfigError, match=r"test_size must be a number in \[0, 1\)"):
        RunConfig(test_size=value)


@pytest.mark.parametrize("options, message", [
    ({"strategies": ("random",), "strategy_params": {"hybrid": {"clusters": 0}}},
     r"hybrid.clusters must be an integer >= 1 \(at most 10000\); got 0"),
    ({"strategies": ("random",), "strategy_params": {"hybrid": {"clusters": 2.5}}}, r"hybrid.clusters must be an integer"),
    ({"strategies": ("random",), "strategy_params": {"hybrid": {"measure": "gini"}}},
     r"hybrid.measure must be one of \['entropy'.*got 'gini'"),
    ({"strategy_params": {"hybird": {"alpha": 0.5}}}, r"unknown strategy 'hybird'; choose one of \["),
    ({"strategy_params": {"hybrid": {"alhpa": 0.5}}}, r"unknown parameter\(s\) \['alhpa'\] for strategy 'hybrid'; valid: "
                                                       r"\['alpha', 'clusters', 'measure'\]"),
    ({"stream_policy": "sometimes"}, r"stream_policy must be one of \['budget', 'threshold'\]; got 'sometimes'"),
    ({"mode": ["pool"]}, r"mode must be one of \['pool', 'stream'\]; got \['pool'\]"),
    ({"dataset": 3}, r"dataset must be a name; got 3; choose one of \["),
    ({"learner": None}, r"learner must be a name; got None; choose one of \["),
    ({"strategies": (["random"],)}, r"strategy must be a name; got \['random'\]"),
    ({"strategies": "random"}, r"strategies must be a list of names"),
    ({"learner_params": ["C", 1]}, r"learner_params must be a table of NAME = VALUE settings"),
    ({"dataset": "folder", "data_dir": ""}, r"data_dir must be a directory path \(not empty\); got ''"),
    ({"dataset": "folder", "data_dir": 5}, r"data_dir must be a directory path \(not empty\); got 5"),
    ({"batch": 2**64}, r"batch must be an integer >= 1 \(at most 10000000\); got 18446744073709551616"),
    ({"initial": True}, r"initial must be an integer >= 1"),
    ({"subset": 10**8}, r"subset must be an integer >= initial \(20\) \(at most 10000000\)"),
])
def test_every_option_is_checked_whatever_the_strategies(options, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(**options)


# ----------------------------------------------------------------------------- sizes (item 12)

def test_repeats_are_bounded_before_any_run_spec_is_built():
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"repeats must be an integer >= 1 \(at most 1000\)"):
        RunConfig(repeats=99999999999999999999999)
    assert time.perf_counter() - start < 1.0
    assert len(RunConfig(repeats=MAX_REPEATS, strategies=("random",)).specs()) == MAX_REPEATS


@pytest.mark.parametrize("size, ok", [(7, False), (8, True), (512, True), (513, False), (10**6, False)])
def test_image_size_is_bounded(size, ok):
    if ok:
        RunConfig(dataset="folder", data_dir="/somewhere", image_size=size)
    else:
        with pytest.raises(ConfigError, match=r"image_size must be an integer in \[8, 512\]"):
            RunConfig(dataset="folder", data_dir="/somewhere", image_size=size)


def test_cnn_memory_estimate_is_checked_before_torch_builds_anything():
    default = estimate_bytes((32, 32, 3), 10, (32, 64, 128), 128, 64, 512)
    assert 2**20 < default < 2**30  # the paper's CNN on CIFAR-10: megabytes, not gigabytes
    assert estimate_bytes((8, 8, 1), 10, (4096, 8, 8), 128, 64, 65536) > 100 * 2**30
    with pytest.raises(ValueError, match=r"need about [\d.]+ GiB; the cnn allows at most [\d.]+ GiB here"):
        make_learner("cnn", DIGITS_INFO, channels="4096,8,8", eval_batch_size=65536)
    learner = make_learner("cnn", DIGITS_INFO, channels="8,8,8", hidden=16)
    assert "net" not in vars(learner)  # checking built no network
    assert memory_limit() <= 32 * 2**30


def test_label_spreading_limits_that_depend_on_the_pool_are_config_errors():
    config = RunConfig(learner="label_spreading", learner_params={"kernel": "knn", "n_neighbors": 61}, subset=60, rounds=2)
    with pytest.raises(ConfigError, match=r"learner_params.n_neighbors must be at most the pool size \(60 samples\)"):
        check_against_data(config, n_classes=10, n_available=1000)
    check_against_data(RunConfig(learner="label_spreading", learner_params={"n_neighbors": 61}, subset=60, rounds=2),
                       n_classes=10, n_available=1000)  # rbf: n_neighbors is unused
    with pytest.raises(ConfigError, match=r"dense 30000\^2 graph; use kernel=knn"):
        check_against_data(RunConfig(learner="label_spreading", subset=30000), n_classes=10, n_available=50000)


# ----------------------------------------------------------------------------- learner settings (item 10)

HOSTILE = [math.nan, math.inf, -math.inf, -1, 10**400, 2**64, "abc", "", "nan", [1, 2], {"a": 1}, True, None]
# Values a setting accepts although they look hostile: -1 is no setting's valid value, but 2**64 is a valid C.
ACCEPTED = [("logistic", "C", 2**64), ("pretrained", "C", 2**64), ("label_spreading", "gamma", 2**64)]


@pytest.mark.parametrize("learner, setting", [(name, p) for name in LEARNERS.names() for p in learner_param_names(name)])
def test_every_learner_setting_rejects_hostile_values_by_name(learner, setting):
    for value in HOSTILE:
        if (learner, setting, value) in ACCEPTED:
            make_learner(learner, DIGITS_INFO, **{setting: value})
            continue
        try:
            make_learner(learner, DIGITS_INFO, **{setting: value})
        except ValueError as exc:  # anything else (TypeError, OverflowError) is a bug in the checks
            message = str(exc)
            assert message.startswith(f"learner_params.{setting} must be "), message
            assert message.endswith(f"got {value!r}"), message
        else:
            pytest.fail(f"{learner}: {setting}={value!r} was accepted")


def test_parse_param_reads_json_numbers_and_keeps_other_text():
    assert parse_param("lr=NaN")[1] != parse_param("lr=NaN")[1]  # a float nan, which the learner then rejects
    assert parse_param("lr=nan") == ("lr", "nan")
    assert parse_param("channels=4,8,8") == ("channels", "4,8,8")


def test_cnn_channels_accept_text_or_a_list():
    assert make_learner("cnn", DIGITS_INFO, channels="4, 8,8").channels == (4, 8, 8)
    assert make_learner("cnn", DIGITS_INFO, channels=[4, 8, 8]).channels == (4, 8, 8)
    for bad in ("a,b", "4,8", "4,8,8,8", "0,8,8", "4097,8,8", [4, 8, True], [4.0, 8, 8], "1" * 5000 + ",1,1"):
        with pytest.raises(ValueError, match=r"channels must be three positive integers \(at most 4096 each\)"):
            make_learner("cnn", DIGITS_INFO, channels=bad)


@pytest.mark.slow
def test_a_diverged_cnn_fit_is_a_learner_error():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 16, (20, 8, 8, 1)).astype(np.uint8), np.arange(20) % 10
    learner = make_learner("cnn", DIGITS_INFO, channels="4,4,4", hidden=8, epochs=1, min_steps=0).fit(X, y)
    with torch.no_grad():
        for parameter in learner.net.model.parameters():
            parameter.fill_(math.nan)
    with pytest.raises(LearnerError, match=r"cnn training diverged \(loss nan\) with lr=0.001.*lower lr"):
        learner.fit(X, y)


# ----------------------------------------------------------------------------- the comparison key (item 11)

def test_options_no_strategy_uses_leave_the_key_alone():
    base = RunConfig(strategies=("random", "entropy"))
    hybrid_params = {"hybrid": {"alpha": 0.3, "clusters": 2, "measure": "least_confidence"}}
    assert RunConfig(strategies=("random", "entropy"), strategy_params=hybrid_params,
                     stream_policy="threshold", threshold=0.9).key() == base.key()
    kept = RunConfig(strategies=("random", "entropy"), strategy_params={"hybrid": {"alpha": 0.3}})
    assert kept.to_dict()["strategy_params"] == {"hybrid": {"alpha": 0.3}}  # kept, only not keyed
    hybrid = RunConfig(strategies=("random", "hybrid"))
    assert RunConfig(strategies=("random", "hybrid"), strategy_params={"hybrid": {"alpha": 1.0}}).key() != hybrid.key()
    # a parameter given at its default is the same comparison as one not given
    assert RunConfig(strategies=("random", "hybrid"), strategy_params={"hybrid": {"alpha": 0.5}}).key() == hybrid.key()
    assert RunConfig(strategies=("random", "hybrid"), threshold=0.9).key() == hybrid.key()
    stream = RunConfig(mode="stream", strategies=("entropy",))
    assert RunConfig(mode="stream", strategies=("entropy",), threshold=0.9).key() == stream.key()  # budget policy
    assert RunConfig(mode="stream", strategies=("entropy",), stream_policy="threshold").key() != stream.key()
    assert (RunConfig(mode="stream", strategies=("entropy",), stream_policy="threshold", threshold=0.9).key()
            != RunConfig(mode="stream", strategies=("entropy",), stream_policy="threshold").key())
    assert RunConfig(mode="stream", strategies=("random",), stream_policy="threshold").key() == \
        RunConfig(mode="stream", strategies=("random",)).key()  # random ignores the policy


