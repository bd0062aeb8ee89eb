"""Image sources: tiny files in each real format, read back through the real loaders."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import subprocess
import sys
import struct
import tarfile
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from core.engine.config import ConfigError, RunConfig
from core.datasets import DatasetError, MissingDataError, cifar10 as cifar_mod, folder as folder_mod, load_dataset
from core.datasets import mnist as mnist_mod
from core.datasets.download import download
from core.engine.runner import prepare, run_comparison


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("ALBENCH_OFFLINE", "1")  # no test may reach the network
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "dataset-cache"))


# --- CIFAR-10 ------------------------------------------------------------------------------------------

def _write_cifar(root, n_per_batch=3):
    """The python batch format: dict of bytes keys, data (n, 3072) channel-major uint8, labels list."""
    batch_dir = root / cifar_mod.BATCH_DIR
    batch_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate((*cifar_mod.TRAIN_BATCHES, "test_batch")):
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        data[0, :1024] = 200 + i  # red plane of the first image
        data[0, 1024:] = 7
        batch = {b"batch_label": name.encode(), b"labels": [(i + j) % 10 for j in range(n_per_batch)],
                 b"data": data, b"filenames": [b"x.png"] * n_per_batch}
        (batch_dir / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": [n.encode() for n in cifar_mod.CLASS_NAMES], b"num_vis": 3072}
    (batch_dir / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return batch_dir


@pytest.fixture
def trust_generated(monkeypatch):
    """Make the loader's checksum table the md5 of the files a test generated."""
    def trust(batch_dir):
        monkeypatch.setattr(cifar_mod, "BATCH_MD5", {name: _md5(batch_dir / name) for name in cifar_mod.BATCH_MD5})
    return trust


def test_cifar10_reads_python_batches_with_its_test_split(tmp_path, trust_generated):
    trust_generated(_write_cifar(tmp_path))
    data = load_dataset("cifar10", data_dir=str(tmp_path))
    assert data.images.shape == (18, 32, 32, 3) and data.images.dtype == np.uint8
    assert data.is_test.tolist() == [False] * 15 + [True] * 3
    assert data.class_names[0] == "airplane" and data.n_classes == 10
    assert (data.images[0, :, :, 0] == 200).all() and (data.images[0, :, :, 1:] == 7).all()  # channel-major -> HWC
    assert data.labels[:4].tolist() == [0, 1, 2, 1]
    assert load_dataset("cifar10", data_dir=str(tmp_path), image_size=16).images.shape == (18, 16, 16, 3)


def test_cifar10_refuses_a_batch_whose_checksum_does_not_match_before_unpickling(tmp_path, monkeypatch):
    batch_dir = _write_cifar(tmp_path)

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    (batch_dir / "data_batch_1").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(DatasetError, match=r"data_batch_1 does not match its published checksum .*expected c99cafc1"):
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert not (tmp_path / "pwned").exists()


def test_cifar10_unpickler_refuses_foreign_globals_even_with_a_matching_checksum(tmp_path, trust_generated):
    batch_dir = _write_cifar(tmp_path)

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    (batch_dir / "data_batch_2").write_bytes(pickle.dumps({b"data": Boom()}))
    trust_generated(batch_dir)
    with pytest.raises(DatasetError, match="references posix.system|references os.system"):
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert not (tmp_path / "pwned").exists()


def test_cifar10_truncated_batch_is_a_clear_error(tmp_path, trust_generated):
    batch_dir = _write_cifar(tmp_path)
    trust_generated(batch_dir)
    path = batch_dir / "test_batch"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DatasetError, match="test_batch does not match its published checksum.*truncated"):
        load_dataset("cifar10", data_dir=str(tmp_path))


def test_cifar10_extracts_the_verified_archive(tmp_path, monkeypatch, trust_generated):
    src = tmp_path / "src"
    batch_dir = _write_cifar(src)
    trust_generated(batch_dir)
    dest = tmp_path / "data"
    dest.mkdir()
    with tarfile.open(dest / cifar_mod.ARCHIVE, "w:gz") as archive:
        archive.add(batch_dir, arcname=cifar_mod.BATCH_DIR)
    monkeypatch.setattr(cifar_mod, "ARCHIVE_MD5", _md5(dest / cifar_mod.ARCHIVE))
    assert len(load_dataset("cifar10", data_dir=str(dest)).labels) == 18
    assert (dest / cifar_mod.BATCH_DIR / "data_batch_5").exists()


def test_cifar10_offline_names_the_expected_files_and_where_to_put_them(tmp_path):
    with pytest.raises(MissingDataError, match=rf"cifar-10-python.tar.gz .*data_batch_1.*put them in {tmp_path}"):
        load_dataset("cifar10", data_dir=str(tmp_path))


# --- MNIST / Fashion-MNIST (IDX) -----------------------------------------------------------------------

def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def _write_idx_set(root, gz: bool, n_train=6, n_test=4):
    rng = np.random.default_rng(1)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": (np.arange(n_test) + 3) % 10}
    root.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        raw = _idx(array)
        if gz:
            (root / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (root / name).write_bytes(raw)
    return arrays


def _trust_idx(monkeypatch, name, root):
    md5 = {f"{f}.gz": _md5(root / f"{f}.gz") for f in mnist_mod.FILES}
    monkeypatch.setitem(mnist_mod.SOURCES, name, {**mnist_mod.SOURCES[name], "md5": md5})


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "plain"])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_datasets_read_gzipped_and_plain_files(tmp_path, monkeypatch, name, gz):
    arrays = _write_idx_set(tmp_path, gz)
    if gz:
        _trust_idx(monkeypatch, name, tmp_path)
    data = load_dataset(name, data_dir=str(tmp_path))
    assert data.images.shape == (10, 28, 28, 1)
    np.testing.assert_array_equal(data.images[:6, ..., 0], arrays["train-images-idx3-ubyte"])
    assert data.labels.tolist() == [0, 1, 2, 3, 4, 5, 3, 4, 5, 6]
    assert data.is_test.sum() == 4 and data.is_test[-4:].all()
    assert data.feature_scale == pytest.approx(1 / 255)
    assert load_dataset(name, data_dir=str(tmp_path), image_size=32).images.shape == (10, 32, 32, 1)


def test_idx_gz_with_a_wrong_checksum_is_refused(tmp_path):
    _write_idx_set(tmp_path, gz=True)
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz does not match its published checksum") as error:
        load_dataset("mnist", data_dir=str(tmp_path))
    assert "gunzip it to train-images-idx3-ubyte" in str(error.value)  # the way to use one's own copy


def test_idx_truncated_files_are_clear_errors(tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    _write_idx_set(plain, gz=False)
    path = plain / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte: IDX header promises shape \(4, 28, 28\).*truncated"):
        load_dataset("mnist", data_dir=str(plain))
    gz = tmp_path / "gz"
    _write_idx_set(gz, gz=True)
    path = gz / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    _trust_idx(monkeypatch, "mnist", gz)  # even with a matching checksum, a cut gzip stream is caught
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz is not a complete gzip file"):
        load_dataset("mnist", data_dir=str(gz))


def _write_idx_files(root, arrays: dict[str, bytes]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, raw in arrays.items():
        (root / name).write_bytes(raw)


def _idx_header(*shape: int) -> bytes:
    return bytes([0, 0, 0x08, len(shape)]) + np.asarray(shape, dtype=">u4").tobytes()


@pytest.mark.parametrize("case, message", [
    # 2**22 * 2**21 * 2**21 = 2**64: the byte count wraps to 0 in int64 and an empty file "matched" the header
    ("overflow", r"train-images-idx3-ubyte: IDX header promises shape \(4194304, 2097152, 2097152\) "
                 r"\(18446744073709551632 bytes\) but the file has 16 bytes"),
    ("more_items", r"t10k-labels-idx1-ubyte: IDX header promises shape \(100,\).*truncated"),
    ("all_empty", r"train-images-idx3-ubyte: holds no images \(IDX shape \(0, 28, 28\)\)"),
    ("mixed_sizes", r"mnist: the train images are 28x28 \(train-images-idx3-ubyte\) but the test images are 20x20 "
                    r"\(t10k-images-idx3-ubyte\)"),
    ("one_class", r"mnist: .* holds images of only one class \('3'\); active learning needs at least 2 classes"),
], ids=["overflow", "more_items", "all_empty", "mixed_sizes", "one_class"])
def test_idx_headers_that_lie_are_dataset_errors_naming_the_file(tmp_path, case, message):
    arrays = _write_idx_set(tmp_path, gz=False)
    if case == "overflow":
        _write_idx_files(tmp_path, {"train-images-idx3-ubyte": _idx_header(1 << 22, 1 << 21, 1 << 21)})
    elif case == "more_items":
        _write_idx_files(tmp_path, {"t10k-labels-idx1-ubyte": _idx_header(100) + bytes(4)})
    elif case == "all_empty":
        empty = {"train-images-idx3-ubyte": np.zeros((0, 28, 28)), "train-labels-idx1-ubyte": np.zeros(0),
                 "t10k-images-idx3-ubyte": np.zeros((0, 28, 28)), "t10k-labels-idx1-ubyte": np.zeros(0)}
        _write_idx_files(tmp_path, {name: _idx(a) for name, a in empty.items()})
    elif case == "mixed_sizes":
        _write_idx_files(tmp_path, {"t10k-images-idx3-ubyte": _idx(np.zeros((4, 20, 20)))})
    elif case == "one_class":
        _write_idx_files(tmp_path, {"train-labels-idx1-ubyte": _idx(np.full(6, 3)),
                                    "t10k-labels-idx1-ubyte": _idx(np.full(4, 3))})
    assert len(arrays) == 4
    with pytest.raises(DatasetError, match=message):
        load_dataset("mnist", data_dir=str(tmp_path))


def test_fashion_mnist_offline_names_files_and_directory(tmp_path):
    with pytest.raises(MissingDataError, match=rf"t10k-labels-idx1-ubyte.gz.*put them in {tmp_path}"):
        load_dataset("fashion_mnist", data_dir=str(tmp_path))


# --- downloads -----------------------------------------------------------------------------------------

def test_download_verifies_the_checksum_and_writes_atomically(tmp_path, capsys):
    source = tmp_path / "remote.bin"
    source.write_bytes(b"x" * 5000)
    dest = tmp_path / "data" / "file.bin"
    with pytest.raises(DatasetError, match="does not match its published checksum"):
        download([source.as_uri()], dest, md5="0" * 32)
    assert not dest.exists() and not list(dest.parent.glob(".tmp-*"))
    download(["file:///nonexistent/first-mirror.bin", source.as_uri()], dest, md5=_md5(source))
    assert dest.read_bytes() == source.read_bytes()
    assert "downloading file.bin" in capsys.readouterr().err


# --- folders -------------------------------------------------------------------------------------------

def _photo(path, colour, size=(20, 14), mode="RGB"):
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    pixels = np.clip(np.array(colour)[None, None, :] + rng.normal(0, 10, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    path.parent.mkdir(parents=True, exist_ok=True)
    (image.convert("L") if mode == "L" else image).save(path)


def _folder(root, classes=("apple", "banana", "cherry"), n=4, exts=(".png", ".jpg")):
    colours = {"apple": (200, 30, 30), "banana": (220, 220, 40), "cherry": (90, 0, 40)}
    for c in classes:
        for i in range(n):
            _photo(root / c / f"img{i}{exts[i % len(exts)]}", colours.get(c, (0, 100, 200)))
    return root


def test_folder_reads_classes_skips_corrupt_images_and_ignores_other_files(tmp_path):
    root = _folder(tmp_path / "photos")
    (root / "apple" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "banana" / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image file.*broken.jpg.*ignored 1 non-image file"):
        data = load_dataset("folder", data_dir=str(root), image_size=16)
    assert data.class_names == ("apple", "banana", "cherry")
    assert data.images.shape == (12, 16, 16, 3) and data.is_test is None
    assert data.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    apple_red = data.images[data.labels == 0][..., 0].mean()
    assert apple_red > 150 > data.images[data.labels == 2][..., 0].mean()


def test_folder_of_grayscale_images_has_one_channel_and_default_size(tmp_path):
    for c in ("a", "b"):
        for i in range(3):
            _photo(tmp_path / c / f"{i}.bmp", (40 + 150 * (c == "b"),) * 3, mode="L")
    data = load_dataset("folder", data_dir=str(tmp_path))
    assert data.images.shape == (6, 32, 32, 1)


def test_folder_training_and_test_subfolders_are_the_pool_and_the_test_split(tmp_path):
    _folder(tmp_path / "Training", n=4)
    _folder(tmp_path / "Test", n=2, exts=(".jpeg", ".gif"))
    data = load_dataset("folder", data_dir=str(tmp_path), image_size=8)
    assert data.class_names == ("apple", "banana", "cherry")
    assert data.is_test.sum() == 6 and (~data.is_test).sum() == 12
    assert np.bincount(data.labels[data.is_test]).tolist() == [2, 2, 2]


@pytest.mark.slow
def test_a_class_found_only_in_test_is_named_in_a_warning(tmp_path):
    _folder(tmp_path / "Training", classes=("apple", "banana"), n=4)
    _folder(tmp_path / "Test", n=2)  # cherry has test images but nothing to learn it from
    with pytest.warns(UserWarning, match=r"\['cherry'\] have images in Test/ but none in Training/.*below 0.67"):
        load_dataset("folder", data_dir=str(tmp_path), image_size=8)
    # on the command line: one plain line, not a Python source location
    result = subprocess.run([sys.executable, "-m", "core", "run", "--dataset", "folder", "--data-dir", str(tmp_path),
                             "--image-size", "8", "--initial", "3", "--batch", "1", "--rounds", "2", "--strategies",
                             "random", "--quiet", "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if "Test/" in line]
    assert len(warning) == 1 and warning[0].startswith("warning: folder "), result.stderr


@pytest.mark.parametrize("layout, error, message", [
    ("empty", DatasetError, "no class sub-folders"),
    ("one_class", DatasetError, "only one class .*'apple'"),
    ("no_images", DatasetError, "no image files"),
    ("missing", MissingDataError, "is not a directory"),
])
def test_folder_without_usable_images_is_a_clear_error(tmp_path, layout, error, message):
    root = tmp_path / "root"
    root.mkdir()
    if layout == "one_class":
        _folder(root, classes=("apple",))
    elif layout == "no_images":
        for c in ("a", "b"):
            (root / c).mkdir()
            (root / c / "readme.txt").write_text("x")
    elif layout == "missing":
        root = tmp_path / "nowhere"
    with pytest.raises(error, match=message):
        load_dataset("folder", data_dir=str(root))


def test_folder_error_reaches_the_cli_as_a_config_error(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(ConfigError, match="no image files"):
        prepare(RunConfig(dataset="folder", data_dir=str(tmp_path)))


def test_an_impossible_image_size_is_a_config_error(tmp_path):
    root = _folder(tmp_path / "photos", n=4)
    with pytest.raises(ConfigError, match=r"image_size must be an integer in \[8, 512\]; got 7"):
        prepare(RunConfig(dataset="folder", data_dir=str(root), image_size=7))


def test_a_relative_data_dir_is_stored_absolute(tmp_path, monkeypatch):
    root = _folder(tmp_path / "photos", n=4)
    monkeypatch.chdir(tmp_path)
    config = RunConfig(dataset="folder", data_dir="photos")
    assert config.data_dir == str(root.resolve())  # runs and maps read it back from any directory
    monkeypatch.chdir(root)
    assert RunConfig.from_dict(config.to_dict()) == config


def test_folder_second_load_comes_from_the_array_cache_until_a_file_changes(tmp_path, monkeypatch):
    root = _folder(tmp_path / "photos")
    first = load_dataset("folder", data_dir=str(root))
    decoded = []
    real_decode = folder_mod.decode_folder
    monkeypatch.setattr(folder_mod, "decode_folder", lambda *a: decoded.append(1) or real_decode(*a))
    second = load_dataset("folder", data_dir=str(root))
    assert decoded == [] and second.fingerprint == first.fingerprint
    _photo(root / "apple" / "img0.png", (0, 0, 255))  # same name, new content
    os.utime(root / "apple" / "img0.png", ns=(1, 1))
    third = load_dataset("folder", data_dir=str(root))
    assert decoded == [1] and third.fingerprint != first.fingerprint


def test_folder_runs_through_the_engine(tmp_path):
    root = _folder(tmp_path / "photos", n=12)
    config = RunConfig(dataset="folder", data_dir=str(root), image_size=8, strategies=("random", "entropy"),
                       initial=6, batch=3, rounds=3, test_size=0.25)
    comparison = run_comparison(config)
    assert comparison.frame()["test_accuracy"].notna().all()


def _warnings_of(load):
    """(the loader's result, every warning message it raised), with nothing filtered out."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = load()
    return result, caught


def test_hidden_class_folders_are_skipped_and_named(tmp_path):
    root = _folder(tmp_path / "photos", classes=("apple", "banana"), n=3)
    _photo(root / ".ipynb_checkpoints" / "img0.png", (0, 0, 0))
    with pytest.warns(UserWarning, match=r"skipped hidden folder\(s\) \['.ipynb_checkpoints'\] \(a name starting"):
        data = load_dataset("folder", data_dir=str(root), image_size=8)
    assert data.class_names == ("apple", "banana") and len(data.labels) == 6


def test_symlink_loops_are_skipped_and_counted(tmp_path):
    root = _folder(tmp_path / "photos", classes=("apple", "banana"), n=3)
    os.symlink("loop", root / "loop")  # a class folder that points at itself
    os.symlink("img9.png", root / "apple" / "img9.png")  # an image that points at itself
    os.symlink("nowhere.png", root / "banana" / "gone.png")  # a link to nothing
    data, caught = _warnings_of(lambda: load_dataset("folder", data_dir=str(root), image_size=8))
    messages = "\n".join(str(w.message) for w in caught)
    assert "skipped 1 folder(s) that could not be listed (a symlink loop, a broken link or no permission; " \
           "e.g. ['loop'])" in messages
    assert "skipped 2 unreadable image file(s) (e.g. ['apple/img9.png', 'banana/gone.png'])" in messages
    assert data.class_names == ("apple", "banana") and len(data.labels) == 6


def _blank_png(path, width, height) -> None:
    """A 1-bit PNG of `width` x `height` black pixels: tiny on disk however large it claims to be."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = zlib.compress(bytes(height * (1 + (width + 7) // 8)), 9)  # filter byte 0, then the packed bits
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def test_a_huge_image_is_counted_not_decoded(tmp_path):
    root = _folder(tmp_path / "photos", classes=("apple", "banana"), n=3)
    _blank_png(root / "apple" / "huge.png", 12_000, 12_000)  # 144 megapixels: 0.6 GB as RGB, 18 KB on disk
    assert (root / "apple" / "huge.png").stat().st_size < 100_000
    data, caught = _warnings_of(lambda: load_dataset("folder", data_dir=str(root), image_size=8))
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert any("skipped 1 image(s) larger than 134,217,728 pixels (e.g. ['apple/huge.png'])" in str(w.message)
               for w in caught)
    assert len(data.labels) == 6 and data.source["skipped"] == 1


def test_an_image_over_twice_pillows_limit_is_counted_too(tmp_path):
    root = _folder(tmp_path / "photos", classes=("apple", "banana"), n=3)
    _blank_png(root / "banana" / "bomb.png", 20_000, 10_000)  # Pillow refuses it on opening (DecompressionBombError)
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\) larger than .*bomb.png"):
        assert len(load_dataset("folder", data_dir=str(root), image_size=8).labels) == 6


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_under_the_pixel_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(folder_mod, "MAX_DECODE_PIXELS", 10_000)
    root = _folder(tmp_path / "photos", classes=("apple", "banana"), n=2, exts=(".png",))
    _photo(root / "apple" / "big.jpg", (200, 30, 30), size=(400, 400))  # JPEG draft: 50 x 50 = 2,500 pixels
    _photo(root / "banana" / "big.png", (220, 220, 40), size=(400, 400))  # PNG: 160,000 pixels, no reduced decode
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\) larger than 10,000 pixels \(e.g. \['banana/big"):
        data = load_dataset("folder", data_dir=str(root), image_size=32)
    assert np.bincount(data.labels).tolist() == [3, 2]


def test_decoding_holds_at_most_the_memory_budget_in_flight(tmp_path, monkeypatch):
    root = _folder(tmp_path / "photos", n=4)  # 20 x 14 RGB: 1,120 bytes each as Pillow holds them
    budgets = []

    class Recording(folder_mod.DecodeBudget):
        def __init__(self, limit):
            super().__init__(limit)
            budgets.append(self)

    monkeypatch.setattr(folder_mod, "DecodeBudget", Recording)
    monkeypatch.setattr(folder_mod, "DECODE_MEMORY_BUDGET", 2_000)  # room for one image at a time
    data = load_dataset("folder", data_dir=str(root), image_size=8)
    assert len(data.labels) == 12
    assert budgets[0].peak == 20 * 14 * 4 and budgets[0].in_use == 0
