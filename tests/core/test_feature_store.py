"""The feature store: computed once, reused, resumed after a kill, and a new key whenever the extractor changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.features import FeatureStore, RowIndex, forget_loaded_features, stored_features
from core.learners import make_learner
from core.learners import pretrained
from core.types import Dataset

ROOT = Path(__file__).resolve().parents[2]


def images(n: int = 50, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 6, 6, 3), dtype=np.uint8)


def extract(X: np.ndarray) -> np.ndarray:
    """A stand-in backbone: a fixed function of the pixels."""
    return X.reshape(len(X), -1)[:, :8].astype(np.float32) * 2 + 1


pytestmark = pytest.mark.usefixtures("fresh_feature_memo")


def test_second_extraction_calls_the_extractor_zero_times(tmp_path, capfd):
    X, calls = images(), []

    def counting(part):
        calls.append(len(part))
        return extract(part)

    first = stored_features(X, {"data": "x", "backbone": "fake"}, counting, root=tmp_path, chunk_rows=16)
    assert calls == [16, 16, 16, 2]
    forget_loaded_features()  # a new process: only the disk is left
    second = stored_features(X, {"data": "x", "backbone": "fake"}, counting, root=tmp_path, chunk_rows=16)
    assert calls == [16, 16, 16, 2]
    assert isinstance(second, np.memmap) and not second.flags.writeable
    np.testing.assert_array_equal(first, extract(X))
    np.testing.assert_array_equal(second, extract(X))
    assert "feature store hit" in capfd.readouterr().err
    (store,) = (tmp_path / "features").iterdir()
    assert sorted(p.name for p in store.iterdir() if not p.name.startswith(".")) == ["features.npy", "manifest.json"]
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["complete"] and manifest["n_rows"] == 50 and manifest["dim"] == 8
    assert manifest["fields"] == {"data": "x", "backbone": "fake"}


SLOW_EXTRACTION = """
import sys, time
import numpy as np
sys.path.insert(0, {root!r})
from core.features import FeatureStore
X = np.random.default_rng(0).integers(0, 256, (50, 6, 6, 3), dtype=np.uint8)
calls = []
def slow(part):  # three chunks quickly, then a hang: the test kills it mid-way however loaded the machine is
    calls.append(1)
    time.sleep(0.05 if len(calls) <= 3 else 600)
    return part.reshape(len(part), -1)[:, :8].astype(np.float32) * 2 + 1
FeatureStore({store!r}, {{"data": "x", "backbone": "fake"}}, len(X), chunk_rows=5).compute(X, slow)
"""


def test_a_killed_extraction_resumes_at_the_first_missing_chunk(tmp_path):
    X = images()
    script = SLOW_EXTRACTION.format(root=str(ROOT), store=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.DEVNULL)
    store = FeatureStore(tmp_path, {"data": "x", "backbone": "fake"}, len(X), chunk_rows=5)
    deadline = time.monotonic() + 60
    while len(list(store.directory.glob("chunk_*.npy"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(int(p.stem.split("_")[1]) for p in store.directory.glob("chunk_*.npy"))
    assert 3 <= len(done) < 10 and done == list(range(len(done)))  # killed mid-way, chunks whole
    assert store.load() is None

    calls = []

    def counting(part):
        calls.append(part.copy())
        return extract(part)

    resumed = store.compute(X, counting)
    assert len(calls) == 10 - len(done)
    np.testing.assert_array_equal(np.concatenate(calls), X[5 * len(done):])  # only the missing rows
    uninterrupted = FeatureStore(tmp_path / "other", {"data": "x", "backbone": "fake"}, len(X), chunk_rows=5)
    np.testing.assert_array_equal(resumed, uninterrupted.compute(X, extract))


def test_a_half_written_chunk_is_computed_again(tmp_path):
    X = images(20)
    store = FeatureStore(tmp_path, {"data": "y"}, len(X), chunk_rows=8)
    store.directory.mkdir(parents=True)
    store.chunk_path(0).write_bytes(b"\x93NUMPY garbage")
    np.testing.assert_array_equal(store.compute(X, extract), extract(X))


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    import torch
    from torchvision.models import resnet18

    folder = tmp_path_factory.mktemp("weights")
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        paths.append(folder / f"resnet18-{seed}.pth")
        torch.save(resnet18().state_dict(), paths[-1])
    return [str(p) for p in paths]


def test_the_learner_store_key_changes_with_weights_input_size_and_backbone(tmp_path, weight_files, monkeypatch):
    X = images(24, seed=3)
    dataset = Dataset("tiny", X, np.arange(24) % 3, ("a", "b", "c"))
    calls = []
    real = pretrained.PretrainedLearner._extract
    monkeypatch.setattr(pretrained.PretrainedLearner, "_extract", lambda self, part: calls.append(
        (self.backbone, self.weights, self.input_size)) or real(self, part))

    def attach(**params):
        learner = make_learner("pretrained", dataset.info, **params)
        learner.attach(dataset, tmp_path)
        return learner

    base = {"weights": weight_files[0], "input_size": 32}
    a = attach(**base).embed(X)
    forget_loaded_features()
    np.testing.assert_array_equal(attach(**base).embed(X), a)  # same extractor: a hit
    assert len(calls) == 1
    forget_loaded_features()
    b = attach(**{**base, "weights": weight_files[1]}).embed(X)
    c = attach(**{**base, "input_size": 48}).embed(X)
    attach(weights="none", input_size=32)
    attach(weights="none", input_size=32, backbone="mobilenet_v3_small")
    assert len(calls) == 5 and len(list((tmp_path / "features").iterdir())) == 5
    assert not np.allclose(a, b) and not np.allclose(a, c)
    # the same path with new content is new weights
    forget_loaded_features()
    Path(weight_files[0]).write_bytes(Path(weight_files[1]).read_bytes())
    os.utime(weight_files[0], ns=(1, 1))
    np.testing.assert_array_equal(attach(**base).embed(X), b)
    assert len(calls) == 5  # ... whose features the store already holds (identical file content)


def test_rows_are_found_by_content_and_strangers_are_computed(tmp_path):
    X = images(30)
    X[7] = X[3]
    index = RowIndex(X)
    order = np.random.default_rng(1).permutation(30)
    found = index.lookup(X[order])
    np.testing.assert_array_equal(X[found], X[order])
    assert (index.lookup(images(4, seed=9)) == -1).all()
    dataset = Dataset("tiny", X, np.arange(30) % 3, ("a", "b", "c"))
    learner = make_learner("pretrained", dataset.info, weights="none", input_size=32)
    learner.attach(dataset, tmp_path)
    mixed = np.concatenate([X[:3], images(2, seed=9)])
    features = learner.embed(mixed)
    np.testing.assert_allclose(features, learner._extract(mixed), rtol=1e-5, atol=1e-5)
