"""CSV fields a spreadsheet never runs as formulas (OWASP), read back to the same labels."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from core.csvsafe import neutralise, restore

HOSTILE = ["=cmd|' -C calc'!A0", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'=already", "''-x", "plain", "'quoted", ""]


@pytest.mark.parametrize("text", HOSTILE)
def test_neutralised_text_never_starts_a_formula_and_restores_exactly(text):
    safe = neutralise(text)
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert restore(safe) == text


def test_a_label_export_with_formula_names_is_safe_and_reads_back_as_the_same_dataset(tmp_path, monkeypatch):
    from core.datasets import load_dataset
    from core.labels.io import export_csv, import_csv, import_folder
    from core.labels.store import LabelStore

    monkeypatch.setenv("ALBENCH_OFFLINE", "1")
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "dataset-cache"))
    root = tmp_path / "images"
    (root / "-dash").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = ["-dash/a.png", "-dash/b.png", "c.png", "d.png", "e.png", "f.png"]
    for n in names:
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(root / n)
    store = LabelStore.create(tmp_path / "p.db", root)
    import_folder(store, class_folders=False)
    classes = ["=cmd|' -C calc'!A0", "@evil", "+1"]
    store.add_classes(classes)
    for i, n in enumerate(names):
        store.decide(store.item_id(n), "label", annotator="ann", label=classes[i % 3])
    out = root / "labels.csv"
    export_csv(store, out)
    with open(out, newline="") as f:
        fields = [field for row in csv.reader(f) for field in row]
    assert not any(field.startswith(("=", "+", "-", "@", "\t", "\r")) for field in fields)
    data = load_dataset("folder", data_dir=str(out), image_size=8)
    assert len(data.labels) == 6 and set(data.class_names) == set(classes)
    again = LabelStore.create(tmp_path / "again.db", root)
    import_csv(again, out)
    assert again.labels() == store.labels()
