"""The cache owns its files: named pipes never hang, symlinked run folders are never written
through, crafted npz files cost nothing before they are refused, one atomic write with the umask's mode."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.engine.cache import Cache, CacheError

from core.files import NotRegularFile, atomic_output, file_sha256, open_regular, save_npy_atomic
from core.cli import main

ROOT = Path(__file__).resolve().parents[2]
RUN = ["run", "--strategies", "random", "--rounds", "2", "--repeats", "1", "--quiet"]


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter under `timeout` (SIGTERM after 30 s): exit status 124 means it hung."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(["timeout", "30", sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True)


def _cached_run(tmp_path: Path) -> tuple[Path, Path]:
    cache = tmp_path / "cache"
    assert main([*RUN, "--cache-dir", str(cache), "--out", str(tmp_path / "out")]) == 0
    (run,) = (cache / "runs").iterdir()
    return cache, run


def _one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def test_a_named_pipe_as_spec_json_is_reported_and_the_rerun_finishes(tmp_path):
    cache, run = _cached_run(tmp_path)
    (run / "spec.json").unlink()
    os.mkfifo(run / "spec.json")
    (run / "round_0001.npz").unlink()  # something to recompute
    done = _python(f"from core.cli import main; raise SystemExit(main({[*RUN, '--cache-dir', str(cache), '--out', str(tmp_path / 'o2')]!r}))",
                   tmp_path)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert "spec.json is a named pipe, not a regular file" in done.stderr and "Traceback" not in done.stderr


def test_a_named_pipe_as_a_comparison_record_is_skipped_by_the_listing(tmp_path):
    cache, _ = _cached_run(tmp_path)
    os.mkfifo(cache / "comparisons" / ("0" * 16 + ".json"))
    done = _python(f"from core.engine.cache import Cache; print(len(Cache({str(cache)!r}).comparisons()))", tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "1", (done.returncode, done.stderr)


def test_a_named_pipe_as_a_comparison_lock_makes_delete_refuse_in_one_line(tmp_path):
    cache, _ = _cached_run(tmp_path)
    (key,) = [c["key"] for c in Cache(cache).comparisons()]
    lock = cache / "comparisons" / f"{key}.lock"
    lock.unlink(missing_ok=True)
    os.mkfifo(lock)
    done = _python(f"""
from core.engine.cache import Cache, CacheError
try:
    Cache({str(cache)!r}).delete_comparison({key!r})
except CacheError as exc:
    print(exc)
""", tmp_path)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert "not a regular file (a named pipe)" in _one_line(done.stdout)
    assert (cache / "comparisons" / f"{key}.json").exists()  # nothing deleted


def test_a_named_pipe_as_a_run_lock_is_one_error_line(tmp_path):
    cache, run = _cached_run(tmp_path)
    (run / ".lock").unlink()
    os.mkfifo(run / ".lock")
    (run / "round_0001.npz").unlink()
    code = f"from core.cli import main; raise SystemExit(main({[*RUN, '--cache-dir', str(cache), '--out', str(tmp_path / 'o2')]!r}))"
    done = _python(code, tmp_path)
    assert done.returncode not in (0, 124), done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "error" in line]
    assert ".lock is not a regular file (a named pipe)" in line and "Traceback" not in done.stderr


def test_file_sha256_of_a_named_pipe_refuses_at_once_and_label_init_skips_it(tmp_path):
    folder = tmp_path / "images"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "x.png").write_bytes(b"not really a png")
    os.mkfifo(folder / "a" / "pipe.png")
    done = _python(f"""
from core.files import file_sha256, NotRegularFile
try:
    file_sha256({str(folder / 'a' / 'pipe.png')!r})
except NotRegularFile as exc:
    print(exc)
from core.cli import main
raise SystemExit(main(["label", "init", {str(folder)!r}, "--classes", "a"]))
""", tmp_path)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert done.stdout.splitlines()[0].endswith("pipe.png is a named pipe, not a regular file")


def test_open_regular_refuses_devices_directories_and_unwanted_symlinks(tmp_path):
    with pytest.raises(NotRegularFile, match="character device"):
        open_regular("/dev/null")
    with pytest.raises(NotRegularFile, match="directory"):
        open_regular(tmp_path)
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "f")
    assert open_regular(tmp_path / "link").read() == b"x"
    with pytest.raises(NotRegularFile, match="symlink"):
        open_regular(tmp_path / "link", follow_symlinks=False)
    assert file_sha256(tmp_path / "f") == file_sha256(tmp_path / "link")


@pytest.mark.parametrize("linked", ["run", "runs"])
def test_a_symlinked_run_folder_is_never_written_through(tmp_path, linked, capsys):
    cache, run = _cached_run(tmp_path)
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / ".tmp-precious").write_text("someone else's file")
    moved = cache / "runs" if linked == "runs" else run
    os.replace(moved, tmp_path / "moved-away")
    moved.symlink_to(target, target_is_directory=True)
    capsys.readouterr()
    code = main([*RUN, "--cache-dir", str(cache), "--out", str(tmp_path / "o2")])
    err = capsys.readouterr().err
    assert code != 0 and "is a symlink; refused" in err
    assert sorted(p.name for p in target.rglob("*")) == [".tmp-precious"]  # nothing written, nothing deleted


def _bomb(path: Path, n_bytes: int) -> None:
    """A small npz whose one member inflates to `n_bytes` (a valid .npy of zeros)."""
    header = bytearray()
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": (n_bytes,)})
    header = buf.getvalue()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("meta.npy", "w", force_zip64=True) as member:
            member.write(header)
            block = bytes(1 << 20)
            for _ in range(n_bytes >> 20):
                member.write(block)


def test_a_zip_bomb_round_record_is_refused_from_its_directory(tmp_path):
    import tracemalloc

    cache, run = _cached_run(tmp_path)
    _bomb(run / "round_0001.npz", 300 << 20)
    assert (run / "round_0001.npz").stat().st_size < 2 << 20
    tracemalloc.start()
    store = Cache(cache).run(run.name)
    rounds = store.load_rounds()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(rounds) == 1 and "would expand to" in store.problems[0]
    assert peak < 20 << 20, f"{peak / 2**20:.0f} MiB allocated before the record was refused"


def test_an_array_header_claiming_more_than_its_member_is_refused(tmp_path):
    cache, run = _cached_run(tmp_path)
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    with zipfile.ZipFile(run / "state_0000.npz", "w") as z:
        z.writestr("weights.npy", buf.getvalue() + bytes(64))
    store = Cache(cache).run(run.name)
    assert store.read_state(0) is None and "claims shape" in store.problems[0]


def test_atomic_writes_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        save_npy_atomic(tmp_path / "a.npy", np.arange(3))
        with atomic_output(tmp_path / "features.npy", suffix=".npy") as tmp:
            np.save(tmp, np.zeros((2, 2), np.float32))
    finally:
        os.umask(old)
    assert (tmp_path / "a.npy").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "features.npy").stat().st_mode & 0o777 == 0o644
    assert np.load(tmp_path / "features.npy").shape == (2, 2)
    assert not list(tmp_path.glob(".tmp-*"))


def test_features_npy_follows_the_umask_like_every_other_cache_file(tmp_path):
    from core.engine.features import FeatureStore

    old = os.umask(0o022)
    try:
        store = FeatureStore(tmp_path, {"test": "umask"}, 10, chunk_rows=4)
        store.compute(np.zeros((10, 2, 2, 1), np.uint8), lambda x: np.ones((len(x), 3), np.float32))
    finally:
        os.umask(old)
    assert (store.directory / "features.npy").stat().st_mode & 0o777 == 0o644  # was 0600 (mkstemp's mode)


@pytest.mark.parametrize("record", ['{"config": 5}', '[]', '{', '{"config": {}, "units": [{"key": "../../etc"}]}',
                                    '{"config": {}, "units": "x"}', '{"config": {}, "runs": [1]}',
                                    '{"config": {}, "status": {"a": 1}}', '"\\u0000"'])
def test_one_malformed_comparison_record_does_not_hide_the_others(tmp_path, record):
    cache, _ = _cached_run(tmp_path)
    (cache / "comparisons" / ("f" * 16 + ".json")).write_text(record)
    listed = Cache(cache).comparisons()
    assert len(listed) == 1 and listed[0]["key"] != "f" * 16
    item = listed[0]  # what the Runs page reads of every listed record
    assert isinstance(item["config"].get("rounds"), int)
    assert all(Cache(cache).run(unit["key"]).round_indices() for unit in item["units"])


def test_named_pipes_in_every_other_cache_folder_are_refused_at_once(tmp_path, capsys):
    import signal

    from core.engine import jobs
    from core.sweep.status import read_statuses
    from core.analysis.ceiling import _ceiling_path, _read_ceiling

    def hung(signum, frame):
        raise TimeoutError("blocked on a named pipe")

    cache, _ = _cached_run(tmp_path)
    (stored,) = (cache / "figures").glob("curves-*.html")
    stored.unlink()
    os.mkfifo(stored)
    (cache / "sweeps").mkdir()
    os.mkfifo(cache / "sweeps" / ("a" * 16 + ".json"))
    ceiling = _ceiling_path(Cache(cache), "b" * 16)
    ceiling.parent.mkdir(parents=True)
    os.mkfifo(ceiling)
    (cache / "jobs").mkdir()
    os.mkfifo(jobs.log_path(cache, "run-x"))
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        capsys.readouterr()
        assert main([*RUN, "--cache-dir", str(cache), "--out", str(tmp_path / "new-out")]) == 0  # chart drawn again
        assert "named pipe" in capsys.readouterr().err and (tmp_path / "new-out" / "curves.html").stat().st_size > 10**6
        assert read_statuses(Cache(cache)) == []
        assert _read_ceiling(Cache(cache), "b" * 16) is None
        assert "named pipe" in jobs._log_tail(cache, "run-x")
        with pytest.raises(NotRegularFile):
            jobs.start(cache, "run-x", ["true"], kind="run")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
