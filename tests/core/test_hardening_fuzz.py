"""Seeded fuzz of report inputs and cache files (issue 20): whatever happens to a comparison's rounds.csv
or to the files of its cache, `report` and a rerun end in the clean result or one error line, never a
traceback or a hang, and nothing outside the cache is written. Deterministic: one seeded generator."""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.present.report import add_report_parser, cmd_report

ARGS = ["run", "--strategies", "random,entropy", "--initial", "12", "--batch", "4", "--rounds", "3",
        "--subset", "150", "--repeats", "2", "--quiet"]
HOSTILE_CELLS = ["", " ", "nan", "NaN", "inf", "-inf", "-1", "1.5", "1e300", "abc", "=1+1", "@SUM(A1)", "\x00",
                 "9" * 40, "0x10", "1,5", "-0", "0.5", "3"]


@contextmanager
def _deadline(seconds: int, what: str):
    """A hang becomes a test failure naming the case (SIGALRM interrupts a blocking open())."""
    def fail(signum, frame):
        raise TimeoutError(f"{what}: still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-clean")
    assert main([*ARGS, "--cache-dir", str(root / "cache"), "--out", str(root / "out")]) == 0
    return root


def _report(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    return cmd_report(parser.parse_args(["report", *argv]))


def _damage_rounds(rng: np.random.Generator, path: Path) -> str:
    rows = list(csv.reader(path.open()))
    kind = int(rng.integers(8))
    if kind <= 2:  # one cell
        r, c = int(rng.integers(1, len(rows))), int(rng.integers(len(rows[0])))
        value = HOSTILE_CELLS[rng.integers(len(HOSTILE_CELLS))]
        rows[r][c] = value
        what = f"cell {rows[0][c]}={value!r}"
    elif kind == 3:
        rows.append(list(rows[int(rng.integers(1, len(rows)))]))
        what = "duplicate row"
    elif kind == 4:
        c = int(rng.integers(len(rows[0])))
        rows = [row[:c] + row[c + 1:] for row in rows]
        what = "column dropped"
    elif kind == 5:
        rows = rows[:1]
        what = "header only"
    elif kind == 6:
        data = path.read_bytes()
        path.write_bytes(data[: int(rng.integers(len(data)))])
        return "truncated"
    else:
        path.write_bytes(bytes(rng.integers(0, 256, 300, dtype=np.uint8)))
        return "garbage bytes"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return what


def test_damaged_rounds_csv_gives_a_report_or_one_line(clean, tmp_path, capsys):
    rng = np.random.default_rng(20)
    outcomes = {"report": 0, "refused": 0}
    for case in range(30):
        folder = tmp_path / f"run{case}"
        folder.mkdir()
        shutil.copy(clean / "out" / "rounds.csv", folder / "rounds.csv")
        what = _damage_rounds(rng, folder / "rounds.csv")
        out = tmp_path / f"report{case}"
        with _deadline(60, what):
            code = _report(str(folder), "--out", str(out), "--cache-dir", str(tmp_path / "no-cache"),
                           "--no-images", "--ceiling", "never")
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err, f"{what}: {captured.err[-1500:]}"
        if code == 0:
            verdicts = (out / "verdicts.csv").read_text().lower()
            assert "nan" not in verdicts, f"{what}: the report believed it\n{verdicts}"
            outcomes["report"] += 1
        else:
            errors = [line for line in captured.err.splitlines() if line.strip()]
            assert code == 2 and len(errors) == 1 and "error:" in errors[0], f"{what}: {captured.err}"
            assert not out.exists(), f"{what}: a refused report wrote {out}"
            outcomes["refused"] += 1
    assert outcomes["report"] and outcomes["refused"] >= 10, outcomes


def _bomb(path: Path) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("meta.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (400000000,), }"
                   .ljust(128, b" ")[:127] + b"\n" + bytes(50 << 20))


def _damage_cache(rng: np.random.Generator, cache: Path, outside: Path) -> str:
    runs = sorted((cache / "runs").iterdir())
    run = runs[int(rng.integers(len(runs)))]
    (comparison,) = (cache / "comparisons").glob("*.json")
    targets = {"spec": run / "spec.json", "run lock": run / ".lock", "comparison": comparison,
               "comparison lock": comparison.with_suffix(".lock"), "state": run / "state_0000.npz",
               "round": run / "round_0001.npz"}
    name = list(targets)[int(rng.integers(len(targets)))]
    path = targets[name]
    kind = int(rng.integers(6))
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == 0:
        os.mkfifo(path)
        return f"fifo {name}"
    if kind == 1:
        path.mkdir()
        return f"directory {name}"
    if kind == 2:
        path.symlink_to("/dev/zero")
        return f"symlink to /dev/zero {name}"
    if kind == 3:
        _bomb(path)
        return f"zip bomb {name}"
    if kind == 4:  # the run folder itself replaced by a link out of the cache
        shutil.rmtree(run)
        run.symlink_to(outside, target_is_directory=True)
        return "symlinked run folder"
    path.write_bytes(bytes(rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8)))
    return f"garbage {name}"


def test_damaged_cache_files_rerun_cleanly_or_in_one_line(clean, tmp_path, capsys):
    expected = (clean / "out" / "rounds.csv").read_text().splitlines()
    keep = lambda lines: [",".join(line.split(",")[:9]) for line in lines]  # noqa: E731 (timings differ)
    rng = np.random.default_rng(2017)
    kinds = set()
    for case in range(14):
        cache, out, outside = tmp_path / f"cache{case}", tmp_path / f"out{case}", tmp_path / f"outside{case}"
        shutil.copytree(clean / "cache", cache)
        outside.mkdir()
        (outside / ".tmp-precious").write_text("not the cache's")
        what = _damage_cache(rng, cache, outside)
        with _deadline(60, what):
            code = main([*ARGS, "--cache-dir", str(cache), "--out", str(out)])
        err = capsys.readouterr().err
        assert "Traceback" not in err, f"{what}: {err[-1500:]}"
        if code == 0:
            assert keep((out / "rounds.csv").read_text().splitlines()) == keep(expected), what
        else:
            errors = [line for line in err.splitlines() if "error:" in line]
            assert len(errors) == 1, f"{what}: {err}"
        assert sorted(p.name for p in outside.iterdir()) == [".tmp-precious"], f"{what}: wrote outside the cache"
        kinds.add(what.split(" ")[0])
    assert len(kinds) >= 5, kinds
