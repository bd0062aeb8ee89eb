"""A labels CSV (path,label) as the data folder: the form labelling tools export."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.engine.config import RunConfig
from core.datasets import DatasetError, MissingDataError, folder as folder_mod, load_dataset
from core.engine.runner import prepare


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("ALBENCH_OFFLINE", "1")
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "dataset-cache"))


def _image(path, value: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (12, 9), value).save(path)
    return path.name


@pytest.fixture
def export(tmp_path):
    """An export folder: images/ plus one image outside it, and a labels CSV beside images/."""
    root = tmp_path / "export"
    for i in range(3):
        _image(root / "images" / f"cat{i}.png", 20)
        _image(root / "images" / f"dog{i}.jpg", 230)
    _image(tmp_path / "shared" / "dog9.bmp", 230)
    return root


def _csv(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_a_labels_csv_lists_the_images_and_their_classes(export):
    rows = "".join(f"images/cat{i}.png,10,a\nimages/dog{i}.jpg,2,b\n" for i in range(3))
    labels = _csv(export / "labels.csv", "\ufeffPath , Label,annotator\n" + rows + "../shared/dog9.bmp,2,c\n")
    data = load_dataset("folder", data_dir=str(labels), image_size=8)
    assert data.class_names == ("2", "10")  # integer labels in numeric order
    assert data.labels.tolist() == [1, 0] * 3 + [0]
    assert data.images.shape == (7, 8, 8, 1) and data.is_test is None
    assert (data.images[data.labels == 1] == 20).all() and (data.images[data.labels == 0] == 230).all()


def test_missing_files_and_incomplete_rows_are_counted_not_fatal(export):
    rows = "".join(f"images/cat{i}.png,cat\nimages/dog{i}.jpg,dog\n" for i in range(3))
    labels = _csv(export / "labels.csv", "path,label\n" + rows + "images/gone.png,cat\n,dog\nimages/cat0.png,\n")
    with pytest.warns(UserWarning) as caught:
        data = load_dataset("folder", data_dir=str(labels), image_size=8)
    messages = "\n".join(str(w.message) for w in caught)
    assert "skipped 2 row(s) without a path or a label (line(s) [9, 10])" in messages
    assert "skipped 1 unreadable image file(s) (e.g. ['images/gone.png'])" in messages
    assert data.class_names == ("cat", "dog") and len(data.labels) == 6


@pytest.mark.parametrize("text, error, message", [
    ("path,label\nimages/cat0.png,cat\nimages/cat1.png,cat\n", DatasetError,
     r"holds images of only one class \('cat'\); active learning needs at least 2 classes"),
    ("path,label\n", DatasetError, r"labels file .*labels.csv lists no images"),
    ("file,class\nimages/cat0.png,cat\n", DatasetError, r"needs a header row naming a path and a label column.*"
                                                         r"its header is \['file', 'class'\]"),
    ("path,label\nnope/a.png,cat\nnope/b.png,dog\n", DatasetError,
     r"none of the 2 image files in .*labels.csv could be read \(e.g. \['nope/a.png', 'nope/b.png'\]\); "
     r"paths are read relative to .*export"),
    (None, MissingDataError, r"labels file .*labels.csv does not exist"),
], ids=["one_class", "empty", "no_header", "all_missing", "no_file"])
def test_unusable_labels_files_are_clear_errors(export, text, error, message):
    path = export / "labels.csv"
    if text is not None:
        _csv(path, text)
    with pytest.raises(error, match=message):
        load_dataset("folder", data_dir=str(path))


def test_the_decode_cache_is_keyed_by_the_csv_content(export, monkeypatch):
    path = export / "labels.csv"
    rows = [f"images/cat{i}.png,cat\nimages/dog{i}.jpg,dog\n" for i in range(3)]
    _csv(path, "path,label\n" + "".join(rows))
    first = load_dataset("folder", data_dir=str(path), image_size=8)
    decoded = []
    real_decode = folder_mod.decode_folder
    monkeypatch.setattr(folder_mod, "decode_folder", lambda *a: decoded.append(1) or real_decode(*a))
    assert load_dataset("folder", data_dir=str(path), image_size=8).fingerprint == first.fingerprint
    assert decoded == []
    _csv(path, "path,label\n" + "".join(r.replace(",cat", ",x").replace(",dog", ",cat").replace(",x", ",dog")
                                        for r in rows))  # same files, labels swapped
    swapped = load_dataset("folder", data_dir=str(path), image_size=8)
    assert decoded == [1]
    np.testing.assert_array_equal(swapped.labels, 1 - first.labels)


def test_a_folder_holding_a_labels_csv_points_at_the_file(export):
    _csv(export / "labels.csv", "path,label\nimages/cat0.png,cat\n")
    with pytest.raises(DatasetError, match=r"if .*export/labels.csv lists them, choose the file itself as the data"):
        load_dataset("folder", data_dir=str(export / "images"))  # loose images, no class folders: the parent's CSV
    with pytest.raises(DatasetError, match=r"holds labels.csv: to read the images a labels file lists, choose the"):
        load_dataset("folder", data_dir=str(export))


def test_a_labels_csv_runs_through_the_config_checks(export):
    _csv(export / "labels.csv", "path,label\n" + "".join(f"images/cat{i}.png,cat\nimages/dog{i}.jpg,dog\n"
                                                         for i in range(3)))
    config = RunConfig(dataset="folder", data_dir=str(export / "labels.csv"), image_size=8, strategies=("random",),
                       initial=2, batch=1, rounds=2, test_size=0.34)
    assert prepare(config).n_classes == 2
