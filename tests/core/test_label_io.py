"""Import and export of labelling projects: folders, CSV, class trees, JSON lines, the round trip."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.labels.io import export_csv, export_jsonl, export_tree, import_csv, import_folder
from core.labels.store import LabelStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("ALBENCH_OFFLINE", "1")
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "dataset-cache"))


def _images(root: Path, layout: dict[str, int]) -> None:
    """layout: relative folder -> number of images (a distinct grey level each)."""
    rng = np.random.default_rng(0)
    for folder, n in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (10, 10), dtype=np.uint8)).save(root / folder / f"im{i}.png")


def test_a_folder_with_class_folders_imports_their_labels_and_loose_images_unlabelled(tmp_path):
    root = tmp_path / "images"
    _images(root, {"cat": 3, "dog": 2, ".ipynb_checkpoints": 1, ".": 4})
    store = LabelStore.create(root / "p.db", root)
    report = import_folder(store)
    assert report["items"] == 9 and report["labels"] == 5
    assert store.classes == ["cat", "dog"]
    assert store.labels() == {**{f"cat/im{i}.png": "cat" for i in range(3)}, **{f"dog/im{i}.png": "dog" for i in range(2)}}
    assert import_folder(store)["labels"] == 0  # importing again changes nothing
    flat = LabelStore.create(tmp_path / "flat.db", root)
    assert import_folder(flat, class_folders=False) == {"items": 9, "labels": 0, "unreadable": [], "conflicting": [],
                                                        "skipped_person": 0, "skipped_claimed": 0}


def test_export_then_import_gives_the_same_labels_and_the_csv_reads_as_a_folder_dataset(tmp_path):
    from core.datasets import load_dataset

    root = tmp_path / "images"
    _images(root, {".": 12})
    store = LabelStore.create(tmp_path / "p.db", root)
    import_folder(store, class_folders=False)
    store.add_classes(["a", "b", "c"])
    for i, row in enumerate(store.items()):
        if i % 4 != 3:
            store.decide(row["id"], "label", annotator="ann", label="abc"[i % 3], ms=100 + i)
    store.decide(store.items()[3]["id"], "skip", annotator="ann")
    expected = store.labels()

    assert export_csv(store, tmp_path / "out" / "labels.csv") == 9
    again = LabelStore.create(tmp_path / "again.db", root)
    import_csv(again, tmp_path / "out" / "labels.csv")
    assert again.labels() == expected

    dataset = load_dataset("folder", data_dir=str(tmp_path / "out" / "labels.csv"), image_size=8)
    assert len(dataset.labels) == 9 and dataset.class_names == ("a", "b", "c")

    assert export_tree(store, tmp_path / "tree") == 9
    assert (tmp_path / "tree" / "a" / "im0.png").is_symlink()
    tree = LabelStore.create(tmp_path / "tree.db", tmp_path / "tree")
    import_folder(tree)
    assert sorted(tree.labels().values()) == sorted(expected.values())
    assert export_tree(store, tmp_path / "copies", copy=True) == 9
    assert not (tmp_path / "copies" / "a" / "im0.png").is_symlink()

    assert export_jsonl(store, tmp_path / "labels.jsonl") == 10
    lines = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert {(r["path"], r["label"]) for r in lines if r["decision"] == "label"} == set(expected.items())
    assert all(r["annotator"] == "ann" and r["time"] for r in lines)


@pytest.mark.slow
def test_the_label_command_from_init_to_export(tmp_path):
    root = tmp_path / "images"
    _images(root, {"cat": 4, "dog": 4, "unsorted": 0, ".": 6})

    def run(*args):
        return subprocess.run([sys.executable, "-m", "core", "label", *args], cwd=ROOT, capture_output=True, text=True,
                              env={"ALBENCH_CACHE_DIR": str(tmp_path / "dc"), "PATH": "/usr/bin:/bin"})

    db = str(root / "labels.albench.db")
    done = run("init", str(root), "--classes", "cat,dog,bird", "--audit", "2")
    assert done.returncode == 0, done.stderr
    assert "14 images, 8 labels" in done.stdout and "audit sample of 2" in done.stdout
    status = run("status", "--db", db)
    assert "labelled 8" in status.stdout and "cat 4, dog 4, bird 0" in status.stdout
    proposed = run("propose", "--db", db, "--batch", "3")
    assert proposed.returncode == 0, proposed.stderr
    assert proposed.stdout.count(".png") == 3
    exported = run("export", "csv", str(tmp_path / "labels.csv"), "--db", db)
    assert exported.returncode == 0 and "wrote 8 labels" in exported.stdout
    again = run("init", str(root))
    assert again.returncode == 2 and "already exists" in again.stderr and again.stderr.count("\n") == 1
    (tmp_path / "junk.db").write_text("junk")
    bad = run("status", "--db", str(tmp_path / "junk.db"))
    assert bad.returncode == 2 and "junk.db is not an SQLite database" in bad.stderr


def test_propose_takes_strategy_and_learner_settings_and_refuses_bad_ones(tmp_path, capsys):
    from PIL import Image

    from core.cli import main
    from core.labels.store import LabelStore

    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    assert main(["label", "init", str(folder), "--classes", "a,b"]) == 0
    db = str(folder / "labels.albench.db")
    (tmp_path / "some.csv").write_text("path,label\n" + "".join(f"images/{i}.png,{'ab'[i % 2]}\n" for i in range(6)))
    assert main(["label", "import", str(tmp_path / "some.csv"), "--db", db]) == 0  # a model needs labels
    assert main(["label", "propose", "--db", db, "--strategy", "hybrid", "--strategy-param", "alpha=2"]) == 2
    assert "hybrid.alpha must be a number in (0, 1]; got 2" in capsys.readouterr().err
    assert main(["label", "propose", "--db", db, "--strategy-param", "alpha"]) == 2
    assert "--strategy-param: expected NAME=VALUE; got 'alpha'" in capsys.readouterr().err
    assert main(["label", "propose", "--db", db, "--strategy", "margin_density", "--strategy-param", "beta=2",
                 "--learner-param", "C=0.5", "--batch", "4"]) == 0
    last = LabelStore(db).rounds()[-1]
    assert last["params"]["strategy_params"] == {"beta": 2} and last["params"]["learner_params"] == {"C": 0.5}
