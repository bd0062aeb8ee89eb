"""The on-disk cache: read back without fitting, resume after SIGKILL, survive corruption and races."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import core.engine.runner
from core.engine.cache import Cache
from core.engine.config import RunConfig
from core.engine.runner import load_comparison, run_comparison

ROOT = Path(__file__).resolve().parents[2]
SMALL = RunConfig(strategies=("random", "hybrid"), initial=12, batch=4, rounds=4, strategy_params={"hybrid": {"clusters": 2}}, subset=300, repeats=2)
COLS = ["strategy", "repeat", "round", "n_labeled", "test_accuracy", "pool_accuracy", "test_macro_f1"]


def frame(config, cache=None):
    return run_comparison(config, cache=cache).frame()[COLS]


def run_keys(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "runs").iterdir())


def test_rerun_reads_everything_back_without_fitting(cache_dir, monkeypatch):
    first = frame(SMALL, Cache(cache_dir))

    def no_fitting(*args, **kwargs):
        raise AssertionError("a cached run computed a round")

    monkeypatch.setattr(core.engine.runner.RunState, "_round", no_fitting)
    again = frame(SMALL, Cache(cache_dir))
    assert again.equals(first)
    assert load_comparison(SMALL, Cache(cache_dir)).frame()[COLS].equals(first)


def test_more_rounds_extend_a_cached_pool_run(cache_dir, monkeypatch):
    short = RunConfig(**{**SMALL.to_dict(), "rounds": 2})
    frame(short, Cache(cache_dir))
    fits = []
    original = core.engine.runner.RunState._round
    monkeypatch.setattr(core.engine.runner.RunState, "_round", lambda self, index: fits.append(index) or original(self, index))
    extended = frame(SMALL, Cache(cache_dir))
    assert sorted(set(fits)) == [2, 3]  # rounds 0-1 came from the cache
    assert extended.equals(frame(SMALL))


def test_cache_holds_no_pickle(cache_dir):
    frame(SMALL, Cache(cache_dir))
    for record in (cache_dir / "runs").rglob("round_*.npz"):
        with np.load(record, allow_pickle=False) as z:
            assert all(z[name].dtype != object for name in z.files)
    assert not list(cache_dir.rglob("*.pkl")) and not list(cache_dir.rglob("*.pickle"))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "missing_field"])
def test_corrupt_record_is_reported_and_recomputed(cache_dir, damage, caplog):
    expected = frame(SMALL, Cache(cache_dir))
    record = run_keys(cache_dir)[0] / "round_0002.npz"
    data = record.read_bytes()
    if damage == "truncate":
        record.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        record.write_bytes(b"\x00not a zip" * 40)
    elif damage == "empty":
        record.write_bytes(b"")
    else:
        with np.load(record) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(arrays["meta"].tobytes())
        del meta["n_labeled"]
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(record.with_name("x.npz"), **arrays)
        os.replace(record.with_name("x.npz"), record)
    cache = Cache(cache_dir)
    again = frame(SMALL, cache)
    assert again.equals(expected)
    assert "round_0002.npz is corrupt" in caplog.text
    assert (record.parent / "round_0002.npz.corrupt").exists()  # kept aside for inspection
    with np.load(record, allow_pickle=False) as z:  # and a good record is back in its place
        assert json.loads(z["meta"].tobytes())["round"] == 2


def test_bit_flip_inside_a_record_is_detected(cache_dir):
    frame(SMALL, Cache(cache_dir))
    record = run_keys(cache_dir)[0] / "round_0001.npz"
    with zipfile.ZipFile(record) as z:
        info = z.getinfo("scores.npy")
    data = bytearray(record.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF  # inside the stored scores array
    record.write_bytes(bytes(data))
    store = Cache(cache_dir).run(record.parent.name)
    assert len(store.load_rounds()) == 1
    assert "round_0001.npz is corrupt" in store.problems[0]


def test_stale_temporary_files_of_a_killed_writer_are_cleaned(cache_dir):
    frame(SMALL, Cache(cache_dir))
    run_dir = run_keys(cache_dir)[0]
    (run_dir / ".tmp-12345").write_bytes(b"half a record")
    (run_dir / "round_0003.npz").unlink()
    frame(SMALL, Cache(cache_dir))
    assert not list(run_dir.glob(".tmp-*"))
    assert (run_dir / "round_0003.npz").exists()


def cli(cache_dir: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "core", "run", "--learner", "label_spreading", "--strategies", "entropy,random",
            "--initial", "20", "--batch", "10", "--rounds", "25", "--subset", "1000", "--seed", "1",
            "--cache-dir", str(cache_dir), "--out", str(out), "--quiet", *extra]


def count_rounds(cache_dir: Path) -> int:
    return len(list((cache_dir / "runs").glob("*/round_*.npz"))) if (cache_dir / "runs").exists() else 0


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_resumes_to_identical_results(tmp_path):
    cache_dir = tmp_path / "cache"
    proc = subprocess.Popen(cli(cache_dir, tmp_path / "a"), cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while count_rounds(cache_dir) < 8 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = count_rounds(cache_dir)
    assert 0 < done_before < 50
    subprocess.run(cli(cache_dir, tmp_path / "b"), cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    subprocess.run(cli(tmp_path / "fresh", tmp_path / "c", "--no-cache"), cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    resumed = (tmp_path / "b" / "rounds.csv").read_text().splitlines()
    uninterrupted = (tmp_path / "c" / "rounds.csv").read_text().splitlines()
    keep = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12]  # everything but the timings
    pick = lambda lines: [[row.split(",")[i] for i in keep] for row in lines]  # noqa: E731
    assert pick(resumed) == pick(uninterrupted)
    assert count_rounds(cache_dir) == 50


@pytest.mark.slow
def test_two_processes_running_the_same_config_leave_a_valid_cache(tmp_path):
    cache_dir = tmp_path / "cache"
    procs = [subprocess.Popen(cli(cache_dir, tmp_path / f"out{i}"), cwd=ROOT, stderr=subprocess.PIPE) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]
    a, b = ((tmp_path / f"out{i}" / "rounds.csv").read_text().splitlines() for i in range(2))
    strip = lambda lines: [r.split(",")[:9] for r in lines]  # noqa: E731
    assert strip(a) == strip(b)
    for store in (Cache(cache_dir).run(p.name) for p in run_keys(cache_dir)):
        assert len(store.load_rounds()) == 25 and not store.problems


def test_unreadable_comparison_manifest_is_skipped(cache_dir):
    run_comparison(SMALL, cache=Cache(cache_dir))
    (cache_dir / "comparisons" / "broken.json").write_text("{not json")
    listed = Cache(cache_dir).comparisons()
    assert [c["key"] for c in listed] == [SMALL.key()]
    assert listed[0]["status"] == "done" and len(listed[0]["runs"]) == 4


def test_unwritable_cache_directory_fails_before_any_work(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(PermissionError, match="not writable"):
        run_comparison(SMALL, cache=Cache(blocked / "cache"))
