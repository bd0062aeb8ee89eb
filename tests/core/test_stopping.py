"""Cancel (SIGTERM) and Ctrl-C (SIGINT) stop a run within seconds, even inside a backbone's feature extraction,
with one line saying what was kept; a rerun resumes (issue 21.7)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def folder_and_weights(tmp_path_factory):
    import torch
    from torchvision.models import resnet18

    root = tmp_path_factory.mktemp("stop")
    rng = np.random.default_rng(0)
    for c, name in enumerate(("red", "green", "blue")):
        (root / "images" / name).mkdir(parents=True)
        for i in range(40):
            pixels = rng.integers(0, 60, (16, 16, 3)).astype(np.uint8)
            pixels[:, :, c] += 180
            Image.fromarray(pixels).save(root / "images" / name / f"img{i}.png")
    torch.manual_seed(1)
    torch.save(resnet18().state_dict(), root / "resnet18.pth")
    return root / "images", root / "resnet18.pth"


def _command(images, weights, cache):
    # 160 px with one thread: extracting the 120 images takes many seconds, a batch of 8 well under one
    return [sys.executable, "-m", "core", "run", "--dataset", "folder", "--data-dir", str(images), "--image-size", "16",
            "--learner", "pretrained", "--learner-param", f"weights={weights}", "--learner-param", "input_size=160",
            "--learner-param", "batch_size=8", "--learner-param", "threads=1", "--strategies", "random",
            "--initial", "6", "--batch", "3", "--rounds", "2", "--test-size", "0.25", "--cache-dir", str(cache),
            "--out", str(cache.parent / "out"), "--quiet"]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_extraction_stops_within_seconds_with_one_line_and_a_rerun_resumes(tmp_path, folder_and_weights,
                                                                                         signum):
    images, weights = folder_and_weights
    cache = tmp_path / "cache"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ALBENCH_CACHE_DIR": str(tmp_path / "datasets")}
    proc = subprocess.Popen(_command(images, weights, cache), stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    features = cache / "features"
    deadline = time.monotonic() + 120
    while not list(features.glob("*/part_*.npy")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # the extraction has started and kept its first part
    assert proc.poll() is None, proc.communicate()[1]
    sent = time.monotonic()
    proc.send_signal(signum)
    stderr = proc.communicate(timeout=120)[1]
    took = time.monotonic() - sent
    assert proc.returncode == 130
    assert took < 5, f"took {took:.1f} s to stop"  # the rest of the extraction alone takes far longer
    assert "Traceback" not in stderr
    (line,) = [line for line in stderr.splitlines() if line.startswith("cancelled")]
    name = signal.Signals(signum).name
    assert re.search(rf"stopped by {name} during resnet18 .* extraction .*; \d+ of 120 images' features kept in "
                     rf".*; 0 completed rounds cached; rerun to resume", line), line
    kept = int(re.search(r"(\d+) of 120 images' features kept", line).group(1))
    assert 0 < kept < 120

    rerun = subprocess.run(_command(images, weights, cache), capture_output=True, text=True, env=env, cwd=ROOT,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"feature store hit: resnet18 (resnet18.pth, 160px) for {kept} of 120 images" in rerun.stderr


def test_a_stop_request_ends_a_cnn_fit_between_mini_batches(monkeypatch):
    """Before, a stop waited for the round: every epoch of the fit (minutes with many labels)."""
    from core.learners import make_learner
    from core.stopping import Cancelled, request_stop, reset
    from core.types import DataInfo

    info = DataInfo(3, (8, 8, 3), 1 / 255, ("a", "b", "c"))
    learner = make_learner("cnn", info, seed=0, epochs=10_000, min_steps=0, channels="8,8,8", hidden=8)
    X = np.random.default_rng(0).integers(0, 255, (64, 8, 8, 3)).astype(np.uint8)
    y = np.arange(64) % 3
    previous = signal.signal(signal.SIGALRM, lambda *_: request_stop("stopped by SIGALRM"))
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    started = time.monotonic()
    try:
        with pytest.raises(Cancelled, match="stopped by SIGALRM during a cnn fit"):
            learner.fit(X, y)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        reset()
    assert time.monotonic() - started < 5  # 10,000 epochs would take minutes
