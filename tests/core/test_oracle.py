"""The round as a step with an explicit oracle: known labels by default, or answers that come later."""

from __future__ import annotations

import numpy as np
import pytest

from core.engine.cache import Cache
from core.engine.config import RunConfig
from core.engine.runner import is_paused, known_labels, load_comparison, run_comparison
from core.types import PENDING, SKIPPED

CONFIG = RunConfig(strategies=("entropy", "random"), initial=20, batch=5, rounds=4, subset=200)


class Person:
    """A simulated person: knows the labels, but answers only what `answered` allows."""

    def __init__(self, labels: np.ndarray, answered) -> None:
        self.labels, self.answered, self.asked = labels, answered, []

    def label(self, indices):
        self.asked.append(np.asarray(indices).copy())
        return np.array([self.labels[i] if self.answered(int(i)) else PENDING for i in indices], dtype=np.int16)


def test_the_default_oracle_reveals_known_labels_and_the_record_keeps_them(tmp_path):
    comparison = run_comparison(CONFIG, cache=Cache(tmp_path))
    dataset = comparison.dataset
    from core.engine.runner import make_split

    split = make_split(dataset, CONFIG.seed, CONFIG.test_size, CONFIG.subset)
    for results in comparison.runs.values():
        for r in results[:-1]:
            np.testing.assert_array_equal(r.revealed, dataset.labels[split.pool][r.queried])
    reread = load_comparison(CONFIG, Cache(tmp_path))
    for key, results in comparison.runs.items():
        for a, b in zip(results, reread.runs[key]):
            np.testing.assert_array_equal(a.revealed, b.revealed)


def test_a_pending_answer_pauses_the_run_and_a_later_answer_resumes_it_exactly(tmp_path):
    reference = run_comparison(CONFIG)
    cache, people = Cache(tmp_path), {}
    budget = {"open": CONFIG.initial + CONFIG.batch}  # the person has labelled the initial set and one batch

    def make_person(spec, dataset, split):
        person = Person(dataset.labels[split.pool], lambda i: len(answered) < budget["open"] or i in answered)
        people[spec.strategy] = person
        return person

    answered: set[int] = set()

    def track(spec, dataset, split):
        person = make_person(spec, dataset, split)
        original = person.label

        def label(indices):
            out = original(indices)
            answered.update(int(i) for i, a in zip(indices, out) if a != PENDING)
            return out

        person.label = label
        return person

    paused = run_comparison(CONFIG, cache=cache, make_oracle=track)
    for results in paused.runs.values():
        assert 0 < len(results) < CONFIG.rounds and is_paused(results)
        assert (results[-1].revealed == PENDING).any()
    assert load_comparison(CONFIG, cache).runs.keys() == paused.runs.keys()

    budget["open"] = 10**9  # the person comes back and answers everything
    resumed = run_comparison(CONFIG, cache=cache, make_oracle=track)
    for key, results in reference.runs.items():
        assert [r.n_labeled for r in resumed.runs[key]] == [r.n_labeled for r in results]
        assert [r.test_accuracy for r in resumed.runs[key]] == [r.test_accuracy for r in results]
        for a, b in zip(resumed.runs[key], results):
            np.testing.assert_array_equal(a.queried, b.queried)
            np.testing.assert_array_equal(a.revealed, b.revealed)


def test_skipped_samples_are_never_trained_on_nor_asked_again(tmp_path):
    skipped_every = 3

    def skipping(spec, dataset, split):
        labels = dataset.labels[split.pool]

        class Skipper:
            def label(self, indices):
                return np.array([SKIPPED if (i >= spec.initial and i % skipped_every == 0) else labels[i]
                                 for i in indices], dtype=np.int16)

        return Skipper()

    results = run_comparison(CONFIG, cache=Cache(tmp_path), make_oracle=skipping).runs[("entropy", 0)]
    asked = np.concatenate([r.queried for r in results])
    assert np.unique(asked).size == asked.size  # nothing asked twice
    for before, after in zip(results, results[1:]):
        kept = before.queried[before.revealed >= 0]
        assert after.n_labeled == before.n_labeled + kept.size
        assert not np.isin(before.queried[before.revealed == SKIPPED], after.labeled).any()


def test_known_labels_is_the_default_oracle():
    reference = run_comparison(CONFIG)
    explicit = run_comparison(CONFIG, make_oracle=known_labels)
    for key in reference.runs:
        assert [r.test_accuracy for r in explicit.runs[key]] == [r.test_accuracy for r in reference.runs[key]]


@pytest.mark.parametrize("bad", [12, -3])
def test_an_answer_outside_the_classes_is_refused_by_the_cache_check(bad):
    from core.engine.cache import check_round

    comparison = run_comparison(CONFIG)
    first = comparison.runs[("entropy", 0)][0]
    first.revealed = np.full(first.queried.shape, bad, dtype=np.int16)
    assert "revealed labels" in check_round(first, None)
