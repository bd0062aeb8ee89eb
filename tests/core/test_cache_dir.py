"""One cache directory for the CLI, the dashboard and everything they cache (core.engine.cache.cache_dir)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from core.engine.cache import DEFAULT_CACHE_DIR, LAYOUT, Cache, cache_dir
from core.cli import main

ROOT = Path(__file__).resolve().parents[2]
RUN = ["run", "--strategies", "random", "--rounds", "1", "--repeats", "1", "--quiet"]


def test_cli_without_cache_dir_uses_albench_cache_dir_from_any_directory(tmp_path, monkeypatch):
    shared = tmp_path / "shared-cache"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(shared))
    monkeypatch.chdir(elsewhere)
    assert main([*RUN, "--out", str(tmp_path / "out")]) == 0
    assert Cache(shared).comparisons(), "the run is not in $ALBENCH_CACHE_DIR"
    assert not (elsewhere / "cache").exists(), "the CLI wrote ./cache of the current directory"
    from dashboard.components.results import default_cache_dir

    assert Path(default_cache_dir()) == shared  # the dashboard reads the same comparisons


def test_the_default_is_the_checkouts_cache_for_cli_and_dashboard(monkeypatch):
    monkeypatch.delenv("ALBENCH_CACHE_DIR")
    from dashboard.components.results import default_cache_dir

    assert cache_dir() == DEFAULT_CACHE_DIR == ROOT / "cache"
    assert Path(default_cache_dir()) == DEFAULT_CACHE_DIR
    assert cache_dir("elsewhere") == Path("elsewhere")  # --cache-dir wins over everything


def test_decoded_folder_datasets_go_under_the_given_cache_dir(tmp_path, monkeypatch):
    data = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for name in ("apple", "banana"):
        for i in range(12):
            (data / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(data / name / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    given = tmp_path / "given-cache"
    assert main([*RUN, "--dataset", "folder", "--data-dir", str(data), "--initial", "4", "--batch", "2",
                 "--test-size", "0", "--cache-dir", str(given), "--out", str(tmp_path / "out")]) == 0
    assert list((given / "datasets").glob("folder-*.npz")), "decoded folder not under --cache-dir"
    assert not (tmp_path / "cache").exists(), "decoded folder written to ./cache/datasets"
    assert os.environ["ALBENCH_CACHE_DIR"] != str(given.absolute())  # the CLI restores the environment


def test_the_suite_never_writes_the_checkouts_cache():
    assert cache_dir() != DEFAULT_CACHE_DIR
    assert ROOT not in cache_dir().absolute().parents


def test_every_cache_folder_is_named_in_the_layout():
    import core.engine.cache

    assert set(LAYOUT) == {"runs", "comparisons", "features", "datasets", "figures", "jobs", "sweeps",
                           "projections", "ceilings", ".probes"}
    assert all(f"    {name}/" in core.engine.cache.__doc__ for name in LAYOUT)
    source = "\n".join(p.read_text() for p in (ROOT / "core").rglob("*.py") if p.name != "cache.py")
    import re

    for name in LAYOUT:  # no module builds a cache folder's path by hand (cache.area / cache_area do)
        assert not re.search(rf"(root|cache_dir)\)? / [\"']{re.escape(name)}[\"']", source), name


def test_report_without_cache_dir_finds_comparisons_in_albench_cache_dir(tmp_path, monkeypatch, capsys):
    shared = tmp_path / "shared-cache"
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(shared))
    monkeypatch.chdir(tmp_path)
    assert main([*RUN, "--repeats", "2", "--strategies", "random,entropy", "--out", str(tmp_path / "out")]) == 0
    (item,) = Cache(shared).comparisons()
    monkeypatch.chdir(tmp_path / "out")
    capsys.readouterr()
    assert main(["report", item["key"][:8], "--out", str(tmp_path / "report"), "--no-images",
                 "--ceiling", "never"]) == 0, capsys.readouterr().err
    assert f"--cache-dir {shared}" in (tmp_path / "report" / "report.html").read_text()
