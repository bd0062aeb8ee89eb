"""Seeded fuzz of labelling project files: damaged, hostile or truncated, every command ends in its clean
result or one line naming the problem, never a traceback; nothing outside the named folders is written and
the undamaged project keeps every decision."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.labels.io import import_folder
from core.labels.store import LabelStore, ProjectError

N_CASES = 60

HOSTILE_SQL = [
    "CREATE TRIGGER t AFTER INSERT ON events BEGIN DELETE FROM events; END",
    "CREATE TRIGGER t2 BEFORE UPDATE ON meta BEGIN SELECT 1; END",
    "CREATE VIEW v AS SELECT 1",
    "DROP VIEW current",
    "DROP TABLE claims",
    "DROP TABLE rounds",
    "ALTER TABLE events ADD COLUMN extra",
    "UPDATE classes SET name = '../../pwned' WHERE id = 1",
    "UPDATE classes SET name = '/tmp/pwned' WHERE id = 1",
    "UPDATE classes SET name = '" + "x" * 300 + "' WHERE id = 1",
    "UPDATE classes SET name = 7 WHERE id = 1",
    "UPDATE items SET path = '../../../etc/passwd.png' WHERE id = 1",
    "UPDATE items SET path = '/etc/hostname' WHERE id = 1",
    "UPDATE items SET path = 'a/../../b.png' WHERE id = 1",
    "UPDATE items SET path = x'00ff' WHERE id = 1",
    "UPDATE events SET ms = 'lots'",
    "UPDATE events SET ms = -5",
    "UPDATE events SET at = 'now'",
    "UPDATE events SET annotator = 12",
    "UPDATE meta SET value = '/' WHERE key = 'root'",
    "UPDATE meta SET value = 'does/not/exist' WHERE key = 'root'",
    "DELETE FROM meta WHERE key = 'root'",
    "UPDATE meta SET value = 'lots' WHERE key = 'schema_version'",
    "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
    "PRAGMA application_id = 0",
    "DELETE FROM classes",
]


def _damage(path: Path, rng: np.random.Generator) -> str:
    """Damage the project file one way, drawn from `rng`; returns what was done."""
    kind = rng.integers(4)
    data = bytearray(path.read_bytes())
    if kind == 0:
        cut = int(rng.integers(0, len(data)))
        path.write_bytes(bytes(data[:cut]))
        return f"truncated to {cut} bytes"
    if kind == 1:
        where = rng.integers(0, len(data), size=int(rng.integers(1, 40)))
        for i in where:
            data[i] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(data))
        return f"flipped {len(where)} bytes"
    statements = [HOSTILE_SQL[i] for i in rng.choice(len(HOSTILE_SQL), size=int(rng.integers(1, 3)), replace=False)]
    conn = sqlite3.connect(path)
    for statement in statements:
        try:
            conn.execute(statement)
        except sqlite3.DatabaseError:  # e.g. dropping what an earlier statement dropped
            pass
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return "; ".join(statements)


@pytest.fixture
def original(tmp_path):
    root = tmp_path / "work" / "images"
    rng = np.random.default_rng(0)
    for i in range(12):
        (root / ("cat" if i % 2 else "dog")).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(
            root / ("cat" if i % 2 else "dog") / f"{i}.png")
    store = LabelStore.create(root / "p.db", root)
    import_folder(store)
    store.decide(store.item_id("cat/1.png"), "skip", annotator="ann", ms=400)
    store.record_round(strategy="entropy", learner="logistic", params={}, n_labeled=12, metrics={},
                       proposals=[(1, 0, 0.5, 0.1)])
    store.close()
    conn = sqlite3.connect(store.path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return store.path


def test_damaged_and_hostile_project_files_end_in_a_result_or_one_line(original, tmp_path, capsys):
    rng = np.random.default_rng(20)
    expected = LabelStore(original).labels()
    outcomes = {"clean": 0, "one line": 0}
    for case in range(N_CASES):
        work = tmp_path / f"case{case}"
        shutil.copytree(original.parent, work / "images")
        db = work / "images" / "p.db"
        for suffix in ("-wal", "-shm"):
            (work / "images" / ("p.db" + suffix)).unlink(missing_ok=True)
        what = _damage(db, rng)
        for args in (["status", "--json"], ["export", "csv", str(work / "out" / "l.csv")],
                     ["export", "jsonl", str(work / "out" / "l.jsonl")],
                     ["export", "tree", str(work / "out" / "tree"), "--copy"],
                     ["import", str(work / "images")], ["classes", "bird"]):
            code = main(["label", *args, "--db", str(db)])  # a traceback fails the test here
            err = capsys.readouterr().err.strip()
            assert code in (0, 2), (what, args, code)
            if code == 2:
                assert len(err.splitlines()) == 1 and "Traceback" not in err, (what, args, err)
                outcomes["one line"] += 1
            else:
                outcomes["clean"] += 1
        try:  # the Label page's path: open, claim, decide, undo
            store = LabelStore(db)
        except ProjectError:
            outcomes["one line"] += 1
        else:
            claimed = store.claim("fuzz", 1, session="tab")
            if claimed:
                store.decide(claimed[0].item_id, "unsure", annotator="fuzz", expected=claimed[0].last_event,
                             session="tab")
                assert store.undo("fuzz", session="tab").item_id == claimed[0].item_id
            store.close()
            outcomes["clean"] += 1
        # nothing lands outside the case's own folder
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("case")) == ["work"], what
        assert not Path("/tmp/pwned").exists()
    assert LabelStore(original).labels() == expected  # the undamaged project is untouched
    assert outcomes["clean"] and outcomes["one line"]
