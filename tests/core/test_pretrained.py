"""The `pretrained` learner: torchvision backbones through the real weights=PATH path, offline, end to end."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image

from core.engine.config import RunConfig
from core.engine.features import forget_loaded_features
from core.present.figures import learner_label
from core.learners import LearnerError, learner_provides, make_learner
from core.learners import pretrained
from core.params import ParamError
from core.engine.runner import run_comparison
from core.types import DataInfo, Dataset

INFO = DataInfo(3, (16, 16, 3), 1 / 255, ("a", "b", "c"))


pytestmark = pytest.mark.usefixtures("fresh_feature_memo")


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """Random-init resnet18 weights in a state-dict file: stands in for downloaded ImageNet weights."""
    from torchvision.models import resnet18

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("weights") / "resnet18-random.pth"
    torch.save(resnet18().state_dict(), path)
    return str(path)


def bands(n: int, seed: int = 0, size: int = 16):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.integers(0, 40, (n, size, size, 3)).astype(np.uint8)
    for c in range(3):
        X[y == c, :, :, c] += 200
    return X, y


def test_default_weight_files_match_torchvision():
    """The table that lets a store hit and the offline message go without torchvision agrees with torchvision."""
    from torchvision.models import get_model_weights

    for backbone, (_, name, file) in pretrained.BACKBONES.items():
        weights = get_model_weights(backbone).DEFAULT
        assert f"{type(weights).__name__}.{weights.name}" == name
        assert weights.url == pretrained.WEIGHTS_URL.format(file)


def test_validating_a_config_imports_no_torch():
    code = ("import sys; from core.learners import make_learner, learner_provides; from core.types import DataInfo; "
            "make_learner('pretrained', DataInfo(3, (8, 8, 3), 1/255, tuple('abc')), backbone='resnet50', weights='none', "
            "input_size=64, head='linear', mc_samples=4); print(learner_provides('pretrained', {'head': 'linear', "
            "'mc_samples': 4}) >= {'proba_samples'}); print('torch' in sys.modules, 'torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False", "False"]


def test_settings_are_checked_by_name(tmp_path):
    with pytest.raises(ParamError, match=r"learner_params.input_size must be 224 for backbone=vit_b_16") as err:
        make_learner("pretrained", INFO, backbone="vit_b_16", input_size=64)
    assert err.value.option == "learner_params.input_size"
    with pytest.raises(ParamError, match="learner_params.weights must be 'default'") as err:
        make_learner("pretrained", INFO, weights=str(tmp_path / "missing.pth"))
    assert err.value.option == "learner_params.weights"
    assert learner_provides("pretrained", {}) == {"proba", "features"}
    assert learner_provides("pretrained", {"head": "linear", "mc_samples": 3}) == {"proba", "features", "proba_samples"}


@pytest.mark.parametrize("backbone,dim", [("resnet18", 512), ("mobilenet_v3_small", 576)])
def test_weights_from_a_state_dict_file_load_through_the_real_path(tmp_path, backbone, dim):
    from torchvision.models import get_model

    torch.manual_seed(2)
    model = get_model(backbone)
    path = tmp_path / f"{backbone}.pth"
    torch.save(model.state_dict(), path)
    X, y = bands(12)
    learner = make_learner("pretrained", INFO, backbone=backbone, weights=str(path), input_size=32, device="cpu")
    features = learner.embed(X)
    assert features.shape == (12, dim) and features.dtype == np.float32
    # the file's weights are the ones used: the same model, classifier removed, gives the same features
    expected = torch.nn.Identity()
    if backbone == "resnet18":
        model.fc = expected
    else:
        model.classifier = expected
    x = torch.nn.functional.interpolate(torch.from_numpy(X).permute(0, 3, 1, 2).float() / 255, size=(32, 32),
                                        mode="bilinear", antialias=True)
    x = (x - torch.tensor(pretrained.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(pretrained.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        np.testing.assert_allclose(features, model.eval()(x).numpy(), rtol=1e-4, atol=1e-4)


def test_a_state_dict_of_another_model_is_one_clear_error(tmp_path, resnet18_file):
    learner = make_learner("pretrained", INFO, backbone="mobilenet_v3_small", weights=resnet18_file, input_size=32)
    with pytest.raises(LearnerError, match="is not a mobilenet_v3_small state dict") as err:
        learner.embed(bands(3)[0])
    assert err.value.option == "learner_params.weights"


def test_offline_without_the_default_weights_is_one_error_naming_file_url_and_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("no network (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    learner = make_learner("pretrained", INFO, backbone="resnet18", input_size=32)
    with pytest.raises(LearnerError) as err:
        learner.embed(bands(3)[0])
    message = str(err.value)
    assert err.value.option == "learner_params.weights"
    for part in ("resnet18-f37072fd.pth", "https://download.pytorch.org/models/resnet18-f37072fd.pth",
                 "$TORCH_HOME/hub/checkpoints/", str(tmp_path / "torch" / "hub" / "checkpoints"), "weights=PATH",
                 "weights=none", "no network (test)"):
        assert part in message
    monkeypatch.setenv("ALBENCH_OFFLINE", "1")  # declared offline: no download is tried
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("tried to download"))
    with pytest.raises(LearnerError, match="ALBENCH_OFFLINE=1"):
        make_learner("pretrained", INFO, backbone="resnet18", input_size=32).embed(bands(3)[0])


@pytest.mark.parametrize("head,mc_samples", [("logistic", 0), ("linear", 0), ("linear", 5)])
def test_heads_learn_an_easy_set(resnet18_file, head, mc_samples):
    X, y = bands(60)
    learner = make_learner("pretrained", INFO, seed=0, weights=resnet18_file, input_size=32, head=head,
                           mc_samples=mc_samples, epochs=100).fit(X[:30], y[:30])
    out = learner.infer(X[30:], frozenset({"proba", "features"} | ({"proba_samples"} if mc_samples else set())))
    assert out["proba"].shape == (30, 3)
    np.testing.assert_allclose(out["proba"].sum(1), 1.0, atol=1e-5)
    assert (out["proba"].argmax(1) == y[30:]).mean() >= 0.9
    if mc_samples:
        assert out["proba_samples"].shape == (5, 30, 3)
        np.testing.assert_allclose(out["proba_samples"].mean(0), out["proba"], atol=1e-6)
        again = learner.infer(X[30:], frozenset({"proba_samples"}))["proba_samples"]
        np.testing.assert_array_equal(again, out["proba_samples"])


def test_label_says_random_init_for_weights_none():
    config = RunConfig(dataset="digits", learner="pretrained", learner_params={"weights": "none", "input_size": 32})
    label = learner_label(config)
    assert "weights=none (random init)" in label and "backbone=resnet18" in label
    assert "weights=default" in learner_label(RunConfig(dataset="digits", learner="pretrained"))


def write_folder(root, n_per_class: int = 10, size: int = 20):
    """3 classes x 10 PNGs, one dominant colour per class with noise."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(("red", "green", "blue")):
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            pixels = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
            pixels[:, :, c] += 180
            Image.fromarray(pixels).save(root / name / f"img{i}.png")
    return root


def test_folder_end_to_end_with_run_comparison_and_the_store_reused(tmp_path, resnet18_file, monkeypatch, capfd):
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "datasets"))
    data_dir = write_folder(tmp_path / "images")
    config = RunConfig(dataset="folder", data_dir=str(data_dir), image_size=16, learner="pretrained",
                       learner_params={"weights": resnet18_file, "input_size": 32},
                       strategies=("random", "entropy", "coreset"), initial=6, batch=3, rounds=3, repeats=2,
                       test_size=0.3)
    from core.engine.cache import Cache

    calls = []
    extract = pretrained.PretrainedLearner._extract
    monkeypatch.setattr(pretrained.PretrainedLearner, "_extract",
                        lambda self, X: calls.append(len(X)) or extract(self, X))
    comparison = run_comparison(config, cache=Cache(tmp_path / "cache"))
    assert sum(calls) == 30  # each image once (as the rounds ask for it), for 3 strategies x 2 repeats
    frame = comparison.frame()
    assert len(frame) == 3 * 2 * 3 and frame["test_accuracy"].notna().all()
    assert frame.groupby("round")["n_labeled"].first().tolist() == [6, 9, 12]
    assert len(list((tmp_path / "cache" / "features").glob("*/features.npy"))) == 1
    # another comparison on the same data, in a fresh process state: the store answers, no backbone
    forget_loaded_features()
    capfd.readouterr()
    run_comparison(dataclasses.replace(config, strategies=("smallest_margin",)), cache=Cache(tmp_path / "cache"))
    assert sum(calls) == 30
    assert "feature store hit" in capfd.readouterr().err


def test_without_a_cache_features_are_computed_once_per_process(tmp_path, resnet18_file, monkeypatch):
    monkeypatch.delenv("ALBENCH_CACHE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    X, y = bands(40, size=12)
    dataset = Dataset("bands", X, y, ("a", "b", "c"))
    calls = []
    extract = pretrained.PretrainedLearner._extract
    monkeypatch.setattr(pretrained.PretrainedLearner, "_extract",
                        lambda self, X: calls.append(len(X)) or extract(self, X))
    config = RunConfig(dataset="digits", learner="pretrained", learner_params={"weights": resnet18_file, "input_size": 32},
                       strategies=("random", "entropy"), initial=6, batch=3, rounds=2, test_size=0.25)
    run_comparison(config, dataset=dataset)
    assert sum(calls) == 40  # each image once, for 2 strategies
    assert list(tmp_path.iterdir()) == []  # nothing written without a cache


def test_new_weights_at_the_same_path_are_new_runs(tmp_path, resnet18_file):
    import os
    import shutil

    path = tmp_path / "weights.pth"
    shutil.copy(resnet18_file, path)
    config = RunConfig(dataset="digits", learner="pretrained", learner_params={"weights": str(path), "input_size": 32})
    before = config.specs()[0].key("fp")
    assert config.specs()[0].key("fp") == before
    path.write_bytes(path.read_bytes() + b"\0")
    os.utime(path, ns=(1, 1))
    assert config.specs()[0].key("fp") != before
    # other learners' keys do not change shape
    assert "learner_identity" not in RunConfig().specs()[0].key_fields("fp")


@pytest.fixture(scope="module")
def bad_weight_files(tmp_path_factory):
    """Files a person might pass as weights=PATH by mistake."""
    from torchvision.models import resnet18

    folder = tmp_path_factory.mktemp("bad_weights")
    (folder / "garbage.pth").write_bytes(b"not a torch file" * 8)
    torch.save(resnet18(), folder / "whole_model.pth")  # a pickled model, not a state dict
    sizes = resnet18().state_dict()
    sizes["conv1.weight"] = torch.zeros(64, 3, 5, 5)
    torch.save(sizes, folder / "sizes.pth")
    torch.save({"model": resnet18().state_dict(), "epoch": 3}, folder / "checkpoint.pth")
    torch.save(torch.zeros(3), folder / "tensor.pth")
    return folder


@pytest.mark.parametrize("name,says", [
    ("garbage", "is not a torch file"), ("whole_model", "holds pickled Python objects"),
    ("sizes", r"has the wrong sizes for resnet18 \(1 tensors, e.g. conv1.weight: \[64, 3, 5, 5\] in the file, "
              r"\[64, 3, 7, 7\] in the model\)"),
    ("checkpoint", "values are not all tensors"), ("tensor", "holds a Tensor, not a state dict"),
])
def test_a_bad_weights_file_is_one_line_naming_it(bad_weight_files, name, says):
    path = str(bad_weight_files / f"{name}.pth")
    learner = make_learner("pretrained", INFO, weights=path, input_size=32)
    with pytest.raises(LearnerError, match=says) as err:
        learner.embed(bands(3)[0])
    message = str(err.value)
    assert "\n" not in message and repr(path) in message and err.value.option == "learner_params.weights"


def test_a_pickled_model_as_weights_is_one_line_from_the_command_line(tmp_path, bad_weight_files):
    import os

    result = subprocess.run(
        [sys.executable, "-m", "core", "run", "--dataset", "digits", "--subset", "60", "--initial", "10", "--batch", "5",
         "--rounds", "2", "--learner", "pretrained", "--learner-param", f"weights={bad_weight_files / 'whole_model.pth'}",
         "--learner-param", "input_size=32", "--strategies", "random", "--cache-dir", str(tmp_path / "cache"),
         "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "whole_model.pth" in errors[0] and "holds pickled Python objects" in errors[0]
    assert "Traceback" not in result.stderr


def test_a_subset_run_extracts_only_its_pool_and_test_split_and_a_bigger_subset_reuses_them(tmp_path, resnet18_file,
                                                                                             monkeypatch):
    """--subset 2000 of a 60,000-image folder extracted all 60,000 (4 hours at 224 px on 2 cores)."""
    from core.engine.cache import Cache
    from core.engine.features import RowIndex
    from core.engine.runner import make_split, prepare

    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "datasets"))
    config = RunConfig(dataset="folder", data_dir=str(write_folder(tmp_path / "images", n_per_class=16)), image_size=16,
                       learner="pretrained", learner_params={"weights": resnet18_file, "input_size": 32},
                       strategies=("random", "entropy"), initial=6, batch=3, rounds=2, subset=12, test_size=0.25)
    extracted = []
    extract = pretrained.PretrainedLearner._extract
    monkeypatch.setattr(pretrained.PretrainedLearner, "_extract",
                        lambda self, X: extracted.append(X.copy()) or extract(self, X))
    run_comparison(config, cache=Cache(tmp_path / "cache"))
    dataset = prepare(config)
    index = RowIndex(dataset.images)
    small = make_split(dataset, config.seed, config.test_size, 12)
    rows = index.lookup(np.concatenate(extracted))
    assert sorted(rows) == sorted(np.union1d(small.pool, small.test))  # each used image once, nothing else
    assert len(rows) == 12 + 12 < len(dataset.images)

    forget_loaded_features()  # a later command: only the disk is left
    extracted.clear()
    run_comparison(dataclasses.replace(config, subset=24), cache=Cache(tmp_path / "cache"))
    bigger = make_split(dataset, config.seed, config.test_size, 24)
    assert sorted(index.lookup(np.concatenate(extracted))) == sorted(np.setdiff1d(bigger.pool, small.pool))


def test_the_time_estimate_names_what_is_faster():
    hint = make_learner("pretrained", INFO)._faster()
    for part in ("input_size=64 (about 12x fewer pixels)", "backbone=mobilenet_v3_small", "--subset", "GPU"):
        assert part in hint


def test_a_sweep_over_the_head_compares_the_paradigms_from_the_command_line(tmp_path, resnet18_file, monkeypatch,
                                                                              capsys):
    """`albench sweep --vary learner_params.head=...` on images: every head runs on the stored features, and the
    summary sets what the semi-supervised head buys over logistic next to what the strategy buys over random."""
    import pandas as pd

    from core.cli import main

    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "datasets"))
    data_dir = write_folder(tmp_path / "images", n_per_class=12)
    calls = []
    extract = pretrained.PretrainedLearner._extract
    monkeypatch.setattr(pretrained.PretrainedLearner, "_extract",
                        lambda self, X: calls.append(len(X)) or extract(self, X))
    argv = ["sweep", "--dataset", "folder", "--data-dir", str(data_dir), "--image-size", "16", "--learner",
            "pretrained", "--learner-param", f"weights={resnet18_file}", "--learner-param", "input_size=32",
            "--vary", "learner_params.head=label_spreading,logistic,self_training", "--strategies", "random,entropy",
            "--initial", "6", "--batch", "3", "--rounds", "3", "--repeats", "3", "--test-size", "0.3",
            "--jobs", "1", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert sum(calls) == 36  # the backbone ran once per image for 3 heads x 2 strategies x 3 repeats
    table = pd.read_csv(tmp_path / "out" / "paradigm.csv").set_index(["paradigm", "strategy"])
    assert sorted(table.index) == sorted((h, s) for h in ("label_spreading", "logistic", "self_training")
                                         for s in ("random", "entropy"))
    assert table.loc[("logistic", "random"), "baseline"] and table.paradigm_pairs.max() == 3
    assert table.loc[("label_spreading", "entropy"), "paradigm_gain"] == pytest.approx(
        table.loc[("label_spreading", "entropy"), "aulc"] - table.loc[("logistic", "entropy"), "aulc"])
    assert "What the learner setting buys over the baseline" in out
    assert "Under random sampling, the " in out and " head " in out and "over logistic" in out and "the best strategy, entropy" in out
