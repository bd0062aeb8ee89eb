"""Labelling projects under mistakes and hostile files (issue 20): nothing lost, nothing wrong, nothing escapes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.labels.io import export_csv, export_jsonl, export_tree, import_csv, import_folder
from core.labels.store import LabelStore, ProjectError


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("ALBENCH_OFFLINE", "1")
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "dataset-cache"))


def _images(root: Path, names: list[str], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(root / name)


@pytest.fixture
def project(tmp_path) -> LabelStore:
    """Four images under tmp/images, classes cat and dog, two labelled, the project file beside the images."""
    root = tmp_path / "images"
    _images(root, ["a.png", "b.png", "c.png", "d.png"])
    store = LabelStore.create(root / "p.db", root)
    import_folder(store, class_folders=False)
    store.add_classes(["cat", "dog"])
    store.decide(store.item_id("a.png"), "label", annotator="ann", label="cat")
    store.decide(store.item_id("b.png"), "label", annotator="ann", label="dog")
    return store


def _edit(path: Path, *statements: str) -> None:
    """Change a project file behind albench's back, as someone handing it over could."""
    conn = sqlite3.connect(path)
    for s in statements:
        conn.execute(s)
    conn.commit()
    conn.close()


def _cli(capsys, *args: str) -> tuple[int, str]:
    code = main(["label", *args])
    captured = capsys.readouterr()
    return code, captured.err


# -- 20.1: nothing outside the folders named -------------------------------------------------------------------
@pytest.mark.parametrize("statement", [
    "UPDATE classes SET name = '../../escaped' WHERE name = 'cat'",
    "UPDATE classes SET name = '/tmp/escaped' WHERE name = 'cat'",
    "UPDATE items SET path = '../../outside/secret.png' WHERE path = 'a.png'",
    "UPDATE items SET path = '/etc/passwd' WHERE path = 'a.png'",
    "UPDATE items SET path = 'a.txt' WHERE path = 'a.png'",
    "UPDATE meta SET value = '/' WHERE key = 'root'",
    "UPDATE meta SET value = '../../../../../../../../../..' WHERE key = 'root'",
    "DELETE FROM meta WHERE key = 'root'",
])
def test_a_hostile_project_file_is_refused_on_open_and_nothing_is_written_outside(project, tmp_path, statement,
                                                                                    capsys):
    project.close()
    _edit(project.path, statement)
    before = project.path.read_bytes()
    with pytest.raises(ProjectError) as info:
        LabelStore(project.path)
    assert "\n" not in str(info.value) and str(project.path) in str(info.value)
    assert project.path.read_bytes() == before
    code, err = _cli(capsys, "export", "tree", str(tmp_path / "out" / "tree"), "--copy", "--db", str(project.path))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "out").exists()


def test_rows_changed_after_opening_are_checked_again_on_export_and_read(project, tmp_path):
    (tmp_path / "secret.txt").write_text("key")
    _edit(project.path, "UPDATE classes SET name = '../../escaped' WHERE name = 'cat'")
    with pytest.raises(ValueError, match="class name"):
        export_tree(project, tmp_path / "tree", copy=True)
    assert not (tmp_path / "escaped").exists()
    _edit(project.path, "UPDATE classes SET name = 'cat' WHERE name = '../../escaped'",
          "UPDATE items SET path = '../secret.png' WHERE path = 'a.png'")
    with pytest.raises(ProjectError):
        export_tree(project, tmp_path / "tree2", copy=True)
    with pytest.raises(ProjectError):
        project.file("../secret.png")
    assert not (tmp_path / "tree2").exists()


def test_a_symlink_in_the_folder_to_a_file_outside_is_never_read(project, tmp_path):
    from core.labels.session import ImageCache

    (tmp_path / "secret.key").write_bytes(b"private")
    link = project.root / "e.png"
    link.symlink_to(tmp_path / "secret.key")
    project.add_items([("e.png", "x")])
    project.decide(project.item_id("e.png"), "label", annotator="ann", label="cat")
    with pytest.raises(ProjectError, match="outside"):
        export_tree(project, tmp_path / "tree", copy=True)
    assert not (tmp_path / "tree").exists()
    _, ok = ImageCache(project.root, 8).get(["a.png", "e.png"])
    assert ok.tolist() == [True, False]


# -- 20.5: an export never overwrites the project or a file that is not an export --------------------------------
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_onto_the_project_is_refused_and_every_decision_is_kept(project, tmp_path, fmt, capsys):
    db = str(project.path)
    project.close()
    before = LabelStore(db).labels()
    code, err = _cli(capsys, "export", fmt, db, "--db", db)
    assert code == 2 and "project itself" in err and len(err.strip().splitlines()) == 1
    code, err = _cli(capsys, "export", fmt, db, "--db", db, "--force")
    assert code == 2
    assert LabelStore(db).labels() == before


@pytest.mark.parametrize("fmt, writer", [("csv", export_csv), ("jsonl", export_jsonl)])
def test_an_export_replaces_only_an_earlier_export_of_its_kind_unless_forced(project, tmp_path, fmt, writer):
    notes = tmp_path / f"notes.{fmt}"
    notes.write_text("my own notes\n")
    with pytest.raises(ProjectError, match="not an earlier export"):
        writer(project, notes)
    assert notes.read_text() == "my own notes\n"
    out = tmp_path / f"labels.{fmt}"
    assert writer(project, out) == 2
    project.decide(project.item_id("c.png"), "label", annotator="ann", label="cat")
    assert writer(project, out) == 3  # an earlier export of the same kind is replaced
    other = export_jsonl if writer is export_csv else export_csv
    with pytest.raises(ProjectError):
        other(project, out)  # but not by an export of the other kind
    assert writer(project, notes, force=True) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


# -- 20.4: SQL stored in a project file never runs ---------------------------------------------------------------
@pytest.mark.parametrize("statement", [
    "CREATE TRIGGER wipe AFTER INSERT ON events BEGIN DELETE FROM events; END",
    "CREATE VIEW extra AS SELECT * FROM items",
    "DROP VIEW current",
    "CREATE VIEW current2 AS SELECT 1",
    "DROP TABLE proposals",
    "ALTER TABLE items ADD COLUMN note TEXT",
    "CREATE TABLE more (x)",
    "DROP INDEX events_item",
])
def test_a_project_whose_schema_is_not_ours_is_refused_in_one_line_and_left_untouched(project, statement):
    project.close()
    _edit(project.path, statement)
    before = project.path.read_bytes()
    with pytest.raises(ProjectError, match="schema") as info:
        LabelStore(project.path)
    assert "\n" not in str(info.value)
    assert project.path.read_bytes() == before


def test_a_project_of_the_previous_schema_opens_and_keeps_its_decisions(tmp_path):
    from core.labels import store as store_module

    db = tmp_path / "v1.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    for statement in store_module._SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [("schema_version", "1"), ("root", "."),
                                                        ("created", "0"), ("project_id", "x")])
    conn.execute("INSERT INTO classes (name, added) VALUES ('cat', 0)")
    conn.execute("INSERT INTO items (path, sha256, added) VALUES ('a.png', 'h', 0)")
    conn.execute("INSERT INTO events (item_id, kind, class_id, annotator, at) VALUES (1, 'label', 1, 'ann', 1)")
    conn.execute(f"PRAGMA application_id={store_module.APPLICATION_ID}")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    store = LabelStore(db)
    assert store.labels() == {"a.png": "cat"}
    assert store.meta("schema_version") == str(store_module.SCHEMA_VERSION)
    store.close()
    assert LabelStore(db).labels() == {"a.png": "cat"}


@pytest.mark.parametrize("statement, match", [
    ("UPDATE events SET ms = 'lots'", "milliseconds"),
    ("UPDATE events SET at = 'yesterday'", "timestamp"),
    ("UPDATE items SET path = 5 WHERE id = 1", "path"),
])
def test_hostile_rows_are_one_line_not_a_traceback(project, statement, match):
    project.close()
    _edit(project.path, statement)
    with pytest.raises(ProjectError, match=match):
        LabelStore(project.path).status()


# -- 20.6: undo reverts what this tab did ------------------------------------------------------------------------
def test_undo_in_one_tab_never_reverts_another_tabs_decision_under_the_same_name(project):
    c, d = project.item_id("c.png"), project.item_id("d.png")
    project.decide(c, "label", annotator="me", label="cat", session="tab-1")
    project.decide(d, "label", annotator="me", label="dog", session="tab-2")
    assert project.undo("me", session="tab-1").item_id == c
    assert project.undo("me", session="tab-1") is None  # tab 1 has nothing left to undo
    assert project.labels()["d.png"] == "dog"
    assert project.undo("you", session="tab-2") is None  # the same tab token under another name: not yours
    assert project.undo("me", session="tab-2").item_id == d
    assert project.status()["per_annotator"] == {"ann": 2}


def test_status_counts_labels_per_annotator(project, capsys):
    project.decide(project.item_id("c.png"), "label", annotator="bea", label="cat")
    assert project.status()["per_annotator"] == {"ann": 2, "bea": 1}
    code = main(["label", "status", "--db", str(project.path)])
    assert code == 0 and "labels per annotator: ann 2, bea 1" in capsys.readouterr().out
    code = main(["label", "export", "csv", str(project.root / "l.csv"), "--db", str(project.path)])
    assert code == 0 and "(labels per annotator: ann 2, bea 1)" in capsys.readouterr().out


# -- 20.7, 20.9, 20.18: imports ------------------------------------------------------------------------------------
def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("path,label\n" + "".join(r + "\n" for r in rows))
    return path


def test_an_import_never_overrides_a_person_nor_an_item_held_in_a_tab_without_override(project, tmp_path, capsys):
    held = project.claim("bea", 1, candidates=[project.item_id("c.png")], session="tab-b")[0]
    csv_path = _csv(project.root / "in.csv", ["a.png,dog", "b.png,dog", "c.png,dog", "d.png,cat"])
    code = main(["label", "import", str(csv_path), "--db", str(project.path)])
    err = capsys.readouterr().err
    assert code == 0
    assert "skipped 1 item(s) a person already decided" in err and "skipped 1 item(s) being labelled" in err
    assert project.labels() == {"a.png": "cat", "b.png": "dog", "d.png": "cat"}
    # the person in the tab keeps their item: their decision is not refused
    project.decide(held.item_id, "label", annotator="bea", label="cat", expected=held.last_event, session="tab-b")
    report = import_csv(project, csv_path, override=True)
    assert report["labels"] == 2 and project.labels() == {"a.png": "dog", "b.png": "dog", "c.png": "dog",
                                                           "d.png": "cat"}


def test_duplicate_rows_with_different_labels_are_named_with_their_lines_and_not_imported(project, capsys):
    csv_path = _csv(project.root / "dup.csv", ["c.png,cat", "d.png,cat", "c.png,dog", "d.png,cat"])
    report = import_csv(project, csv_path)
    assert report["conflicting"] == ["c.png: labels ['cat', 'dog'] on lines [2, 4]"]
    assert "c.png" not in project.labels() and project.labels()["d.png"] == "cat"
    assert main(["label", "import", str(csv_path), "--db", str(project.path)]) == 0
    assert "lines [2, 4]" in capsys.readouterr().err


def test_a_row_for_a_missing_file_is_reported(project, capsys):
    csv_path = _csv(project.root / "missing.csv", ["c.png,cat", "gone.png,dog"])
    assert main(["label", "import", str(csv_path), "--db", str(project.path)]) == 0
    err = capsys.readouterr().err
    assert "missing or unreadable: 1 file(s)" in err and "gone.png" in err
    assert "gone.png" not in {r["path"] for r in project.items()}


def test_an_import_is_one_transaction(project, tmp_path):
    names = [f"many/{i}.png" for i in range(40)]
    _images(project.root, names)
    csv_path = _csv(project.root / "many.csv", [f"{n},cat" for n in names])
    statements = []
    project.conn.set_trace_callback(statements.append)
    assert import_csv(project, csv_path)["labels"] == 40
    assert sum(s.startswith("COMMIT") for s in statements) <= 3  # items, classes, labels: not one per label


def test_audit_larger_than_the_undecided_images_says_so(tmp_path, capsys):
    root = tmp_path / "imgs"
    _images(root, ["cat/a.png", "cat/b.png", "dog/c.png", "loose.png"])
    assert main(["label", "init", str(root), "--audit", "5"]) == 0
    assert "only 1 image(s) were undecided" in capsys.readouterr().err


# -- 20.8: tree export name collisions ---------------------------------------------------------------------------
@pytest.mark.parametrize("copy", [False, True])
def test_colliding_tree_names_each_get_a_file_and_the_count_is_the_files_written(tmp_path, copy):
    root = tmp_path / "images"
    names = ["x/a.png", "x__a.png", "y/x/a.png", "y__x__a.png", "y/x__a.png"]
    _images(root, names)
    store = LabelStore.create(tmp_path / "p.db", root)
    import_folder(store, class_folders=False)
    store.add_classes(["cat"])
    for n in names:
        store.decide(store.item_id(n), "label", annotator="ann", label="cat")
    n = export_tree(store, tmp_path / "tree", copy=copy)
    written = sorted((tmp_path / "tree" / "cat").iterdir())
    assert n == len(written) == 5
    assert sorted(p.read_bytes() for p in written) == sorted((root / name).read_bytes() for name in names)


def test_a_tree_name_over_255_bytes_is_shortened_not_a_traceback(tmp_path):
    root = tmp_path / "images"
    deep = "/".join(["d" * 120] * 3) + "/a.png"
    _images(root, [deep])
    store = LabelStore.create(tmp_path / "p.db", root)
    import_folder(store, class_folders=False)
    store.add_classes(["cat"])
    store.decide(store.item_id(deep), "label", annotator="ann", label="cat")
    assert export_tree(store, tmp_path / "tree") == 1
    (link,) = (tmp_path / "tree" / "cat").iterdir()
    assert len(link.name.encode()) <= 255 and link.name.endswith(".png") and link.read_bytes()


# -- 20.15: export targets of the wrong kind, image sizes ---------------------------------------------------------
def test_export_targets_of_the_wrong_kind_are_one_line(project, tmp_path, capsys):
    db = str(project.path)
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-dir").mkdir()
    for args in (["csv", str(tmp_path / "a-dir")], ["jsonl", str(tmp_path / "a-dir")],
                 ["tree", str(tmp_path / "a-file")], ["csv", str(tmp_path / ("n" * 300 + ".csv"))],
                 ["tree", str(tmp_path / ("n" * 300))], ["csv", str(tmp_path / "a-file" / "x.csv")]):
        code, err = _cli(capsys, "export", *args, "--db", db)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (args, err)
    assert (tmp_path / "a-file").read_text() == "x"


@pytest.mark.parametrize("size", ["0", "100000"])
def test_propose_with_an_impossible_image_size_is_one_line(project, size, capsys):
    code, err = _cli(capsys, "propose", "--db", str(project.path), "--image-size", size)
    assert code == 2 and "image_size" in err and len(err.strip().splitlines()) == 1
    assert project.rounds() == []


def test_propose_near_the_end_proposes_what_is_left_even_when_some_cannot_be_read(project):
    from core.labels.session import ImageCache, Settings, propose

    (project.root / "d.png").write_bytes(b"not an image")  # one of the two undecided images is unreadable
    round_id = propose(project, Settings(batch_size=8), ImageCache(project.root, 8))
    proposed = [project.item_path(p["item_id"]) for p in project.proposals(round_id)]
    assert sorted(proposed) == ["c.png", "d.png"] and proposed[0] == "c.png"


def test_a_round_with_damaged_json_is_one_line(project):
    project.record_round(strategy="entropy", learner="logistic", params={}, n_labeled=2, metrics={}, proposals=[])
    project.close()
    _edit(project.path, "UPDATE rounds SET metrics = '{not json'")
    with pytest.raises(ProjectError, match="JSON"):
        LabelStore(project.path).rounds()
