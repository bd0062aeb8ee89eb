"""The labelling project's SQLite store: events, undo, claims, compare-and-set, crash safety, bad files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.labels.store import SCHEMA_VERSION, Conflict, LabelStore, ProjectError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    s = LabelStore.create(tmp_path / "project.db", tmp_path)
    s.add_classes(["cat", "dog"])
    s.add_items([(f"img{i}.png", f"hash{i}") for i in range(6)])
    return s


def test_a_new_project_is_marked_as_ours_in_wal_mode(store):
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x616C6262
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.meta("schema_version") == str(SCHEMA_VERSION)
    assert store.root == store.path.parent.resolve()


def test_the_current_label_follows_the_events_and_undo_reverts_the_annotators_last_decision(store):
    a, b = store.item_id("img0.png"), store.item_id("img1.png")
    store.decide(a, "label", annotator="ann", label="cat", ms=800)
    store.decide(a, "label", annotator="ann", label="dog", ms=500, expected=store.last_event(a))
    store.decide(b, "skip", annotator="ann")
    assert store.labels() == {"img0.png": "dog"}
    assert store.current()[b].kind == "skip"
    reverted = store.undo("ann")
    assert reverted.item_id == b and b not in store.current()
    assert store.undo("ann").label == "dog"
    assert store.labels() == {"img0.png": "cat"}  # the earlier decision is in force again
    assert [e.kind for e in store.events()] == ["label", "label", "skip", "undo", "undo"]  # append-only
    assert store.undo("bob") is None


def test_unknown_class_or_kind_is_refused(store):
    with pytest.raises(ValueError, match="unknown class 'bird'"):
        store.decide(1, "label", annotator="ann", label="bird")
    with pytest.raises(ValueError, match="kind must be"):
        store.decide(1, "maybe", annotator="ann")
    assert store.add_classes(["bird"]) == ["cat", "dog", "bird"]  # a class can be added later
    store.decide(1, "label", annotator="ann", label="bird")


def test_two_connections_never_get_the_same_item(store):
    other = LabelStore(store.path)
    mine = store.claim("ann", 3)
    theirs = other.claim("bob", 3)
    assert not {c.item_id for c in mine} & {c.item_id for c in theirs}
    assert len(mine) == len(theirs) == 3
    assert other.claim("carol", 3) == []  # everything is held
    again = store.claim("ann", 3, session=mine[0].token)
    assert [c.item_id for c in again] == [c.item_id for c in mine]  # a reload of the same tab gets them back


def test_two_tabs_of_one_annotator_never_get_the_same_item(store):
    first = store.claim("ann", 3, session="tab-1")
    second = store.claim("ann", 3, session="tab-2")
    assert len(second) == 3 and not {c.item_id for c in first} & {c.item_id for c in second}
    with pytest.raises(Conflict, match="in another tab"):
        store.decide(first[0].item_id, "label", annotator="ann", label="cat", expected=0, session="tab-2")
    store.decide(first[0].item_id, "label", annotator="ann", label="cat", expected=0, session="tab-1")


def test_a_stale_claim_expires(store):
    other = LabelStore(store.path)
    held = store.claim("ann", 6, seconds=0.05)
    time.sleep(0.1)
    assert {c.item_id for c in other.claim("bob", 6)} == {c.item_id for c in held}


def test_a_decision_on_an_item_changed_since_is_a_conflict_not_an_overwrite(store):
    other = LabelStore(store.path)
    seen = store.claim("ann", 1, seconds=0.01)[0]
    time.sleep(0.05)
    taken = other.claim("bob", 1)[0]
    assert taken.item_id == seen.item_id
    other.decide(taken.item_id, "label", annotator="bob", label="dog", expected=taken.last_event)
    with pytest.raises(Conflict, match="'bob'"):
        store.decide(seen.item_id, "label", annotator="ann", label="cat", expected=seen.last_event)
    assert store.labels() == {seen.path: "dog"}


def test_a_live_claim_of_another_annotator_is_a_conflict(store):
    other = LabelStore(store.path)
    held = other.claim("bob", 1)[0]
    with pytest.raises(Conflict, match="being labelled by 'bob'"):
        store.decide(held.item_id, "label", annotator="ann", label="cat", expected=held.last_event)


def test_undo_after_someone_else_decided_the_item_is_refused(store):
    other = LabelStore(store.path)
    store.decide(1, "label", annotator="ann", label="cat")
    other.decide(1, "label", annotator="bob", label="dog", expected=other.last_event(1))
    with pytest.raises(Conflict, match="decided by 'bob'"):
        store.undo("ann")
    assert store.labels() == {"img0.png": "dog"}


WRITER = """
import sys
from core.labels.store import LabelStore
store = LabelStore(sys.argv[1])
for i, item in enumerate(r["id"] for r in store.items()):
    event = store.decide(item, "label", annotator="w", label=("cat", "dog")[i % 2], ms=i)
    print(event, item, flush=True)  # printed only after the commit returned
"""


def test_kill_9_of_a_writer_mid_labelling_loses_no_committed_label(tmp_path):
    store = LabelStore.create(tmp_path / "p.db", tmp_path)
    store.add_classes(["cat", "dog"])
    store.add_items([(f"img{i}.png", str(i)) for i in range(5000)])
    store.close()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "p.db")], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    committed = []
    for line in writer.stdout:
        committed.append(tuple(map(int, line.split())))
        if len(committed) == 200:
            writer.kill()  # SIGKILL, mid-stream
            break
    writer.wait()
    committed += [tuple(map(int, line.split())) for line in writer.stdout if line.strip()]
    reopened = LabelStore(tmp_path / "p.db")
    current = reopened.current()
    assert len(committed) >= 200 and all(current[item].id == event for event, item in committed)
    assert len(current) < 5000  # it really was killed mid-way


def test_a_file_that_is_not_a_project_is_a_clear_error_and_is_left_alone(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("hello")
    empty = tmp_path / "empty.db"
    empty.touch()
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.commit()
    for path, message in [(text, "not an SQLite database"), (empty, "empty file"),
                          (foreign, "not an albench labelling project"), (tmp_path / "missing.db", "no labelling project")]:
        before = path.read_bytes() if path.exists() else None
        with pytest.raises(ProjectError, match=message) as info:
            LabelStore(path)
        assert str(path) in str(info.value)
        assert (path.read_bytes() if path.exists() else None) == before
    with pytest.raises(ProjectError, match="already exists"):
        LabelStore.create(foreign, tmp_path)


def test_a_corrupt_project_is_a_clear_error(store):
    for i in range(300):
        store.add_items([(f"more{i}.png", "x" * 200)])
    store.close()
    conn = sqlite3.connect(store.path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(store.path.read_bytes())
    data[4096 + 100: 4096 + 4000] = b"\xff" * 3900  # smash pages after the header
    store.path.write_bytes(bytes(data))
    with pytest.raises(ProjectError, match="corrupt") as info:
        LabelStore(store.path)
    assert str(store.path) in str(info.value)


def test_a_newer_schema_is_refused(store):
    store.set_meta("schema_version", "99")
    with pytest.raises(ProjectError, match="newer"):
        LabelStore(store.path)
