"""Proposals for a person: any strategy and learner, rounds recorded, and an honest audit estimate."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.labels.io import import_folder
from core.labels.session import BackgroundProposer, ImageCache, Settings, next_batch, propose, wilson_interval
from core.labels.store import LabelStore

N_IMAGES = 400
COVERAGE_SEEDS = 20


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    """400 digits as 8x8 PNGs and their true classes, by file name."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = tmp_path_factory.mktemp("digits")
    truth = {}
    for i in range(N_IMAGES):
        Image.fromarray((digits.images[i] * 15).astype(np.uint8)).save(root / f"d{i:03d}.png")
        truth[f"d{i:03d}.png"] = str(digits.target[i])
    return root, truth


def _project(root, db, audit: int, seed: int) -> LabelStore:
    store = LabelStore.create(db, root)
    store.add_classes([str(c) for c in range(10)])
    import_folder(store, class_folders=False)
    if audit:
        store.mark_audit(audit, seed)
    return store


def _answer(store: LabelStore, item_ids, truth) -> None:
    for i in item_ids:
        store.decide(int(i), "label", annotator="sim", label=truth[store.item_path(int(i))], ms=1000)


def test_the_first_round_is_a_seeded_cold_start_and_later_rounds_use_the_strategy(digits_folder, tmp_path):
    root, truth = digits_folder
    store = _project(root, tmp_path / "p.db", audit=0, seed=0)
    first = propose(store, Settings(batch_size=5))
    assert store.rounds()[-1]["strategy"] == "random (cold start)"
    ids = [p["item_id"] for p in store.proposals(first)]
    assert len(ids) == 20 and len(set(ids)) == 20
    _answer(store, ids, truth)
    images = ImageCache(store.root, 8)
    for strategy in ("entropy", "random", "hybrid", "smallest_margin"):
        round_id = propose(store, Settings(strategy=strategy, batch_size=5), images)
        proposals = store.proposals(round_id)
        assert len(proposals) == 20
        assert not {p["item_id"] for p in proposals} & set(ids)  # only undecided items
        assert all(0 <= p["predicted"] < 10 and 0 < p["confidence"] <= 1 for p in proposals)
        metrics = store.rounds()[-1]["metrics"]
        assert metrics["optimistic"] and 0 <= metrics["cv_accuracy"] <= 1  # no audit: cross-validated, flagged
    batch = next_batch(store, "ann", 5)
    assert [c.item_id for c in batch] == [p["item_id"] for p in store.proposals(round_id)][:5]


def test_an_unknown_strategy_or_a_learner_that_cannot_feed_it_is_refused(tmp_path, digits_folder):
    with pytest.raises(ValueError, match="unknown strategy 'nope'"):
        Settings(strategy="nope").check()
    with pytest.raises(ValueError, match="batch_size"):
        Settings(batch_size=0).check()


def test_the_background_proposer_records_a_round_off_the_calling_thread(digits_folder, tmp_path):
    root, truth = digits_folder
    store = _project(root, tmp_path / "p.db", audit=0, seed=0)
    _answer(store, [r["id"] for r in store.items()[:30]], truth)
    proposer = BackgroundProposer(store.path, Settings(batch_size=4), image_size=8)
    assert proposer.request()
    proposer.wait(60)
    assert proposer.error is None and proposer.latest == store.rounds()[-1]["id"]


def test_wilson_interval_bounds():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(40, 40)
    assert 0.9 < low < 1.0 and high == 1.0
    low, high = wilson_interval(20, 40)
    assert low < 0.5 < high


@pytest.mark.slow
def test_the_audit_interval_covers_the_true_accuracy_in_most_seeds(digits_folder, tmp_path):
    """A simulated person on digits: 40 audit images, 20 random labels, 3 entropy batches of 10. The audit
    estimate's 95% interval should cover the model's true accuracy on every image it was not trained on."""
    from core.learners import make_learner
    from core.types import DataInfo

    root, truth = digits_folder
    covered = 0
    for seed in range(COVERAGE_SEEDS):
        store = _project(root, tmp_path / f"p{seed}.db", audit=40, seed=seed)
        images = ImageCache(store.root, 8)
        audit = [r["id"] for r in store.items() if r["audit"]]
        _answer(store, audit, truth)
        rest = [r["id"] for r in store.items() if not r["audit"]]
        _answer(store, np.random.default_rng(seed).choice(rest, 20, replace=False), truth)
        for _ in range(3):
            round_id = propose(store, Settings(batch_size=10, seed=seed), images)
            _answer(store, [p["item_id"] for p in store.proposals(round_id)[:10]], truth)
        propose(store, Settings(batch_size=10, seed=seed), images)
        metrics = store.rounds()[-1]["metrics"]
        assert metrics["audit_n"] == 40
        labelled = store.labels()
        train = [r for r in store.items() if not r["audit"] and r["path"] in labelled]
        held = [r for r in store.items() if not r["audit"] and r["path"] not in labelled]
        X, _ = images.get([r["path"] for r in train])
        classes = [str(c) for c in range(10)]
        y = np.array([classes.index(truth[r["path"]]) for r in train])
        model = make_learner("logistic", DataInfo(10, X.shape[1:], 1 / 255, tuple(classes)), seed=seed).fit(X, y)
        X_held, _ = images.get([r["path"] for r in held])
        y_held = np.array([classes.index(truth[r["path"]]) for r in held])
        true_accuracy = float((model.predict_proba(X_held).argmax(1) == y_held).mean())
        covered += metrics["audit_low"] <= true_accuracy <= metrics["audit_high"]
        store.close()
    print(f"audit 95% interval covered the true accuracy in {covered} of {COVERAGE_SEEDS} seeds")
    assert covered >= 16


def test_each_round_records_its_predictions_on_the_same_stop_set_and_its_audit_score(digits_folder, tmp_path):
    """The stop signal's evidence: a fixed seeded stop set of up to 200 non-audit images, predicted every
    round, and the audit sample's correct / total."""
    from core.labels.session import STOP_SET_SIZE, model_rounds
    from core.labels.stopping import stop_signal

    root, truth = digits_folder
    store = _project(root, tmp_path / "p.db", audit=30, seed=1)
    audit = {r["id"] for r in store.items() if r["audit"]}
    _answer(store, sorted(audit), truth)
    images = ImageCache(store.root, 8)
    for _ in range(5):  # the first is a cold start: no model, no predictions
        round_id = propose(store, Settings(batch_size=5), images)
        _answer(store, [p["item_id"] for p in store.proposals(round_id)][:10], truth)
    assert store.rounds()[0]["strategy"] == "random (cold start)" and "stop_items" not in store.rounds()[0]["metrics"]
    recorded = [r["metrics"] for r in store.rounds()[1:]]
    assert all(m["stop_items"] == recorded[0]["stop_items"] for m in recorded)  # the same set every round
    assert len(recorded[0]["stop_items"]) == STOP_SET_SIZE and not set(recorded[0]["stop_items"]) & audit
    assert all(len(m["stop_predictions"]) == STOP_SET_SIZE for m in recorded)
    assert all(m["audit_n"] == 30 and m["audit_correct"] == round(m["audit_accuracy"] * 30) for m in recorded)
    rounds = model_rounds(store)
    assert [r.n_labeled for r in rounds] == [r["n_labeled"] for r in store.rounds()[1:]]
    assert stop_signal(rounds).sentence.startswith(("more labels still help", "gains have flattened"))


def test_the_stop_set_keeps_its_images_when_new_images_arrive():
    from core.labels.session import stop_set

    first = stop_set(range(1, 1001), {1, 2, 3}, seed=0)
    assert len(first) == 200 and not {1, 2, 3} & set(first)
    assert np.array_equal(first, stop_set(range(1, 1001), {1, 2, 3}, seed=0))  # the same every round
    grown = stop_set(range(1, 1101), {1, 2, 3}, seed=0)
    assert len(set(first) & set(grown)) >= 170  # 10% more images displace about 10% of the set, not all of it
    assert len(stop_set(range(1, 50), set(), seed=0)) == 49
