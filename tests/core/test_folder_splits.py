"""Image folders split into a pool and a held-out folder, under the names people use for them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.datasets import DatasetError, MissingDataError, load_dataset


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("ALBENCH_OFFLINE", "1")
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "dataset-cache"))


def _classes(root, classes=("apple", "banana"), n=2):
    """root/<class>/img<i>.png, one flat colour per class."""
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", (10, 10), (200 * (k == 0), 200 * (k == 1), 10 * i)).save(root / name / f"img{i}.png")
    return root


@pytest.mark.parametrize("train, held_out", [("Training", "Validation"), ("train", "test"), ("TRAIN", "Val"),
                                             ("training", "Testing"), ("Train", "valid"), ("Training", "Test")])
def test_split_folders_are_recognised_whatever_their_case(tmp_path, train, held_out):
    _classes(tmp_path / train, n=3)
    _classes(tmp_path / held_out, n=2)
    data = load_dataset("folder", data_dir=str(tmp_path), image_size=8)
    assert data.class_names == ("apple", "banana")
    assert (~data.is_test).sum() == 6 and data.is_test.sum() == 4
    assert np.bincount(data.labels[data.is_test]).tolist() == [2, 2]


def test_with_a_test_and_a_validation_folder_test_is_held_out_and_validation_unused(tmp_path):
    _classes(tmp_path / "Training", n=3)
    _classes(tmp_path / "Validation", n=1)
    _classes(tmp_path / "Test", n=2)
    with pytest.warns(UserWarning, match=r"Validation/ is not used; Test/ is the held-out split"):
        data = load_dataset("folder", data_dir=str(tmp_path), image_size=8)
    assert data.is_test.sum() == 4 and len(data.labels) == 10


def test_unrecognised_split_names_say_what_was_found_and_how_to_fix_it(tmp_path):
    _classes(tmp_path / "Training")
    _classes(tmp_path / "Foo")
    with pytest.raises(DatasetError) as error:
        load_dataset("folder", data_dir=str(tmp_path))
    message = str(error.value)
    assert message.startswith("folder: no image files")
    assert ("`Foo/` and `Training/` hold class folders, but only train/training and test/testing/val/valid/validation "
            "are recognised as splits: rename them (e.g. train/ and test/)") in message


def test_a_lone_training_folder_points_at_the_two_ways_out(tmp_path):
    _classes(tmp_path / "Training")
    with pytest.raises(DatasetError, match=r"`Training/` holds class folders, .*: add a test/ \(or val/\) folder of "
                                           rf"class folders beside it, or choose {tmp_path}/Training as the data"):
        load_dataset("folder", data_dir=str(tmp_path))


def test_two_pool_folders_are_ambiguous(tmp_path):
    for name in ("train", "Training", "test"):
        _classes(tmp_path / name)
    with pytest.raises(DatasetError, match=r"more than one pool split folder \(Training/, train/\); keep one"):
        load_dataset("folder", data_dir=str(tmp_path))


def test_an_empty_held_out_folder_falls_back_to_a_stratified_split_with_a_warning(tmp_path):
    _classes(tmp_path / "train", n=3)
    (tmp_path / "val" / "apple").mkdir(parents=True)
    with pytest.warns(UserWarning, match=r"val/ holds no readable images; the runner splits train/ instead"):
        data = load_dataset("folder", data_dir=str(tmp_path), image_size=8)
    assert data.is_test is None and len(data.labels) == 6


@pytest.mark.parametrize("data_dir", [None, "nowhere"])
def test_errors_name_the_data_folder_not_a_command_line_flag(tmp_path, data_dir):
    # the dashboard shows these too, and files a message under the option its first word names
    with pytest.raises(MissingDataError) as error:
        load_dataset("folder", data_dir=None if data_dir is None else str(tmp_path / data_dir))
    message = str(error.value)
    assert "--data-dir" not in message and "data folder" in message
    assert message.split()[0] == "folder:"
