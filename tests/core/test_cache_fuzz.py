"""Seeded fuzz of damaged caches (issue 15): whatever happens to the files of a finished
comparison, a rerun exits 0 without a traceback, and its results either equal a clean run's
or come with a warning. Deterministic: the corruptions come from one seeded generator."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.cli import main

ARGS = ["run", "--strategies", "random,entropy", "--initial", "12", "--batch", "4", "--rounds", "4",
        "--subset", "150", "--quiet"]
KEEP = ["strategy", "repeat", "seed", "round", "n_labeled", "test_accuracy", "test_macro_f1", "pool_accuracy",
        "pool_macro_f1", "n_queried"]  # everything but the timings
HOSTILE_META = [None, -1, 2.5, "x", [], {}, 1e308, float("nan"), True, 10**12]
META_FIELDS = ["round", "n_labeled", "test_accuracy", "pool_accuracy", "fit_seconds", "confusion_on", "measure", "state"]


def _results(out: Path) -> list[list[str]]:
    import csv

    with open(out / "rounds.csv") as f:
        rows = list(csv.DictReader(f))
    return [[row[c] for c in KEEP] for row in rows]


def _cli(cache: Path, out: Path, capsys) -> tuple[int, str]:
    code = main([*ARGS, "--cache-dir", str(cache), "--out", str(out)])
    return code, capsys.readouterr().err


def _rewrite(path: Path, meta_changes: dict | None = None, arrays: dict | None = None) -> None:
    with np.load(path, allow_pickle=False) as z:
        data = {name: z[name] for name in z.files}
    meta = json.loads(data.pop("meta").tobytes())
    meta.update(meta_changes or {})
    data.update(arrays or {})
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **data)
    path.write_bytes(buf.getvalue())


def _corrupt(rng: np.random.Generator, cache: Path) -> str:
    """Damage one file of the cache in one of many ways; returns what was done."""
    runs = sorted(p for p in (cache / "runs").iterdir())
    run = runs[rng.integers(len(runs))]
    rounds = sorted(run.glob("round_*.npz"))
    record = rounds[rng.integers(len(rounds))]
    kind = rng.integers(12)
    if kind == 0:
        data = bytearray(record.read_bytes())
        data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        record.write_bytes(bytes(data))
    elif kind == 1:
        data = record.read_bytes()
        record.write_bytes(data[: rng.integers(len(data))])
    elif kind == 2:
        other = next(r for r in runs if r != run) / record.name
        shutil.copyfile(other, record)
    elif kind == 3:
        field = META_FIELDS[rng.integers(len(META_FIELDS))]
        _rewrite(record, {field: HOSTILE_META[rng.integers(len(HOSTILE_META))]})
    elif kind == 4:
        name = ["labeled", "queried", "scores", "predicted", "confusion"][rng.integers(5)]
        hostile = [np.array([10**9, -5]), np.array([1, 1]), np.zeros(3, np.float32), np.zeros((2, 2, 2)),
                   np.array(["a", "b"]), np.array([], dtype=np.int32)][rng.integers(6)]
        _rewrite(record, arrays={name: hostile})
    elif kind == 5:
        record.unlink()
        record.mkdir()
    elif kind == 6:
        record.write_bytes(b"")
    elif kind == 7:
        (run / "spec.json").write_text(["{not json", "[]", '{"n_pool": "many", "initial": -3}', ""][rng.integers(4)])
    elif kind == 8:
        record.unlink()
    elif kind == 9:
        next(iter((cache / "comparisons").glob("*.json"))).write_text(["{", "[1]", '{"runs": 5}'][rng.integers(3)])
    elif kind == 10:
        _rewrite(record, {"round": int(rng.integers(0, 4))})
    else:
        record.unlink()
        os.mkfifo(record)
    return f"{['bit flip', 'truncate', 'foreign record', 'meta', 'array', 'dir', 'empty', 'spec', 'missing', 'comparison', 'round number', 'fifo'][kind]} {record.relative_to(cache)}"


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    assert main([*ARGS, "--cache-dir", str(root / "cache"), "--out", str(root / "out")]) == 0
    return root


def test_damaged_caches_are_recomputed_or_reported(clean, tmp_path, capsys):
    expected = _results(clean / "out")
    rng = np.random.default_rng(15)
    outcomes = []
    for case in range(36):
        cache, out = tmp_path / f"cache{case}", tmp_path / f"out{case}"
        shutil.copytree(clean / "cache", cache)
        what = _corrupt(rng, cache)
        code, err = _cli(cache, out, capsys)
        assert code == 0 and "Traceback" not in err, f"{what}: exit {code}\n{err[-1500:]}"
        same = _results(out) == expected
        assert same or "warning:" in err, f"{what}: results differ from a clean run without a warning"
        again, err2 = _cli(cache, tmp_path / f"again{case}", capsys)  # repaired: the next rerun is clean
        assert again == 0 and _results(tmp_path / f"again{case}") == expected, f"{what}: not repaired\n{err2[-800:]}"
        outcomes.append(what.split(" ")[0])
    assert len(set(outcomes)) >= 8  # the generator reached most kinds of damage
