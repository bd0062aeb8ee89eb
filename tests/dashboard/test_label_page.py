"""The Label page through AppTest, and the decisions its keyboard grid sends, applied to a project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.labels.io import import_folder
from core.labels.store import LabelStore

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
CLASSES = ["zero", "one", "two"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """30 digit images (classes 0-2) as PNGs, 6 labelled, 4 in the audit sample."""
    from sklearn.datasets import load_digits

    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "cache"))
    digits = load_digits(n_class=3)
    root = tmp_path / "images"
    root.mkdir()
    for i in range(30):
        Image.fromarray((digits.images[i] * 15).astype(np.uint8)).save(root / f"d{i:02d}.png")
    store = LabelStore.create(root / "labels.albench.db", root)
    store.add_classes(CLASSES)
    import_folder(store, class_folders=False)
    for row in store.items()[:6]:
        store.decide(row["id"], "label", annotator="import", label=CLASSES[digits.target[row["id"] - 1]])
    store.mark_audit(4)
    return store, digits.target


def _page(db: str | None, annotator: str = "ann", **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    if db is not None:
        at.session_state["label_db"] = db
    at.session_state["label_annotator"] = annotator
    at.session_state["label_batch_size"] = 4
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("app_pages/label.py")
    at.run()
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_without_a_project_the_page_explains_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "cache"))
    at = _page(None)
    _ok(at)
    assert any("Create a project" in i.value for i in at.info)


def test_a_project_is_created_from_a_folder_on_the_page(project, tmp_path):
    store, _ = project
    folder = tmp_path / "fresh"
    folder.mkdir()
    for path in list(store.root.glob("d0*.png")):
        (folder / path.name).write_bytes(path.read_bytes())
    at = _page(None)
    at.text_input(key="label_new_folder").input(str(folder))
    at.text_input(key="label_new_classes").input("zero, one, two")
    at.button(key="label_create").click()
    at.run()
    _ok(at)
    assert (folder / "labels.albench.db").exists()
    assert LabelStore(folder / "labels.albench.db").classes == CLASSES
    assert {m.label: m.value for m in at.metric}["Undecided"] == "10"


@pytest.mark.parametrize("content", [b"not a database", b""])
def test_a_foreign_file_is_a_clear_error_and_left_alone(tmp_path, monkeypatch, content):
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "x.db"
    bad.write_bytes(content)
    at = _page(str(bad))
    assert not at.exception
    assert str(bad) in at.error[0].value
    assert bad.read_bytes() == content


@pytest.mark.parametrize("second_annotator", ["bob", "ann"])  # another person, or the same person's second tab
def test_the_audit_sample_comes_first_and_two_tabs_get_different_items(project, second_annotator):
    store, _ = project
    audit = {r["id"] for r in store.items() if r["audit"]}
    first = _page(str(store.path), "ann")
    _ok(first)
    batch = first.session_state["label_batch"]
    assert set(batch.items) == audit  # the audit sample, before any model proposal
    second = _page(str(store.path), second_annotator)
    _ok(second)
    other = second.session_state["label_batch"]
    assert other.items and not set(other.items) & set(batch.items)
    assert first.query_params["tab"] != second.query_params["tab"]
    assert {m.label: m.value for m in first.metric}["Labelled"] == "6"


def test_the_grid_decisions_are_applied_once_each_with_undo_and_conflicts(project):
    from dashboard.components.labeling import apply_events

    store, truth = project
    from dashboard.components.labeling import Batch

    claimed = store.claim("ann", 3, candidates=[10, 11, 12], session="tab1")
    batch = Batch("b1", [c.item_id for c in claimed], {c.item_id: c.last_event for c in claimed}, "tab1")
    events = [{"seq": 1, "action": "label", "item_id": 10, "label": "one", "ms": 900},
              {"seq": 2, "action": "skip", "item_id": 11, "ms": 300}]
    assert apply_events(store, batch, {"batch_id": "b1", "events": events}, "ann") == []
    assert apply_events(store, batch, {"batch_id": "b1", "events": events}, "ann") == []  # a rerun: nothing twice
    assert len(store.events()) == 6 + 2
    events.append({"seq": 3, "action": "undo", "item_id": 11, "ms": 100})
    apply_events(store, batch, {"batch_id": "b1", "events": events}, "ann")
    assert 11 not in store.current() and store.labels()[store.item_path(10)] == "one"
    # bob labels item 12 meanwhile (ann's claim on it expired): ann's later decision is refused, not written
    store.conn.execute("UPDATE claims SET expires = 0 WHERE item_id = 12")
    bob = LabelStore(store.path)
    taken = bob.claim("bob", 1, candidates=[12])[0]
    bob.decide(12, "label", annotator="bob", label="two", expected=taken.last_event)
    events.append({"seq": 4, "action": "label", "item_id": 12, "label": "zero", "ms": 100})
    messages = apply_events(store, batch, {"batch_id": "b1", "events": events}, "ann")
    assert len(messages) == 1 and "'bob'" in messages[0]
    assert store.labels()[store.item_path(12)] == "two"


def test_after_labelling_the_progress_shows_an_audit_learning_curve(project):
    from core.labels.session import Settings, propose

    store, truth = project
    for row in store.items():
        if row["audit"]:
            store.decide(row["id"], "label", annotator="ann", label=CLASSES[truth[row["id"] - 1]], ms=700)
    propose(store, Settings(batch_size=4))
    at = _page(str(store.path))
    _ok(at)
    assert len(at.get("plotly_chart")) == 2
    assert any("audit sample" in c.value and "Wilson" in c.value for c in at.caption)
    assert {m.label: m.value for m in at.metric}["Time per label (median)"] == "0.7 s"


def test_the_labels_export_as_a_csv_the_folder_dataset_reads(project, tmp_path):
    store, _ = project
    at = _page(str(store.path))
    at.text_input(key="label_export_path").input(str(tmp_path / "out" / "labels.csv"))
    at.button(key="label_export").click()
    at.run()
    _ok(at)
    assert "Wrote 6 labels" in at.success[0].value
    assert (tmp_path / "out" / "labels.csv").read_text().startswith("path,label\n../images/d")


def test_the_page_asks_the_annotators_name_once_and_keeps_it_and_the_project_in_the_url(project):
    store, _ = project
    at = _page(str(store.path), annotator="")
    _ok(at)
    assert any("Enter your name" in i.value for i in at.info)
    assert "label_batch" not in at.session_state  # nothing is claimed for a nameless visitor
    at.text_input(key="label_annotator").input("bea")
    at.run()
    _ok(at)
    assert "bea" in at.query_params["annotator"]
    assert str(store.path) in at.query_params["project"]
    assert at.session_state["label_batch"].items


def test_a_link_with_the_project_and_annotator_reopens_the_project(project, tmp_path, monkeypatch):
    store, _ = project
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["project"] = str(store.path)
    at.query_params["annotator"] = "bea"
    at.run()
    at.switch_page("app_pages/label.py")
    at.run()
    _ok(at)
    assert at.session_state["label_db"] == str(store.path) and at.session_state["label_annotator"] == "bea"
    assert {m.label: m.value for m in at.metric}["Labelled"] == "6"


def test_crafted_grid_events_are_refused_in_one_message_each_never_a_traceback(project):
    from dashboard.components.labeling import Batch, apply_events

    store, _ = project
    claimed = store.claim("ann", 2, candidates=[10, 11], session="tab1")
    batch = Batch("b1", [c.item_id for c in claimed], {c.item_id: c.last_event for c in claimed}, "tab1")
    before = len(store.events())
    crafted = [{"seq": 1, "action": "label", "item_id": 999, "label": "one"},
               {"seq": 2, "action": "label", "item_id": 10 ** 30, "label": "one"},
               {"seq": 3, "action": "label", "item_id": 10, "label": ["one"]},
               {"seq": "4", "action": "skip", "item_id": 10},
               {"seq": 5, "item_id": 10},
               {"seq": 6, "action": "label", "item_id": 10, "label": "one", "ms": "lots"},
               "not an event", None]
    messages = apply_events(store, batch, {"batch_id": "b1", "events": crafted}, "ann")
    assert messages and all("\n" not in m for m in messages)
    assert len(store.events()) == before
    assert apply_events(store, batch, {"events": "nonsense"}, "ann") == []
    assert apply_events(store, batch, {"batch_id": "b1", "events": [
        {"seq": 7, "action": "label", "item_id": 10, "label": "one", "ms": 12.6}]}, "ann") == []
    assert store.labels()[store.item_path(10)] == "one"


def test_an_image_too_large_to_show_is_given_back_not_a_traceback(project):
    from PIL import Image

    from dashboard.components.labeling import Batch, drop_unviewable

    store, _ = project
    Image.new("1", (20000, 20000)).save(store.root / "d10.png")  # 400 megapixels, a few kB on disk
    item = store.item_id("d10.png")
    claimed = store.claim("ann", 2, candidates=[item, 12], session="tab1")
    batch = Batch("b1", [c.item_id for c in claimed], {c.item_id: c.last_event for c in claimed}, "tab1")
    assert drop_unviewable(store, batch) == ["d10.png"]
    assert batch.items == [12]
    assert store.claim("bob", 1, candidates=[item], session="tab2")[0].item_id == item  # its claim was released


def test_the_comparison_the_page_suggests_after_export_runs_on_the_labels(project, tmp_path):
    import shlex

    from core.cli import main

    store, truth = project
    for row in store.items():
        if row["id"] not in store.current():
            store.decide(row["id"], "label", annotator="ann", label=CLASSES[truth[row["id"] - 1]])
    at = _page(str(store.path))
    at.text_input(key="label_export_path").input(str(tmp_path / "out" / "labels.csv"))
    at.button(key="label_export").click()
    at.run()
    _ok(at)
    assert any("Wrote 30 labels" in s.value for s in at.success)
    assert any(f"label export csv labels.csv --db {store.path}" in s.value for s in at.success)  # every image decided
    (command,) = [c.value for c in at.code]
    args = shlex.split(command)
    assert args[:2] == ["albench", "run"]
    assert main([*args[1:], "--out", str(tmp_path / "report"), "--cache-dir", str(tmp_path / "c"), "--quiet"]) == 0
