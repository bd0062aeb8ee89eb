"""core.analysis.projection: PCA first view, the on-disk store, names that cannot escape the cache."""

from __future__ import annotations

import numpy as np
import pytest

from core.analysis.projection import ProjectionStore, background_command, pca_2d, project


def test_pca_2d_is_float32_n_by_2_and_deterministic():
    X = np.random.default_rng(0).normal(size=(50, 7))
    a, b = pca_2d(X), pca_2d(X)
    assert a.shape == (50, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_project_writes_once_and_reads_back_from_disk(tmp_path):
    X = np.random.default_rng(1).normal(size=(40, 5)).astype(np.float32)
    first = project(X, fingerprint="abc", space="pixels", method="pca", cache_root=tmp_path)
    assert (tmp_path / "projections" / "abc-pixels-pca.npz").exists()
    # a second call reads the file: different features of the same length give the stored map back
    again = project(X * 3 + 1, fingerprint="abc", space="pixels", method="pca", cache_root=tmp_path)
    np.testing.assert_array_equal(first, again)
    with np.load(tmp_path / "projections" / "abc-pixels-pca.npz", allow_pickle=False) as z:
        assert set(z.files) == {"coords", "seconds"}


def test_store_treats_an_unreadable_file_as_missing(tmp_path):
    store = ProjectionStore(tmp_path)
    store.path("f", "pixels", "umap").parent.mkdir(parents=True)
    store.path("f", "pixels", "umap").write_bytes(b"not an npz")
    assert store.load("f", "pixels", "umap") is None


@pytest.mark.parametrize("space", ["../escape", "a/b", "", "x y"])
def test_feature_space_names_are_checked(tmp_path, space):
    with pytest.raises(ValueError, match="feature space name"):
        ProjectionStore(tmp_path).path("f", space, "pca")


def test_unknown_method_names_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"choose one of \['pca', 'umap'\]"):
        project(np.zeros((5, 2)), fingerprint="f", method="tsne", cache_root=tmp_path)


def test_background_command_passes_dataset_options():
    argv = background_command("folder", {"data_dir": "/data", "image_size": 32}, "cache", space="pixels")
    assert argv[1:3] == ["-m", "core.analysis.projection"]
    assert argv[argv.index("--data-dir") + 1] == "/data" and argv[argv.index("--image-size") + 1] == "32"
