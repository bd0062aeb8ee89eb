"""Comparing strategies on a person's own labels, with their recorded labelling time as the cost."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.engine.cache import Cache

from core.files import file_sha256
from core.engine.config import RunConfig
from core.cli import main
from core.datasets import DatasetError, load_dataset
from core.datasets.labels import COST_CAP_PERCENTILE
from core.labels.store import LabelStore
from core.engine.runner import make_split, run_comparison

CLASSES = ("three", "five", "eight")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project over 240 digit images: 24 audited, 200 labelled by a simulated person, some skipped or unsure.

    The person's time grows with how ambiguous an image is (the entropy of a reference model):
    1.5 s for a clear digit, up to ~60 s for an ambiguous one; one decision left open 30 minutes.
    """
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    digits = load_digits()
    keep = np.flatnonzero(np.isin(digits.target, [3, 5, 8]))[:240]
    images, targets = digits.images[keep], digits.target[keep]
    names = {3: "three", 5: "five", 8: "eight"}
    root = tmp_path_factory.mktemp("photos")
    paths = []
    for i, (pixels, _) in enumerate(zip(images, targets)):
        path = root / f"img{i:03d}.png"
        Image.fromarray((pixels * 15).astype(np.uint8)).save(path)
        paths.append(path.name)
    # ambiguity as a person would feel it: a weak model's entropy on each image
    ref = LogisticRegression(max_iter=200).fit(images.reshape(len(images), -1)[::12], targets[::12])
    proba = ref.predict_proba(images.reshape(len(images), -1))
    entropy = -(proba * np.log(np.clip(proba, 1e-12, 1))).sum(axis=1) / math.log(3)

    db = root / "labels.albench.db"
    store = LabelStore.create(db, root)
    store.add_classes(CLASSES)
    store.add_items((p, file_sha256(root / p)) for p in paths)
    ids = {row["path"]: row["id"] for row in store.items()}
    audit = set(store.mark_audit(24, seed=3))
    for audit_id in sorted(audit):
        i = paths.index(store.item_path(audit_id))
        store.decide(audit_id, "label", annotator="ann", label=names[targets[i]], ms=2000)
    ms = {}
    skipped, unsure = [], []
    for i, p in enumerate(paths):
        item = ids[p]
        if item in audit:
            continue
        if len(skipped) < 8 and i % 17 == 5:
            store.decide(item, "skip", annotator="ann", ms=4000)
            skipped.append(item)
            continue
        if len(unsure) < 6 and i % 19 == 7:
            store.decide(item, "unsure", annotator="ann", ms=5000)
            unsure.append(item)
            continue
        spent = int(1500 + 60000 * entropy[i] ** 2)
        if i == 11:
            spent = 30 * 60 * 1000  # the tab was left open: capped at the project's 99th percentile
        if i % 23 == 3:  # skipped first, labelled later: both times were paid
            store.decide(item, "skip", annotator="ann", ms=3000)
            ms.setdefault(item, []).append(3000)
        store.decide(item, "label", annotator="ann", label=names[targets[i]], ms=spent)
        ms.setdefault(item, []).append(spent)
    store.close()
    return {"db": db, "root": root, "audit": audit, "skipped": set(skipped), "unsure": set(unsure), "ms": ms,
            "paths": paths, "ids": ids}


def test_pool_is_the_labelled_items_and_the_audit_sample_is_the_test_split(project):
    data = load_dataset("labels", data_dir=str(project["db"]))
    items = data.source["items"]
    labelled = set(project["ms"]) | project["audit"]
    assert set(items) == labelled  # skipped and unsure items are not there
    assert not (set(items) & (project["skipped"] | project["unsure"]))
    assert {i for i, t in zip(items, data.is_test) if t} == project["audit"]
    assert data.class_names == CLASSES


def test_costs_are_the_recorded_times_with_the_stated_cap(project):
    data = load_dataset("labels", data_dir=str(project["db"]))
    store = LabelStore(project["db"])
    recorded = np.array([e.ms for e in store.events()], dtype=float)
    store.close()
    cap = np.percentile(recorded, COST_CAP_PERCENTILE)
    assert cap < 30 * 60 * 1000
    for item, cost in zip(data.source["items"], data.costs):
        expected = sum(min(m, cap) for m in project["ms"].get(item, [2000])) / 1000
        assert cost == pytest.approx(expected)


def test_a_project_without_labels_is_one_clear_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    store = LabelStore.create(tmp_path / "p.db", tmp_path)
    store.close()
    with pytest.raises(DatasetError, match="no labelled image"):
        load_dataset("labels", data_dir=str(tmp_path / "p.db"))


def test_comparison_on_a_project_pays_the_person_s_minutes(project, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "--dataset", "labels", "--data-dir", str(project["db"]), "--strategies", "random,entropy",
                 "--initial", "6", "--batch", "6", "--rounds", "8", "--repeats", "3", "--target", "0.9",
                 "--cache-dir", str(tmp_path / "cache"), "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    rounds = pd.read_csv(out / "rounds.csv")
    data = load_dataset("labels", data_dir=str(project["db"]))
    config = RunConfig(dataset="labels", data_dir=str(project["db"]), strategies=("random", "entropy"), initial=6,
                       batch=6, rounds=8, repeats=3)
    comparison = run_comparison(config, cache=Cache(tmp_path / "cache"))  # the CLI's runs, read back from the cache
    items = np.array(data.source["items"])
    store = LabelStore(project["db"])
    cap = np.percentile([e.ms for e in store.events()], COST_CAP_PERCENTILE)
    store.close()
    for (strategy, repeat), results in comparison.runs.items():
        pool = make_split(data, config.seed + repeat, config.test_size, None).pool
        assert not data.is_test[pool].any()  # the audit sample is never trained on
        paid = rounds[(rounds.strategy == strategy) & (rounds.repeat == repeat)].sort_values("round")["labelling_seconds"]
        paid = paid.to_numpy()
        for r in range(1, len(results)):
            picks = items[pool[results[r - 1].queried]]
            recorded = sum(min(m, cap) for item in picks for m in project["ms"][item]) / 1000
            assert paid[r] - paid[r - 1] == pytest.approx(recorded)

    # entropy asks for the ambiguous digits, which took the person longest: it pays more per label,
    # so the minutes view ranks it lower against random than the labels view does
    last = rounds[rounds["round"] == rounds["round"].max()].groupby("strategy")
    per_label = (last["labelling_seconds"].mean() / last["n_labeled"].mean())
    assert per_label["entropy"] > 1.3 * per_label["random"]
    by_labels = pd.read_csv(out / "summary.csv").set_index("strategy")["aulc"]
    by_minutes = pd.read_csv(out / "summary_minutes.csv").set_index("strategy")["aulc_minutes"]
    assert by_minutes["entropy"] - by_minutes["random"] < by_labels["entropy"] - by_labels["random"] - 0.01
    err = capsys.readouterr()
    assert "by labelling time" in err.out and "to reach 0.90:" in err.out


def test_data_without_recorded_times_has_no_minutes_column(tmp_path):
    comparison = run_comparison(RunConfig(strategies=("random",), rounds=2), cache=None)
    assert "labelling_seconds" not in comparison.frame().columns


def test_minutes_curves_stay_on_the_range_every_run_reached():
    from core.analysis.labelling_time import minutes_curves

    rounds = pd.DataFrame({"strategy": ["a"] * 3 + ["b"] * 3, "repeat": 0, "round": [0, 1, 2] * 2,
                           "test_accuracy": [0.5, 0.7, 0.9, 0.5, 0.6, 0.8],
                           "labelling_seconds": [60, 120, 180, 60, 240, 420]})
    curves = minutes_curves(rounds, "test_accuracy", points=5)
    assert curves["minutes"].min() == 1 and curves["minutes"].max() == 3  # b reached 7 min, a only 3
    a = curves[curves.strategy == "a"].set_index("minutes")["mean"]
    b = curves[curves.strategy == "b"].set_index("minutes")["mean"]
    assert a[3.0] == pytest.approx(0.9) and b[3.0] == pytest.approx(0.5 + 0.1 * 2 / 3)
