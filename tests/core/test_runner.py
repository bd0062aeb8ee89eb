"""The round loop: the published tutorial numbers, fairness, budgets, learners, stream mode."""

from __future__ import annotations

import numpy as np
import pytest

from core.engine.config import ConfigError, RunConfig
from core.datasets import load_dataset
from core.learners import LEARNERS, make_learner
from core.engine.runner import make_split, prepare, run_comparison
from tests.conftest import OFFLINE_LEARNER_SETTINGS

TUTORIAL = dict(dataset="digits", subset=330, test_size=0.0, initial=40, batch=5, rounds=5,
                learner="label_spreading", strategies=("entropy",), seed=0)


def test_reproduces_the_scikit_learn_label_spreading_tutorial():
    frame = run_comparison(RunConfig(**TUTORIAL)).frame()
    assert frame["n_labeled"].tolist() == [40, 45, 50, 55, 60]
    assert frame["pool_accuracy"].round(2).tolist() == [0.87, 0.90, 0.92, 0.95, 0.96]
    assert frame["test_accuracy"].isna().all()  # no test split: only the transductive accuracy


def test_every_strategy_starts_from_the_same_labels_and_spends_the_same_budget():
    config = RunConfig(strategies=("random", "entropy", "least_confidence", "smallest_margin", "largest_margin", "hybrid"),
                       initial=15, batch=6, rounds=4, strategy_params={"hybrid": {"clusters": 2}}, repeats=2, subset=400)
    comparison = run_comparison(config)
    for repeat in range(2):
        firsts = [comparison.runs[(s, repeat)][0].labeled.tolist() for s in config.strategies]
        assert all(f == firsts[0] for f in firsts)
        assert firsts[0] == list(range(15))  # the first `initial` samples of the shuffled pool
    for results in comparison.runs.values():
        assert [r.n_labeled for r in results] == [15, 21, 27, 33]
        for before, after in zip(results, results[1:]):  # labels revealed = exactly what was queried
            assert sorted(after.labeled.tolist()) == sorted(before.labeled.tolist() + before.queried.tolist())
    # repeats differ (own seeds), strategies differ after the first round
    assert comparison.runs[("random", 0)][0].test_accuracy != comparison.runs[("random", 1)][0].test_accuracy or \
        comparison.runs[("random", 0)][1].labeled.tolist() != comparison.runs[("random", 1)][1].labeled.tolist()
    assert comparison.runs[("random", 0)][1].labeled.tolist() != comparison.runs[("entropy", 0)][1].labeled.tolist()


def test_split_is_seeded_stratified_and_disjoint():
    digits = load_dataset("digits")
    split = make_split(digits, seed=3, test_size=0.25, subset=None)
    assert len(split.test) == 450 and len(split.pool) == 1797 - 450
    assert not set(split.pool.tolist()) & set(split.test.tolist())
    test_share = np.bincount(digits.labels[split.test], minlength=10) / np.bincount(digits.labels, minlength=10)
    assert np.allclose(test_share, 0.25, atol=0.02)
    again = make_split(digits, seed=3, test_size=0.25, subset=100)
    np.testing.assert_array_equal(again.pool, split.pool[:100])
    assert make_split(digits, 0, 0.0, None).pool.tolist() == np.random.RandomState(0).permutation(1797).tolist()


def test_same_config_gives_identical_results():
    config = RunConfig(strategies=("hybrid", "random"), initial=12, batch=4, rounds=3, strategy_params={"hybrid": {"clusters": 2}}, subset=300)
    a, b = run_comparison(config).frame(), run_comparison(config).frame()
    cols = ["strategy", "repeat", "n_labeled", "test_accuracy", "pool_accuracy", "pool_macro_f1"]
    assert a[cols].equals(b[cols])


@pytest.mark.parametrize("learner", sorted(LEARNERS))
def test_learner_gives_probabilities_over_all_classes_even_when_some_are_unseen(learner):
    digits = load_dataset("digits")
    model = make_learner(learner, digits.info, seed=0, **OFFLINE_LEARNER_SETTINGS.get(learner, {}))
    seen = np.flatnonzero(digits.labels < 3)[:30]  # only classes 0, 1, 2
    X_unl = digits.images[500:600]
    model.fit(digits.images[seen], digits.labels[seen], X_unlabeled=X_unl if model.semi_supervised else None)
    proba = model.predict_proba(digits.images[:50])
    assert proba.shape == (50, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba[:, 3:] == 0).all()
    assert model.embed(digits.images[:5]).shape[0] == 5
    if model.semi_supervised:
        assert model.transduction_proba_.shape == (100, 10)


@pytest.mark.parametrize("learner", sorted(LEARNERS))
def test_learner_handles_a_single_seen_class(learner):
    digits = load_dataset("digits")
    model = make_learner(learner, digits.info, **OFFLINE_LEARNER_SETTINGS.get(learner, {}))
    idx = np.flatnonzero(digits.labels == 4)[:5]
    model.fit(digits.images[idx], digits.labels[idx], X_unlabeled=digits.images[:20] if model.semi_supervised else None)
    assert (model.predict_proba(digits.images[:3]).argmax(1) == 4).all()


def test_unknown_learner_parameter_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['gama'\] for learner 'label_spreading'; valid: \['gamma'"):
        make_learner("label_spreading", load_dataset("digits").info, gama=1)


def test_label_spreading_refuses_a_dense_graph_too_large_for_memory():
    digits = load_dataset("digits")
    model = make_learner("label_spreading", digits.info)
    big = np.zeros((20_001, 8, 8, 1), dtype=np.uint8)
    with pytest.raises(ValueError, match="kernel=knn"):
        model.fit(digits.images[:20], digits.labels[:20], X_unlabeled=big)


@pytest.mark.parametrize("policy", ["budget", "threshold"])
def test_stream_mode_gives_learning_curves_of_the_same_shape(policy):
    config = RunConfig(mode="stream", stream_policy=policy, threshold=0.3, strategies=("random", "entropy"),
                       initial=20, batch=10, rounds=4, subset=500)
    comparison = run_comparison(config)
    frame = comparison.frame()
    assert set(frame.columns) >= {"strategy", "repeat", "round", "n_labeled", "test_accuracy", "pool_accuracy"}
    for results in comparison.runs.values():
        n = [r.n_labeled for r in results]
        assert n[0] == 20 and all(b - a <= 10 for a, b in zip(n, n[1:])) and n[-1] <= config.budget
        assert results[-1].state["used"] <= 30
    if policy == "budget":  # the budget-aware policy spends the whole budget over the stream
        assert [r.n_labeled for r in comparison.runs[("entropy", 0)]] == [20, 30, 40, 50]


def test_stream_budget_policy_prefers_uncertain_arrivals():
    config = RunConfig(mode="stream", strategies=("random", "entropy"), initial=20, batch=40, rounds=3, subset=1000)
    comparison = run_comparison(config)

    def mean_queried_score(strategy):
        results = comparison.runs[(strategy, 0)]
        return np.mean([np.nanmean(r.scores[r.queried]) / np.nanmean(r.scores) for r in results[:-1]])

    assert mean_queried_score("entropy") > 1.3 * mean_queried_score("random")


def test_stream_mode_rejects_the_hybrid():
    with pytest.raises(ConfigError, match=r"strategies \['hybrid'\] have no stream form; in stream mode choose from \[.*'random'"):
        RunConfig(mode="stream", strategies=("hybrid",))


def test_prepare_checks_budget_against_the_pool_before_running():
    with pytest.raises(ConfigError, match=r"budget initial \+ batch\*\(rounds-1\) = 20 \+ 10\*9 = 110 is larger than the pool \(100"):
        prepare(RunConfig(subset=100, rounds=10))


def test_digits_is_exactly_scikit_learns_load_digits():
    from sklearn.datasets import load_digits

    bunch, ours = load_digits(), load_dataset("digits")
    np.testing.assert_array_equal(ours.images[..., 0], bunch.images)
    np.testing.assert_array_equal(ours.labels, bunch.target)
    assert ours.n_classes == 10 and ours.images.dtype == np.uint8


@pytest.mark.parametrize("test_size", [0.0, 0.1, 0.25, 0.333])
def test_pool_size_check_agrees_with_the_split_it_stands_for(test_size):
    from core.engine.runner import pool_candidates

    digits = load_dataset("digits")
    assert pool_candidates(digits, test_size) == len(make_split(digits, 0, test_size, None).pool)


def test_a_class_too_small_to_stratify_is_a_config_error():
    from core.engine.runner import pool_candidates
    from core.types import Dataset

    tiny = Dataset("tiny", np.zeros((7, 2, 2, 1), np.uint8), np.array([0, 0, 0, 1, 1, 1, 2]), ("a", "b", "c"))
    with pytest.raises(ConfigError, match="cannot make a stratified test split of 'tiny'.*smallest class 1"):
        pool_candidates(tiny, 0.25)
    assert pool_candidates(tiny, 0.0) == 7


def test_learner_settings_text_round_trips_including_values_with_commas():
    from core.engine.config import format_params, parse_params

    params = {"channels": "4,8,8", "epochs": 1, "lr": 0.001, "augment": "off"}
    assert parse_params(format_params(params)) == params
    assert parse_params("  ") == {}
    with pytest.raises(ConfigError, match="learner_params: expected NAME=VALUE; got '8'"):
        parse_params("8")


@pytest.mark.parametrize("learner", ["logistic", "label_spreading"])
def test_a_budget_that_labels_the_whole_pool_finishes(learner):
    # subset 110 = initial 20 + 9 rounds x 10: the last round has no unlabelled sample left to score
    config = RunConfig(learner=learner, strategies=("random", "entropy", "hybrid"), subset=110, test_size=0.0)
    frame = run_comparison(config).frame()
    last = frame[frame["round"] == 9]
    assert (last["n_labeled"] == 110).all() and (last["n_queried"] == 0).all()
    assert last["pool_accuracy"].isna().all()  # nothing unlabelled left to measure on: undefined, not 0


def test_a_short_last_batch_takes_the_rest_of_the_pool():
    # subset 111: round 9 has 111 - 110 = 1 sample left, fewer than the batch of 10 (hybrid alpha 0.5 -> 0 uncertain)
    comparison = run_comparison(RunConfig(strategies=("random", "hybrid"), subset=111, test_size=0.0))
    for strategy in ("random", "hybrid"):
        results = comparison.runs[(strategy, 0)]
        assert results[-1].n_labeled == 110 and results[-1].queried.size == 1
        assert results[-1].labeled.size + results[-1].queried.size == 111
