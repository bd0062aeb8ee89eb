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

from core.engine.features import FeatureStore, FeatureStoreWarning, RowIndex, forget_loaded_features, stored_features
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
from core.engine.features import FeatureStore
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
    while len(list(store.directory.glob("part_*.npy"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    parts = [np.load(p) for p in store.directory.glob("part_*.npy")]
    done = np.sort(np.concatenate([p["row"] for p in parts]))
    assert 3 <= len(parts) < 10 and (done == np.arange(5 * len(parts))).all()  # killed mid-way, parts whole
    assert store.load() is None

    calls = []

    def counting(part):
        calls.append(part.copy())
        return extract(part)

    resumed = store.compute(X, counting)
    assert len(calls) == 10 - len(parts)
    np.testing.assert_array_equal(np.concatenate(calls), X[len(done):])  # only the missing rows
    uninterrupted = FeatureStore(tmp_path / "other", {"data": "x", "backbone": "fake"}, len(X), chunk_rows=5)
    np.testing.assert_array_equal(resumed, uninterrupted.compute(X, extract))


def test_a_truncated_part_is_computed_again_with_one_warning(tmp_path):
    X, calls = images(20), []

    def counting(part):
        calls.append(len(part))
        return extract(part)

    FeatureStore(tmp_path, {"data": "y"}, len(X), chunk_rows=8).rows(np.arange(8), X, counting)
    (part,) = (tmp_path / "features").glob("*/part_*.npy")
    part.write_bytes(part.read_bytes()[:-5])
    forget_loaded_features()
    with pytest.warns(FeatureStoreWarning, match="is damaged") as caught:
        features = FeatureStore(tmp_path, {"data": "y"}, len(X), chunk_rows=8).compute(X, counting)
    np.testing.assert_array_equal(features, extract(X))
    assert calls == [8, 8, 8, 4] and len(caught) == 1
    assert part.with_name(part.name + ".corrupt").exists()


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
    attach(weights="none", input_size=32).embed(X[:2])  # only what is asked for is extracted
    attach(weights="none", input_size=32, backbone="mobilenet_v3_small").embed(X[:2])
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


# -- a damaged store is never believed (issue 20.11, 20.15) ------------------------------------------------------

def _finished_store(tmp_path, X):
    stored_features(X, {"data": "d"}, extract, root=tmp_path, chunk_rows=16)
    forget_loaded_features()  # the next read is a new process's
    (directory,) = (tmp_path / "features").iterdir()
    return directory


def _damage_features(directory, change):
    path = directory / "features.npy"
    features = np.load(path)
    np.save(path, change(features))


@pytest.mark.parametrize("change", [
    lambda f: f[:, :7],  # another width (a features.npy of width 7 was used: accuracy 0.47 instead of 1.00)
    lambda f: f + 1,  # the right shape, other contents
    lambda f: np.where(np.arange(f.shape[1]) == 3, np.nan, f).astype(np.float32),  # NaN
    lambda f: f.astype(np.float64),  # another dtype
], ids=["width", "contents", "nan", "dtype"])
def test_a_damaged_features_file_is_recomputed_with_one_warning(tmp_path, change):
    X, calls = images(40), []
    directory = _finished_store(tmp_path, X)
    _damage_features(directory, change)

    def counting(part):
        calls.append(len(part))
        return extract(part)

    with pytest.warns(FeatureStoreWarning) as caught:
        features = stored_features(X, {"data": "d"}, counting, root=tmp_path, chunk_rows=16)
    np.testing.assert_array_equal(features, extract(X))
    assert features.dtype == np.float32 and sum(calls) == 40
    assert len(caught) == 1 and "features.npy" in str(caught[0].message)
    forget_loaded_features()  # repaired: the next process believes it again, without a warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(stored_features(X, {"data": "d"}, counting, root=tmp_path), extract(X))
    assert sum(calls) == 40


@pytest.mark.parametrize("edit", [
    {"chunk_rows": 0, "dim": 0}, {"dim": 7}, {"dim": "512"}, {"dtype": "<U8"}, {"n_rows": 41}, {"fields": {}},
    {"complete": {"sha256": "0" * 64, "shape": [40, 8]}}, "not json", [1, 2],
], ids=["chunk_rows0", "dim7", "dimstr", "dtype", "n_rows", "fields", "checksum", "garbage", "list"])
def test_a_damaged_manifest_is_one_warning_and_the_same_features(tmp_path, edit):
    X = images(40)
    directory = _finished_store(tmp_path, X)
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if isinstance(edit, dict):
        manifest.update(edit)
        manifest_path.write_text(json.dumps(manifest))
    else:
        manifest_path.write_text(edit if isinstance(edit, str) else json.dumps(edit))
    with pytest.warns(FeatureStoreWarning) as caught:
        features = stored_features(X, {"data": "d"}, extract, root=tmp_path, chunk_rows=16)
    np.testing.assert_array_equal(features, extract(X))
    assert len(caught) == 1


def test_a_features_file_that_is_a_fifo_is_moved_aside_not_waited_on(tmp_path):
    X = images(20)
    directory = _finished_store(tmp_path, X)
    (directory / "features.npy").unlink()
    os.mkfifo(directory / "features.npy")
    with pytest.warns(FeatureStoreWarning, match="not a regular file"):
        np.testing.assert_array_equal(stored_features(X, {"data": "d"}, extract, root=tmp_path), extract(X))


def test_an_extractor_giving_nan_or_the_wrong_shape_is_one_line_and_nothing_kept(tmp_path):
    from core.engine.feature_store import ExtractorError

    X = images(20)
    with pytest.raises(ExtractorError, match="NaN or infinite features for 20 of 20 images") as err:
        stored_features(X, {"data": "n"}, lambda part: np.full((len(part), 4), np.nan), root=tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(ExtractorError, match=r"returned shape \(3, 4\) for 20 images"):
        stored_features(X, {"data": "s"}, lambda part: np.zeros((3, 4)), root=tmp_path)
    assert not list((tmp_path / "features").glob("*/part_*"))


def test_a_long_extraction_says_how_long_after_the_first_batch_and_what_is_faster(tmp_path, capfd, monkeypatch):
    import re

    from core.engine import feature_store

    monkeypatch.setattr(feature_store, "ESTIMATE_OVER_SECONDS", 0.3)
    X = images(60)

    def slow(part):  # 50 images/s: 60 images take about a second
        time.sleep(0.02 * len(part))
        return extract(part)

    store = FeatureStore(tmp_path, {"data": "slow"}, len(X), chunk_rows=20)
    store.rows(np.arange(60), X, slow, desc="fake", hint="a smaller --subset", first_chunk=5)
    lines = [line for line in capfd.readouterr().err.splitlines() if "takes about" in line]
    assert len(lines) == 1
    assert re.search(r"extracting 60 images with fake takes about \d+ s at [\d.]+ images/s; faster: a smaller "
                     r"--subset", lines[0]), lines[0]


def test_the_store_and_the_pretrained_learner_import_no_circle():
    """core.engine.features built learners and the pretrained learner imported core.engine.features (issue 19): the store now
    sits below the learners and imports none of them, at module level or inside functions."""
    import ast

    def imported(module: str) -> set[str]:
        tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        return {n for n in names if n.startswith("core")}

    assert "core.engine.features" not in imported("core.learners.pretrained")
    for module in ("core.engine.feature_store", "core.stopping"):
        assert not {n for n in imported(module) if n.startswith(("core.learners", "core.engine.features", "core.engine.config",
                                                                 "core.engine.runner"))}


def test_store_files_follow_the_umask_like_every_other_cache_file(tmp_path):
    """features.npy was created 0600 (issue 20.16): a shared cache's other users could not read it."""
    import stat

    old = os.umask(0o022)
    try:
        X = images(20)
        store = FeatureStore(tmp_path, {"data": "m"}, len(X), chunk_rows=8)
        store.compute(X, extract)
        for name in ("features.npy", "manifest.json"):
            assert stat.S_IMODE((store.directory / name).stat().st_mode) == 0o644
        partial = FeatureStore(tmp_path, {"data": "p"}, len(X), chunk_rows=8)
        partial.rows(np.arange(8), X, extract)
        (part,) = partial.directory.glob("part_*.npy")
        assert stat.S_IMODE(part.stat().st_mode) == 0o644
    finally:
        os.umask(old)
