"""The Label page starts with the strategy a finished comparison on the same folder recommends."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import core.analysis.verdicts
from core.engine.cache import Cache
from core.engine.config import RunConfig
from core.labels.recommend import DEFAULT, recommend
from core.engine.runner import run_comparison


def _folder(root):
    rng = np.random.default_rng(0)
    for c, name in enumerate(["red", "green", "blue"]):
        (root / name).mkdir(parents=True)
        for i in range(20):
            pixels = rng.integers(0, 60, (8, 8, 3)).astype(np.uint8)
            pixels[..., c] += 150
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_no_comparison_on_the_folder_starts_with_entropy(tmp_path):
    result = recommend(Cache(tmp_path / "cache"), _folder(tmp_path / "images"))
    assert result.strategy == DEFAULT and "no finished comparison on this folder" in result.reason


def test_the_verdict_of_a_finished_comparison_on_the_folder_is_the_start(tmp_path, monkeypatch):
    folder, cache = _folder(tmp_path / "images"), Cache(tmp_path / "cache")
    config = RunConfig(dataset="folder", data_dir=str(folder), strategies=("random", "smallest_margin"), initial=6,
                       batch=3, rounds=3, repeats=2, test_size=0.25)
    run_comparison(config, cache=cache)
    seen = []

    def fake_verdict(rounds, *args, **kwargs):  # the real test lives in test_verdicts; here: is it asked and used
        seen.append(sorted(rounds.strategy.unique()))
        return core.analysis.verdicts.Verdict("recommend", "smallest_margin wins.", recommended="smallest_margin")

    monkeypatch.setattr(core.analysis.verdicts, "verdict", fake_verdict)
    result = recommend(cache, folder)
    assert result.strategy == "smallest_margin" and result.comparison == config.key()
    assert seen == [["random", "smallest_margin"]]
    assert recommend(cache, tmp_path).strategy == DEFAULT  # another folder: not this comparison's

    monkeypatch.setattr(core.analysis.verdicts, "verdict",
                        lambda rounds, *a, **k: core.analysis.verdicts.Verdict("none", "nothing beats random."))
    assert "recommend no strategy over random" in recommend(cache, folder).reason


@pytest.mark.parametrize("audit", [0, 6])
def test_the_suggested_comparison_runs_on_thirty_labels(tmp_path, monkeypatch, audit):
    import shlex

    from sklearn.datasets import load_digits

    from core.cli import main
    from core.labels.io import export_csv, import_folder
    from core.labels.recommend import comparison_command
    from core.labels.store import LabelStore

    monkeypatch.setenv("ALBENCH_OFFLINE", "1")
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "dataset-cache"))
    digits = load_digits(n_class=3)
    root = tmp_path / "images"
    root.mkdir()
    for i in range(30):
        Image.fromarray((digits.images[i] * 15).astype(np.uint8)).save(root / f"d{i:02d}.png")
    store = LabelStore.create(root / "p.db", root)
    import_folder(store, class_folders=False)
    store.add_classes(["zero", "one", "two"])
    store.mark_audit(audit)
    for row in store.items():
        store.decide(row["id"], "label", annotator="ann", label=["zero", "one", "two"][digits.target[row["id"] - 1]])
    out = tmp_path / "labels.csv"
    export_csv(store, out)
    command, why = comparison_command(store, out)
    assert command is not None, why
    args = shlex.split(command)
    assert args[:2] == ["albench", "run"]
    assert main([*args[1:], "--out", str(tmp_path / "report"), "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == 0
    assert (tmp_path / "report" / "summary.csv").exists()
    if audit:
        assert "audit sample (6)" in why and "--test-size 0.2" in command


def _labelled_project(root, n_per_class: int, audit: int):
    """A project over `_folder`'s 60 images: an audit sample, then `n_per_class` labels per class with times."""
    from core.files import file_sha256
    from core.labels.store import LabelStore

    folder = _folder(root)
    store = LabelStore.create(root / "labels.albench.db", folder)
    store.add_classes(["red", "green", "blue"])
    paths = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.png"))
    store.add_items((p, file_sha256(folder / p)) for p in paths)
    audit_ids = set(store.mark_audit(audit, seed=0)) if audit else set()
    counts = dict.fromkeys(["red", "green", "blue"], 0)
    for row in store.items():
        label = row["path"].split("/")[0]
        if row["id"] in audit_ids or counts[label] < n_per_class:
            store.decide(row["id"], "label", annotator="a", label=label, ms=1000 + 100 * row["id"])
            counts[label] += row["id"] not in audit_ids
    return store


def test_a_comparison_on_the_project_s_labels_fits_the_labelled_pool_and_runs(tmp_path):
    from core.datasets import load_dataset
    from core.engine.config import check_against_data
    from core.labels.recommend import labels_comparison

    store = _labelled_project(tmp_path, n_per_class=14, audit=12)
    config, why = labels_comparison(store, store.path)
    assert config is not None, why
    data = load_dataset("labels", data_dir=config.data_dir)
    pool = int((~data.is_test).sum())
    assert pool == 42 and f"your {pool} training labels" in why and "12 labelled audit images" in why
    check_against_data(config, 3, pool)
    assert config.dataset == "labels" and config.repeats >= 2 and config.rounds >= 3 and config.budget <= pool
    comparison = run_comparison(config, cache=Cache(tmp_path / "cache"))
    assert comparison.frame()["labelling_seconds"].notna().all()


def test_too_few_labels_give_no_comparison_and_say_why(tmp_path):
    from core.labels.recommend import labels_comparison

    store = _labelled_project(tmp_path, n_per_class=2, audit=6)
    config, why = labels_comparison(store, store.path)
    assert config is None and "too few for a comparison" in why and "label more" in why
