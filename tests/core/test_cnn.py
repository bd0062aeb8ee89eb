"""The `cnn` learner: learns an easy image set, is deterministic on CPU, resumes exactly, gives per-round features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.engine.cache import Cache
from core.datasets import load_dataset
from core.engine.features import NoStoredState, feature_space, round_features, rounds_with_state
from core.learners import make_learner
from core.learners.cnn_torch import augment_batch
from core.params import ParamError
from core.types import DataInfo

FAST = {"epochs": 2, "min_steps": 60, "lr": 3e-3, "channels": "8,16,16", "hidden": 32}


def bands(n: int, seed: int = 0, n_classes: int = 4, size: int = 16):
    """Class c = a bright horizontal band in row block c: survives flips and small shifts."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    X = rng.integers(0, 60, (n, size, size, 3)).astype(np.uint8)
    block = size // n_classes
    for c in range(n_classes):
        X[y == c, c * block:(c + 1) * block] += 150
    return X, y, DataInfo(n_classes, (size, size, 3), 1 / 255, tuple("abcd"[:n_classes]))


def test_learns_a_trivially_separable_image_set():
    X, y, info = bands(400)
    model = make_learner("cnn", info, seed=0, **FAST).fit(X[:80], y[:80])
    proba = model.predict_proba(X[80:])
    assert proba.dtype == np.float32 and proba.shape == (320, 4)
    assert (proba.argmax(1) == y[80:]).mean() >= 0.95
    assert model.embed(X[:7]).shape == (7, 32)


def test_two_cpu_runs_are_identical_and_the_seed_matters():
    X, y, info = bands(120)
    runs = [make_learner("cnn", info, seed=s, device="cpu", **FAST).fit(X[:40], y[:40]) for s in (3, 3, 4)]
    a, b, c = (m.predict_proba(X[40:]) for m in runs)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(runs[0].embed(X), runs[1].embed(X))
    assert not np.array_equal(a, c)


def test_mc_dropout_averages_stochastic_passes_reproducibly():
    X, y, info = bands(100)
    plain = make_learner("cnn", info, seed=0, **FAST).fit(X[:40], y[:40])
    mc = make_learner("cnn", info, seed=0, mc_samples=8, **FAST).fit(X[:40], y[:40])
    p1, p2 = mc.predict_proba(X[40:]), mc.predict_proba(X[40:])
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_allclose(p1.sum(1), 1.0, atol=1e-5)
    assert not np.array_equal(p1, plain.predict_proba(X[40:]))  # dropout was on
    assert (p1.argmax(1) == plain.predict_proba(X[40:]).argmax(1)).mean() > 0.8


@pytest.mark.parametrize("mc_samples", [0, 4])
def test_one_pass_gives_the_same_probabilities_and_features_as_two(mc_samples):
    X, y, info = bands(90)
    model = make_learner("cnn", info, seed=0, mc_samples=mc_samples, eval_batch_size=32, **FAST).fit(X[:30], y[:30])
    out = model.infer(X, frozenset({"proba", "features"}))
    assert set(out) == {"proba", "features"}
    np.testing.assert_array_equal(out["proba"], model.predict_proba(X))
    np.testing.assert_array_equal(out["features"], model.embed(X))


def test_probability_samples_are_the_dropout_passes_whose_mean_is_the_probability():
    X, y, info = bands(90)
    model = make_learner("cnn", info, seed=0, mc_samples=5, eval_batch_size=32, **FAST).fit(X[:30], y[:30])
    samples = model.predict_proba_samples(X)
    assert samples.dtype == np.float32 and samples.shape == (5, 90, 4)
    np.testing.assert_allclose(samples.sum(axis=2), 1.0, atol=1e-5)
    assert all(not np.array_equal(samples[0], samples[i]) for i in range(1, 5))  # dropout was on
    out = model.infer(X, frozenset({"proba", "proba_samples", "features"}))
    np.testing.assert_array_equal(out["proba_samples"], samples)  # same state, same draws
    np.testing.assert_allclose(out["proba"], samples.mean(axis=0), atol=1e-6)
    np.testing.assert_array_equal(out["proba"], model.predict_proba(X))
    np.testing.assert_array_equal(out["features"], model.embed(X))


def test_probability_samples_give_unseen_classes_zero():
    X, y, info = bands(90)
    seen = y < 3
    model = make_learner("cnn", info, seed=0, mc_samples=3, **FAST).fit(X[seen][:30], y[seen][:30])
    samples = model.predict_proba_samples(X)
    assert not samples[:, :, 3].any()
    np.testing.assert_allclose(samples.sum(axis=2), 1.0, atol=1e-5)


@pytest.mark.parametrize("mc_samples", [0, 1])
def test_probability_samples_need_two_passes(mc_samples):
    X, y, info = bands(20)
    model = make_learner("cnn", info, seed=0, mc_samples=mc_samples, **FAST)
    for call in (lambda: model.predict_proba_samples(X), lambda: model.infer(X, frozenset({"proba_samples"}))):
        with pytest.raises(ParamError, match=r"learner_params.mc_samples must be an integer >= 2") as caught:
            call()
        assert caught.value.option == "learner_params.mc_samples"
    assert "net" not in vars(model)  # refused before the network was built


def test_state_round_trip_continues_training_exactly():
    X, y, info = bands(120)
    whole = make_learner("cnn", info, seed=1, **FAST)
    whole.fit(X[:30], y[:30]).fit(X[:60], y[:60])
    first = make_learner("cnn", info, seed=1, **FAST).fit(X[:30], y[:30])
    state = first.get_state()
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in state.values())
    resumed = make_learner("cnn", info, seed=1, **FAST)
    resumed.set_state(state)
    resumed.fit(X[:60], y[:60])
    np.testing.assert_array_equal(resumed.predict_proba(X), whole.predict_proba(X))


def test_retrain_starts_each_round_from_the_seeded_init_while_finetune_continues():
    X, y, info = bands(120)
    retrain = make_learner("cnn", info, seed=0, training="retrain", **FAST)
    finetune = make_learner("cnn", info, seed=0, training="finetune", **FAST)
    for model in (retrain, finetune):
        model.fit(X[:30], y[:30])
    init = make_learner("cnn", info, seed=0, **FAST).get_state()
    # after a retrain fit the weights moved away from init, and the next fit starts there again
    w = "model.hidden.weight"
    assert not np.array_equal(retrain.get_state()[w], init[w])
    assert np.array_equal(retrain.get_state()[w], finetune.get_state()[w])  # same first round
    retrain.fit(X[:60], y[:60])
    finetune.fit(X[:60], y[:60])
    assert not np.array_equal(retrain.get_state()[w], finetune.get_state()[w])


def test_augmentation_is_a_padded_crop_with_optional_flip():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    g = torch.Generator().manual_seed(0)
    same = augment_batch(x, 0, g)
    for i in range(2):
        assert torch.equal(same[i], x[i]) or torch.equal(same[i], x[i].flip(2))
    shifted = augment_batch(x, 2, g)
    assert shifted.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):  # every output is some 6x6 window of the padded image, maybe flipped
        windows = [padded[i, :, r:r + 6, c:c + 6] for r in range(5) for c in range(5)]
        assert any(torch.equal(shifted[i], w) or torch.equal(shifted[i], w.flip(2)) for w in windows)


@pytest.mark.parametrize("params, message", [
    ({"channels": "8,16"}, r"learner_params.channels must be three positive integers \(at most 4096 each\)"),
    ({"training": "scratch"}, r"learner_params.training must be one of \['finetune', 'retrain'\]; got 'scratch'"),
    ({"augment": "yes"}, "learner_params.augment must be one of"),
    ({"epochs": 0}, r"learner_params.epochs must be an integer >= 1 \(at most 10000\); got 0"),
    ({"dropout": 1.0}, r"learner_params.dropout must be a number in \[0, 1\); got 1.0"),
    ({"lr": 0}, r"learner_params.lr must be a number in \(0, 10\]; got 0"),
    ({"device": "tpu"}, "learner_params.device must be one of"),
])
def test_invalid_parameters_name_the_parameter(params, message):
    with pytest.raises(ParamError, match=message) as caught:
        make_learner("cnn", bands(4)[2], **params)
    assert caught.value.option == f"learner_params.{next(iter(params))}"


def test_images_smaller_than_8_pixels_are_refused():
    with pytest.raises(ParamError, match="at least 8x8") as caught:
        make_learner("cnn", DataInfo(2, (6, 6, 1), 1.0, ("a", "b")))
    assert caught.value.option == "learner"


def _cnn_config(rounds: int):
    from core.engine.config import RunConfig

    return RunConfig(dataset="digits", learner="cnn", learner_params=dict(FAST, epochs=1, min_steps=10),
                     strategies=("hybrid",), strategy_params={"hybrid": {"clusters": 2}}, initial=10, batch=6,
                     rounds=rounds, subset=200)


def test_a_resumed_cnn_run_gives_the_results_of_an_uninterrupted_one(tmp_path):
    from core.engine.runner import run_comparison

    whole = run_comparison(_cnn_config(3), cache=Cache(tmp_path / "a")).runs[("hybrid", 0)]
    cache = Cache(tmp_path / "b")
    run_comparison(_cnn_config(2), cache=cache)  # "killed" after two rounds
    resumed = run_comparison(_cnn_config(3), cache=cache).runs[("hybrid", 0)]
    for r1, r2 in zip(whole, resumed):
        assert r1.test_accuracy == r2.test_accuracy
        np.testing.assert_array_equal(r1.queried, r2.queried)
        np.testing.assert_array_equal(r1.scores, r2.scores)


def test_rounds_without_stored_weights_are_recomputed_not_trusted(tmp_path, caplog):
    from core.engine.runner import run_comparison

    cache = Cache(tmp_path)
    first = run_comparison(_cnn_config(3), cache=cache)
    key = first.run_keys[("hybrid", 0)]
    store = cache.run(key)
    store.round_path(2).unlink()  # killed before round 2, and round 1's weights are lost
    store.state_path(2).unlink()
    store.state_path(1).unlink()
    again = run_comparison(_cnn_config(3), cache=cache)
    assert "no learner state after round 0; recomputing rounds 1..1" in caplog.text
    for r1, r2 in zip(first.runs[("hybrid", 0)], again.runs[("hybrid", 0)]):
        np.testing.assert_array_equal(r1.scores, r2.scores)
    assert rounds_with_state(cache, key) == [0, 1, 2]


def test_round_features_embed_the_dataset_with_that_rounds_weights_once(tmp_path):
    from core.engine.runner import run_comparison

    cache = Cache(tmp_path)
    comparison = run_comparison(_cnn_config(2), cache=cache)
    key = comparison.run_keys[("hybrid", 0)]
    digits = load_dataset("digits")
    features = round_features(cache, key, 1, digits)
    assert features.shape == (len(digits.labels), 32) and features.dtype == np.float32
    assert cache.run(key).features_path(1).exists()
    np.testing.assert_array_equal(round_features(cache, key, 1), features)  # cached, dataset loaded from the spec
    assert not np.array_equal(round_features(cache, key, 0, digits), features)
    assert feature_space(key, 1) == f"learner.{key}.r1"
    with pytest.raises(NoStoredState, match="round 5"):
        round_features(cache, key, 5, digits)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_gpu_path_trains_and_predicts():
    X, y, info = bands(200)
    model = make_learner("cnn", info, seed=0, device="cuda", **FAST).fit(X[:80], y[:80])
    assert model.device.type == "cuda"
    assert (model.predict_proba(X[80:]).argmax(1) == y[80:]).mean() >= 0.9
    assert model.embed(X[:3]).shape == (3, 32)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_asking_for_cuda_without_a_device_is_a_config_error_before_the_run():
    from core.engine.config import ConfigError, RunConfig
    from core.engine.runner import prepare

    with pytest.raises(ConfigError, match="device='cuda' but torch sees no CUDA device; use device=auto or cpu"):
        prepare(RunConfig(learner="cnn", learner_params={"device": "cuda"}))
