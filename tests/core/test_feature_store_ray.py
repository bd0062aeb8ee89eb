"""Feature extraction on Ray (issue 22.5): a store's chunks as Ray tasks on a local cluster with 2 workers, one
killed mid-way, give the same features, bit for bit, as one process; what came back is kept for a rerun."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from core.engine.feature_store import FeatureStore, RayChunks, forget_loaded_features  # noqa: E402

FIELDS = {"data": "ray", "backbone": "fake"}


def extract(X: np.ndarray) -> np.ndarray:
    """A stand-in backbone: a fixed float32 function of the pixels."""
    flat = X.reshape(len(X), -1).astype(np.float32)
    return np.tanh(flat[:, :16] / 255 - flat[:, 16:32] / 511) * 3


class DiesOnce:
    """The extractor as Ray tasks run it: notes its worker's pid; the first task to run kills its worker."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __call__(self, X: np.ndarray) -> np.ndarray:
        open(os.path.join(self.folder, f"pid_{os.getpid()}"), "w").close()
        try:
            fd = os.open(os.path.join(self.folder, "killed"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return extract(X)
        os.close(fd)
        os._exit(1)  # the worker dies mid-task, as when a node goes away


class Counting:
    """The extractor, leaving one file per task holding how many images it extracted."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __call__(self, X: np.ndarray) -> np.ndarray:
        import uuid

        with open(os.path.join(self.folder, f"call_{uuid.uuid4().hex}"), "w") as f:
            f.write(str(len(X)))
        return extract(X)


@pytest.fixture(scope="module")
def local_ray():
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import the tests
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_chunks_with_a_killed_worker_equal_one_process_bit_for_bit(tmp_path, local_ray):
    X = np.random.default_rng(0).integers(0, 256, (90, 8, 8, 1), dtype=np.uint8)
    local = FeatureStore(tmp_path / "local", FIELDS, len(X), chunk_rows=16).compute(X, extract)
    forget_loaded_features()

    folder = tmp_path / "workers"
    folder.mkdir()
    store = FeatureStore(tmp_path / "ray", FIELDS, len(X), chunk_rows=16)
    first = store.rows(np.arange(40), X, DiesOnce(str(folder)), chunks_on=RayChunks(max_retries=3))
    np.testing.assert_array_equal(first, local[:40])
    assert (folder / "killed").exists() and len(list(folder.glob("pid_*"))) >= 2  # a worker died; another did it

    forget_loaded_features()  # a later run (or after the driver died): only the parts on disk are left
    again = FeatureStore(tmp_path / "ray", FIELDS, len(X), chunk_rows=16)
    features = again.compute(X, Counting(str(folder)), chunks_on=RayChunks())
    assert features.dtype == np.float32 and np.array_equal(features, local)
    (ray_dir,) = (tmp_path / "ray" / "features").iterdir()
    (local_dir,) = (tmp_path / "local" / "features").iterdir()
    assert (ray_dir / "features.npy").read_bytes() == (local_dir / "features.npy").read_bytes()
    ray_manifest = json.loads((ray_dir / "manifest.json").read_text())
    assert ray_manifest == json.loads((local_dir / "manifest.json").read_text())
    assert sum(int(p.read_text()) for p in folder.glob("call_*")) == 50  # only the rows not kept before


def test_the_pretrained_learner_extracts_on_ray_when_given_an_address(tmp_path, local_ray, monkeypatch):
    """ALBENCH_FEATURES_RAY_ADDRESS sends the backbone's chunks to Ray: the same features as this process."""
    from core.learners import make_learner
    from core.types import Dataset

    X = np.random.default_rng(1).integers(0, 256, (24, 16, 16, 3), dtype=np.uint8)
    dataset = Dataset("tiny", X, np.arange(24) % 3, ("a", "b", "c"))
    params = {"backbone": "mobilenet_v3_small", "weights": "none", "input_size": 32, "threads": 1, "batch_size": 8}

    def embed(root):
        forget_loaded_features()
        learner = make_learner("pretrained", dataset.info, **params)
        learner.attach(dataset, root)
        return learner.embed(X)

    here = embed(tmp_path / "here")
    monkeypatch.setenv("ALBENCH_FEATURES_RAY_ADDRESS", "auto")
    monkeypatch.setattr(type(make_learner("pretrained", dataset.info, **params)), "_extract",
                        lambda self, part: pytest.fail("extracted in the driver"), raising=True)
    on_ray = embed(tmp_path / "ray")
    np.testing.assert_array_equal(on_ray, here)


def test_run_ray_address_extracts_the_pretrained_features_on_ray(tmp_path, local_ray, monkeypatch, capsys):
    """Issue 22.5: `albench run --ray-address` sends the pretrained learner's chunks to Ray (not a machine setting
    of the comparison: its key is the one without it)."""
    from core.cli import main
    from core.engine.config import RunConfig
    from core.learners.pretrained import RAY_ADDRESS_VARIABLE, PretrainedLearner

    monkeypatch.delenv(RAY_ADDRESS_VARIABLE, raising=False)
    monkeypatch.setattr(PretrainedLearner, "_extract", lambda self, part: pytest.fail("extracted in the driver"))
    args = ["run", "--learner", "pretrained", "--learner-param", "backbone=mobilenet_v3_small",
            "--learner-param", "weights=none", "--learner-param", "input_size=32", "--learner-param", "threads=1",
            "--strategies", "random", "--initial", "10", "--batch", "5", "--rounds", "2", "--subset", "40",
            "--quiet", "--cache-dir", str(tmp_path / "cache")]
    assert main([*args, "--ray-address", "auto", "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    assert RAY_ADDRESS_VARIABLE not in os.environ  # set for the run only
    saved = RunConfig.from_dict(json.loads((tmp_path / "out" / "config.json").read_text()))
    assert saved.ray_address == "auto"
    assert saved.key() == RunConfig.from_dict({**saved.to_dict(), "ray_address": ""}).key()
