"""Hostile or damaged caches (issue 15): deletes stay inside the cache and wait for writers,
foreign or impossible records are recomputed, layout faults are one clear error."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import core.engine.cache
from core.engine.cache import Cache, CacheError, RunInUse
from core.files import atomic_write_bytes
from core.engine.config import RunConfig
from core.engine.runner import Cancelled, load_comparison, run_comparison

ROOT = Path(__file__).resolve().parents[2]
SMALL = RunConfig(strategies=("random", "entropy"), initial=12, batch=4, rounds=3, subset=200, repeats=1)
COLS = ["strategy", "repeat", "round", "n_labeled", "test_accuracy", "pool_accuracy"]


def frame(config, cache=None):
    return run_comparison(config, cache=cache).frame()[COLS]


def run_dirs(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "runs").iterdir())


# --- delete stays inside the cache ---------------------------------------------------------

@pytest.mark.parametrize("planted", ["../../victim", "ABSOLUTE"])
def test_delete_refuses_a_comparison_whose_runs_point_outside_the_cache(cache_dir, tmp_path, planted):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    frame(SMALL, Cache(cache_dir))
    record = cache_dir / "comparisons" / f"{SMALL.key()}.json"
    item = json.loads(record.read_text())
    item["runs"].append(str(victim) if planted == "ABSOLUTE" else planted)
    record.write_text(json.dumps(item))
    with pytest.raises(CacheError, match="malformed.*nothing deleted"):
        Cache(cache_dir).delete_comparison(SMALL.key())
    assert (victim / "precious.txt").read_text() == "keep me"
    assert record.exists() and len(run_dirs(cache_dir)) == 2  # nothing was acted on


def test_delete_refuses_a_key_that_is_not_a_cache_key(cache_dir, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    Cache(cache_dir).check_writable()
    with pytest.raises(CacheError, match="not a cache key"):
        Cache(cache_dir).delete_comparison("../../outside")
    assert outside.exists()


def test_delete_removes_a_comparison_and_its_unshared_runs(cache_dir):
    frame(SMALL, Cache(cache_dir))
    other = RunConfig(**{**SMALL.to_dict(), "strategies": ("random",)})  # shares the random run
    frame(other, Cache(cache_dir))
    Cache(cache_dir).delete_comparison(SMALL.key())
    assert [c["key"] for c in Cache(cache_dir).comparisons()] == [other.key()]
    assert len(run_dirs(cache_dir)) == 1  # the shared random run stays
    assert not list((cache_dir / "runs").glob(".deleting-*"))


HOLD_LOCK = """
import fcntl, sys
handle = open(sys.argv[1], "a+")
fcntl.flock(handle, fcntl.LOCK_SH if sys.argv[2] == "shared" else fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("which", ["run", "comparison"])
def test_delete_refuses_while_another_process_computes(cache_dir, which):
    frame(SMALL, Cache(cache_dir))
    lock = (run_dirs(cache_dir)[0] / ".lock") if which == "run" else (cache_dir / "comparisons" / f"{SMALL.key()}.lock")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock), "shared" if which == "comparison" else "ex"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInUse, match="being computed by another process"):
            Cache(cache_dir).delete_comparison(SMALL.key())
        assert (cache_dir / "comparisons" / f"{SMALL.key()}.json").exists() and len(run_dirs(cache_dir)) == 2
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    Cache(cache_dir).delete_comparison(SMALL.key())  # the writer is gone: now it goes
    assert Cache(cache_dir).comparisons() == [] and run_dirs(cache_dir) == []


def test_a_running_comparison_holds_its_lock(cache_dir):
    seen = []

    def try_delete(spec, result, from_cache):
        if not seen:
            with pytest.raises(RunInUse):
                Cache(cache_dir).delete_comparison(SMALL.key())
        seen.append(result.round)

    run_comparison(SMALL, cache=Cache(cache_dir), on_round=try_delete)
    assert seen and Cache(cache_dir).read_comparison(SMALL.key())["status"] == "done"


# --- records that lie --------------------------------------------------------------------

def _rewrite(path: Path, **changes) -> None:
    with np.load(path, allow_pickle=False) as z:
        data = {name: z[name] for name in z.files}
    meta = json.loads(data.pop("meta").tobytes())
    meta.update(changes.pop("meta", {}))
    data.update(changes)
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **data)
    path.write_bytes(buf.getvalue())  # a valid zip with valid CRCs


def _clean(tmp_path):
    return frame(SMALL, Cache(tmp_path / "clean"))


def test_a_record_copied_from_another_run_is_recomputed(cache_dir, tmp_path, caplog):
    expected = _clean(tmp_path)
    frame(SMALL, Cache(cache_dir))
    a, b = run_dirs(cache_dir)
    (b / "round_0001.npz").write_bytes((a / "round_0001.npz").read_bytes())
    assert frame(SMALL, Cache(cache_dir)).equals(expected)
    assert "belongs to run" in caplog.text
    assert (b / "round_0001.npz.corrupt").exists()


@pytest.mark.parametrize("change, why", [
    ({"queried": np.array([10**9, -5], dtype=np.int64)}, "outside the pool"),
    ({"queried": np.array([3, 3], dtype=np.int32)}, "repeat"),
    ({"labeled": np.arange(5, dtype=np.int32), "meta": {"n_labeled": 5}}, "labelled set"),
    ({"meta": {"test_accuracy": 7.5}}, "metric"),
    ({"meta": {"round": "one"}}, "integers"),
    ({"meta": {"state": [1, 2]}}, "wrong type"),
    ({"scores": np.zeros(3, dtype=np.float32)}, "pool of"),
])
def test_a_crc_valid_but_impossible_record_is_recomputed(cache_dir, tmp_path, caplog, change, why):
    expected = _clean(tmp_path)
    frame(SMALL, Cache(cache_dir))
    record = run_dirs(cache_dir)[0] / "round_0001.npz"
    _rewrite(record, **change)
    store = Cache(cache_dir).run(record.parent.name)
    assert len(store.load_rounds()) == 1 and why in store.problems[0]
    assert frame(SMALL, Cache(cache_dir)).equals(expected)


FIFO_READ = """
import sys
from core.engine.cache import Cache
store = Cache(sys.argv[1]).run(sys.argv[2])
print(len(store.load_rounds(repair=True)), store.problems[0])
"""


def test_a_fifo_named_like_a_record_does_not_hang(cache_dir):
    frame(SMALL, Cache(cache_dir))
    record = run_dirs(cache_dir)[0] / "round_0002.npz"
    record.unlink()
    os.mkfifo(record)
    out = subprocess.run([sys.executable, "-c", FIFO_READ, str(cache_dir), record.parent.name], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("2 ") and "not a regular file" in out.stdout
    assert not record.exists() and stat.S_ISFIFO(record.with_name("round_0002.npz.corrupt").stat().st_mode)


# --- layout faults and read-only caches --------------------------------------------------

def test_a_lock_that_is_a_directory_is_a_clear_error(cache_dir):
    frame(SMALL, Cache(cache_dir))
    run = run_dirs(cache_dir)[0]
    (run / ".lock").unlink()
    (run / ".lock").mkdir()
    (run / "round_0002.npz").unlink()  # something left to compute
    with pytest.raises(CacheError, match=r"\.lock is not a regular file"):
        run_comparison(SMALL, cache=Cache(cache_dir))


@pytest.mark.parametrize("sub", ["runs", "comparisons"])
def test_a_cache_whose_subdirectory_is_a_file_is_a_clear_error(cache_dir, sub):
    cache_dir.mkdir()
    (cache_dir / sub).write_text("oops")
    with pytest.raises(CacheError, match=f"'{sub}' is a file"):
        run_comparison(SMALL, cache=Cache(cache_dir))


def test_a_finished_comparison_reads_from_a_cache_that_cannot_be_written(cache_dir, monkeypatch):
    expected = frame(SMALL, Cache(cache_dir))

    def read_only(self):
        raise PermissionError(f"cache directory {str(self.root)!r} is not writable (Read-only file system)")

    def no_lock(self):
        raise AssertionError("a read-only cache must not be locked")

    monkeypatch.setattr(Cache, "check_writable", read_only)
    monkeypatch.setattr(core.engine.cache.RunStore, "lock", no_lock)
    assert frame(SMALL, Cache(cache_dir)).equals(expected)
    longer = RunConfig(**{**SMALL.to_dict(), "rounds": 4})  # needs a new round: the error stands
    with pytest.raises(PermissionError, match="not writable"):
        run_comparison(longer, cache=Cache(cache_dir))


def test_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.npz", b"x")
        assert stat.S_IMODE((tmp_path / "a.npz").stat().st_mode) == 0o644
        os.umask(0o077)
        atomic_write_bytes(tmp_path / "b.npz", b"x")
        assert stat.S_IMODE((tmp_path / "b.npz").stat().st_mode) == 0o600
    finally:
        os.umask(old)


# --- reading a growing comparison --------------------------------------------------------

def test_rereading_a_comparison_decodes_only_new_records(cache_dir, monkeypatch):
    short = RunConfig(**{**SMALL.to_dict(), "rounds": 2})
    run_comparison(short, cache=Cache(cache_dir))
    decoded = []
    original = core.engine.cache._decode_round
    monkeypatch.setattr(core.engine.cache, "_decode_round", lambda path: decoded.append(path.name) or original(path))
    load_comparison(short, Cache(cache_dir))
    first = len(decoded)
    run_comparison(SMALL, cache=Cache(cache_dir))  # one more round per run
    decoded.clear()
    assert len(load_comparison(SMALL, Cache(cache_dir)).frame()) == 6
    assert sorted(decoded) == ["round_0002.npz"] * 2 and first <= 4


def test_a_cancelled_comparison_has_rounds_of_every_strategy(cache_dir):
    config = RunConfig(strategies=("random", "entropy", "least_confidence"), initial=12, batch=4, rounds=6,
                       subset=200, repeats=2)
    done = []
    with pytest.raises(Cancelled):
        run_comparison(config, cache=Cache(cache_dir), on_round=lambda s, r, c: done.append(s.strategy),
                       should_stop=lambda: len(done) >= 7)
    partial = load_comparison(config, Cache(cache_dir)).frame()
    per_strategy = partial[partial.repeat == 0].groupby("strategy").size()
    assert set(per_strategy.index) == set(config.strategies)
    assert per_strategy.max() - per_strategy.min() <= 1
