"""Seeded fuzz: damaged feature stores end in the same features, bit for bit, with at most one warning (issue 20)."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

from core.engine.feature_store import FeatureStore, FeatureStoreWarning, forget_loaded_features

FIELDS = {"data": "fuzz", "backbone": "fake"}


def extract(X: np.ndarray) -> np.ndarray:
    return (X.reshape(len(X), -1)[:, :6].astype(np.float32) - 100) / 7


def _flip(path, rng):
    data = bytearray(path.read_bytes())
    data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
    path.write_bytes(bytes(data))


def _truncate(path, rng):
    data = path.read_bytes()
    path.write_bytes(data[:int(rng.integers(len(data)))])


def _manifest(directory, rng):
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    edit = str(rng.choice(["dim", "dtype", "n_rows", "chunk_rows", "garbage", "fields", "complete", "list"]))
    if edit == "garbage":
        path.write_bytes(bytes(rng.integers(0, 256, 40, dtype=np.uint8)))
        return
    if edit == "list":
        path.write_text("[]")
        return
    manifest[edit] = {"dim": [7, 0, -1, "8", 1.5][int(rng.integers(5))], "dtype": "<U8", "n_rows": 10**12,
                      "chunk_rows": 0, "fields": {}, "complete": {"sha256": "ab", "shape": [1, 1]}}[edit]
    path.write_text(json.dumps(manifest))
    return edit == "chunk_rows"  # a key the store does not read (version 1 had it): harmless, no warning


def _rewrite_features(directory, rng):
    path = directory / "features.npy"
    features = np.load(path)
    kind = rng.choice(["nan", "width", "dtype", "contents", "1d"])
    changed = {"nan": lambda f: np.where(rng.random(f.shape) < 0.1, np.nan, f).astype(np.float32),
               "width": lambda f: f[:, :-1], "dtype": lambda f: f.astype(np.float16),
               "contents": lambda f: f[::-1].copy(), "1d": lambda f: f.ravel()}[kind](features)
    np.save(path, changed)


def _not_a_file(path, rng):
    path.unlink()
    if rng.random() < 0.5:
        os.mkfifo(path)
    else:
        path.mkdir()


DAMAGES = {  # name -> (applies to a finished store, to a partial one, damages something: one warning expected)
    "flip_features": (True, False, True), "truncate_features": (True, False, True),
    "rewrite_features": (True, False, True), "features_not_a_file": (True, False, True),
    "flip_part": (False, True, True), "truncate_part": (False, True, True), "part_not_a_file": (False, True, True),
    "manifest": (True, True, True), "delete_part": (False, True, False), "delete_features": (True, False, True),
    "delete_manifest": (True, True, False),
}


def _damage(name, directory, rng) -> bool:
    """Damage the store; True when the change turned out harmless (nothing to warn about)."""
    parts = sorted(directory.glob("part_*.npy"))
    part = parts[int(rng.integers(len(parts)))] if parts else None
    features = directory / "features.npy"
    return bool({"flip_features": lambda: _flip(features, rng), "truncate_features": lambda: _truncate(features, rng),
     "rewrite_features": lambda: _rewrite_features(directory, rng),
     "features_not_a_file": lambda: _not_a_file(features, rng), "flip_part": lambda: _flip(part, rng),
     "truncate_part": lambda: _truncate(part, rng), "part_not_a_file": lambda: _not_a_file(part, rng),
     "manifest": lambda: _manifest(directory, rng), "delete_part": lambda: part.unlink(),
     "delete_features": lambda: features.unlink(), "delete_manifest": lambda: (directory / "manifest.json").unlink(),
     }[name]())


def test_damaged_stores_recompute_the_same_features_with_at_most_one_warning(tmp_path):
    rng = np.random.default_rng(20261204)
    tried = 0
    for case in range(120):
        n, chunk = int(rng.integers(5, 60)), int(rng.integers(2, 20))
        X = rng.integers(0, 256, (n, 4, 4, 1), dtype=np.uint8)
        root = tmp_path / f"case{case}"
        finished = rng.random() < 0.5
        wanted = np.arange(n) if finished else rng.choice(n, size=int(rng.integers(1, n)), replace=False)
        forget_loaded_features()
        FeatureStore(root, FIELDS, n, chunk).rows(wanted, X, extract)
        (directory,) = (root / "features").iterdir()
        if not finished and not list(directory.glob("part_*.npy")):
            continue
        name = str(rng.choice([k for k, (full, partial, _) in DAMAGES.items() if (full if finished else partial)]))
        harmless = _damage(name, directory, rng)
        forget_loaded_features()  # a new process: only the disk is left
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = FeatureStore(root, FIELDS, n, chunk).compute(X, extract)
        store_warnings = [w for w in caught if issubclass(w.category, FeatureStoreWarning)]
        assert got.dtype == np.float32 and np.array_equal(got, extract(X)), (case, name)
        assert len(store_warnings) == (DAMAGES[name][2] and not harmless), (case, name, [str(w.message) for w in store_warnings])
        assert "\n" not in "".join(str(w.message) for w in store_warnings)
        forget_loaded_features()  # repaired for good: read back without a warning, no extraction
        with warnings.catch_warnings():
            warnings.simplefilter("error", FeatureStoreWarning)
            again = FeatureStore(root, FIELDS, n, chunk).compute(X, lambda part: pytest.fail("extracted again"))
        assert np.array_equal(again, got)
        tried += 1
    assert tried >= 100
