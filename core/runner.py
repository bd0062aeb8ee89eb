"""The round loop. Fair-comparison rules live here:

- every strategy of a comparison starts from the same split, the same initial labelled set,
  the same learner settings and the same model seed (all derived from the repeat's seed);
- each round: fit -> evaluate (held-out test split and the still-unlabelled pool) ->
  score the pool -> select k -> reveal their labels -> next round;
- the budget counts labels including the initial set;
- strategy randomness in round t comes from `np.random.default_rng([seed, t])` only.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

import numpy as np
from threadpoolctl import threadpool_limits

from core.cache import Cache, CacheError, RunStore
from core.config import ConfigError, RunConfig, RunSpec, check_against_data
from core.datasets import DatasetError, load_dataset
from core.learners import make_learner
from core.strategies import make_strategy
from core.stream import StreamSelector, arrival_order
from core.types import Dataset, PoolView, RoundResult

# scikit-learn, numba and pandas are imported where first needed: reading a finished run back
# from the cache (the CLI's and the dashboard's common case) pays for none of them.

log = logging.getLogger(__name__)

OnRound = Callable[[RunSpec, RoundResult, bool], None]  # (spec, result, from_cache)
ShouldStop = Callable[[], bool]


class Cancelled(Exception):
    """The caller asked to stop; completed rounds are in the cache."""


@dataclass(frozen=True)
class Split:
    pool: np.ndarray  # dataset indices, in pool order: the first `initial` are labelled at the start
    test: np.ndarray  # dataset indices of the held-out test split (empty with test_size 0)


def trainable_indices(dataset: Dataset, seed: int, test_size: float) -> tuple[np.ndarray, np.ndarray]:
    """(candidates for the pool, test split) before the pool is shuffled and truncated."""
    n = len(dataset.labels)
    if dataset.is_test is not None:  # the source's own split wins; test_size 0 still drops it
        train, test = np.flatnonzero(~dataset.is_test), np.flatnonzero(dataset.is_test)
        return train, (test if test_size > 0 else test[:0])
    if test_size == 0:
        return np.arange(n), np.arange(0)
    from sklearn.model_selection import train_test_split

    try:
        train, test = train_test_split(np.arange(n), test_size=test_size, stratify=dataset.labels, random_state=seed)
    except ValueError as exc:
        raise ConfigError(f"test_size={test_size}: cannot make a stratified test split of {dataset.name!r} ({exc})") from None
    return np.sort(train), np.sort(test)


def make_split(dataset: Dataset, seed: int, test_size: float, subset: int | None) -> Split:
    """Pool order = `RandomState(seed).permutation` of the candidates, truncated to `subset`."""
    train, test = trainable_indices(dataset, seed, test_size)
    pool = train[np.random.RandomState(seed).permutation(len(train))]
    return Split(pool[:subset] if subset is not None else pool, test)


def _nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _make_selector(spec: RunSpec, labeled: np.ndarray, previous: RoundResult | None):
    if spec.mode == "pool":
        return make_strategy(spec.strategy, **spec.strategy_params)
    state = previous.state if previous is not None else {}
    return StreamSelector(
        spec.strategy,
        policy=spec.strategy_params.get("policy", "budget"),
        threshold=spec.strategy_params.get("threshold", 0.5),
        stream_budget=spec.batch * (spec.rounds - 1),
        order=arrival_order(np.flatnonzero(~_initial_mask(spec, len(labeled))), spec.seed),
        position=state.get("position", 0), used=state.get("used", 0), window=state.get("window"),
    )


def _initial_mask(spec: RunSpec, n_pool: int) -> np.ndarray:
    mask = np.zeros(n_pool, dtype=bool)
    mask[: spec.initial] = True
    return mask


def is_finished(spec: RunSpec, results: list[RoundResult]) -> bool:
    """Every requested round is done, or a stream ran out of arrivals or budget."""
    return len(results) >= spec.rounds or bool(
        results and results[-1].state.get("exhausted") and not len(results[-1].queried))


class RunState:
    """One strategy x repeat seed being computed: resumed from the cache, then advanced a round at a time.

    The caller holds the run's lock (`RunStore.lock`) from `start` until it stops stepping.
    """

    def __init__(self, dataset: Dataset, spec: RunSpec, store: RunStore | None, on_round: OnRound | None) -> None:
        self.dataset, self.spec, self.store, self.on_round = dataset, spec, store, on_round
        self.results: list[RoundResult] = []
        self.learner = None

    @property
    def finished(self) -> bool:
        return is_finished(self.spec, self.results) or bool(self.results and self.results[-1].queried.size == 0)

    def start(self) -> "RunState":
        """Read back what the cache holds (reporting it through on_round) and set up the next round."""
        spec, store, dataset = self.spec, self.store, self.dataset
        results = store.load_rounds(repair=True)[: spec.rounds] if store is not None else []
        if not is_finished(spec, results):
            self.learner = make_learner(spec.learner, dataset.info, seed=spec.seed, **spec.learner_params)
            if results and store is not None and hasattr(self.learner, "set_state"):
                results = _restore_learner(store, self.learner, results)
        self.results = results
        for result in results:
            if self.on_round:
                self.on_round(spec, result, True)
        if is_finished(spec, results):
            return self
        self.split = make_split(dataset, spec.seed, spec.test_size, spec.subset)
        self.y_pool, self.y_test = dataset.labels[self.split.pool], dataset.labels[self.split.test]
        if store is not None:
            store.write_spec({**asdict(spec), "dataset_fingerprint": dataset.fingerprint, "n_pool": len(self.y_pool),
                              "n_test": len(self.y_test), "key_fields": spec.key_fields(dataset.fingerprint)})
        self.mask = _initial_mask(spec, len(self.y_pool))
        if results:
            self.mask[results[-1].labeled] = True
            self.mask[results[-1].queried] = True
        self.selector = _make_selector(spec, self.mask, results[-1] if results else None)
        return self

    def step(self) -> RoundResult:
        """Compute, cache and report the next round."""
        index, spec, store, learner = len(self.results), self.spec, self.store, self.learner
        # Images are indexed per round rather than held per run: a comparison steps all its
        # strategies side by side, and one pool copy each would multiply the memory.
        images = self.dataset.images
        result = _one_round(index, spec, learner, self.selector, self.mask, images[self.split.pool], self.y_pool,
                            images[self.split.test], self.y_test, self.dataset.n_classes)
        if store is not None:
            if hasattr(learner, "get_state"):  # before the round record: a record implies its state
                store.write_state(index, learner.get_state())
            store.write_round(result)
        self.results.append(result)
        if self.on_round:
            self.on_round(spec, result, False)
        self.mask[result.queried] = True
        return result


def run_one(
    dataset: Dataset,
    spec: RunSpec,
    *,
    cache: Cache | None = None,
    on_round: OnRound | None = None,
    should_stop: ShouldStop | None = None,
) -> list[RoundResult]:
    """Run (or resume, or read back) one strategy for one repeat seed."""
    return _run_side_by_side(dataset, [spec], cache, on_round, should_stop)[0]


def _run_side_by_side(dataset: Dataset, specs: list[RunSpec], cache: Cache | None, on_round: OnRound | None,
                      should_stop: ShouldStop | None) -> list[list[RoundResult]]:
    """Advance the runs of `specs` one round each in turn, so a cancelled comparison is a partial comparison.

    Locks are taken in key order, so two processes whose comparisons share runs cannot deadlock.
    """
    stores = [cache.run(spec.key(dataset.fingerprint)) if cache is not None else None for spec in specs]
    with contextlib.ExitStack() as held:
        for store in sorted((s for s in stores if s is not None), key=lambda s: s.key):
            held.enter_context(store.lock())
        states = [RunState(dataset, spec, store, on_round).start() for spec, store in zip(specs, stores)]
        active = [s for s in states if not s.finished]
        blas = getattr(active[0].learner, "blas_threads", None) if active else None  # one learner config per comparison
        with threadpool_limits(limits=blas):
            while active:
                for state in active:
                    if should_stop is not None and should_stop():
                        raise Cancelled(f"stopped before round {len(state.results)} of {state.spec.strategy} "
                                        f"(seed {state.spec.seed})")
                    state.step()
                active = [s for s in active if not s.finished]
    return [state.results for state in states]


def _restore_learner(store: RunStore, learner, results: list[RoundResult]) -> list[RoundResult]:
    """Load the learner state of the last cached round that has one; later rounds are recomputed.

    A learner that carries state between rounds (the CNN fine-tunes its weights) resumes
    exactly only from its stored state; without one, the rounds after it are redone.
    """
    for index in range(len(results) - 1, -1, -1):
        state = store.read_state(index)
        if state is not None:
            learner.set_state(state)
            if index + 1 < len(results):
                store.report(f"run {store.key}: no learner state after round {index}; "
                             f"recomputing rounds {index + 1}..{len(results) - 1}")
            return results[: index + 1]
    store.report(f"run {store.key}: no stored learner state; recomputing from round 0")
    return []


def _one_round(index, spec, learner, selector, mask, X_pool, y_pool, X_test, y_test, n_classes) -> RoundResult:
    from core.metrics import evaluate

    labeled = np.flatnonzero(mask)
    t0 = time.perf_counter()
    learner.fit(X_pool[labeled], y_pool[labeled], X_unlabeled=X_pool[~mask] if learner.semi_supervised else None)
    t1 = time.perf_counter()
    if mask.all():  # the budget took the whole pool: nothing left to score, predict or pick
        view = PoolView(mask, proba=np.zeros((0, n_classes), np.float32), embeddings=np.zeros((0, 1), np.float32))
    elif (learner.transduction_proba_ is None and getattr(selector, "needs_embeddings", False)
            and hasattr(learner, "proba_and_embed")):  # one pass over the pool instead of two (CNN + hybrid)
        proba, features = learner.proba_and_embed(X_pool[~mask])
        view = PoolView(mask, learner=learner, X=X_pool, proba=proba, embeddings=features)
    else:
        view = PoolView(mask, learner=learner, X=X_pool, proba=learner.transduction_proba_)
    pool_pred = view.proba.argmax(axis=1)
    pool_acc, pool_f1, pool_cm = evaluate(y_pool[view.unlabeled], pool_pred, n_classes)
    if len(y_test):
        test_acc, test_f1, test_cm = evaluate(y_test, learner.predict_proba(X_test).argmax(axis=1), n_classes)
    else:
        test_acc = test_f1 = math.nan
    t2 = time.perf_counter()
    k = min(spec.batch, view.n_unlabeled)
    rng = np.random.default_rng([spec.seed, index])
    if k > 0 and not getattr(selector, "exhausted", False):
        selection = selector.select(view, k, rng=rng)
        queried, used_scores, measure = selection.indices, selection.scores, selection.measure
    else:
        queried, used_scores, measure = np.arange(0), None, None
    t3 = time.perf_counter()
    if used_scores is None:  # random scores nothing; show the entropy it ignored
        from core.strategies.uncertainty import entropy

        used_scores, measure = entropy(view.proba), "entropy"
    scores = np.full(len(y_pool), np.nan, dtype=np.float32)
    scores[view.unlabeled] = used_scores
    predicted = np.full(len(y_pool), -1, dtype=np.int16)
    predicted[view.unlabeled] = pool_pred
    return RoundResult(
        round=index, n_labeled=int(labeled.size),
        test_accuracy=_nan_to_none(test_acc), test_macro_f1=_nan_to_none(test_f1),
        pool_accuracy=_nan_to_none(pool_acc), pool_macro_f1=_nan_to_none(pool_f1),
        fit_seconds=t1 - t0, score_seconds=t2 - t1, select_seconds=t3 - t2,
        labeled=labeled.astype(np.int32), queried=np.asarray(queried, dtype=np.int32),
        scores=scores, predicted=predicted,
        confusion=test_cm if len(y_test) else pool_cm, confusion_on="test" if len(y_test) else "pool",
        measure=measure,
        state=selector.state() if hasattr(selector, "state") else {},
    )


@dataclass
class Comparison:
    """All runs of one RunConfig, as a table and as records."""

    config: RunConfig
    dataset: Dataset
    runs: dict[tuple[str, int], list[RoundResult]] = field(default_factory=dict)
    run_keys: dict[tuple[str, int], str] = field(default_factory=dict)

    def frame(self):
        """One row per strategy, repeat and round (the columns of rounds.csv), as a DataFrame."""
        import pandas as pd

        rows = [
            {"strategy": strategy, "repeat": repeat, "seed": self.config.seed + repeat, "round": r.round,
             "n_labeled": r.n_labeled, "test_accuracy": r.test_accuracy, "test_macro_f1": r.test_macro_f1,
             "pool_accuracy": r.pool_accuracy, "pool_macro_f1": r.pool_macro_f1, "fit_seconds": r.fit_seconds,
             "score_seconds": r.score_seconds, "select_seconds": r.select_seconds, "n_queried": int(r.queried.size)}
            for (strategy, repeat), results in self.runs.items()
            for r in results
        ]
        columns = ["strategy", "repeat", "seed", "round", "n_labeled", "test_accuracy", "test_macro_f1", "pool_accuracy",
                   "pool_macro_f1", "fit_seconds", "score_seconds", "select_seconds", "n_queried"]
        return pd.DataFrame(rows, columns=columns).astype({c: float for c in columns[5:12]})


def prepare(config: RunConfig, dataset: Dataset | None = None) -> Dataset:
    """Load the dataset and run the checks that need it. Raises ConfigError; writes nothing."""
    if dataset is None:
        try:
            dataset = load_dataset(config.dataset, **config.dataset_options)
        except DatasetError as exc:  # files present but unusable: an invalid --dataset / --data-dir choice
            raise ConfigError(str(exc)) from None
    check_against_data(config, dataset.n_classes, pool_candidates(dataset, config.test_size))
    try:  # learner settings' values (C=-1, epochs=0, images too small for the cnn) before anything is written
        make_learner(config.learner, dataset.info, seed=config.seed, **config.learner_params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"learner_params: {exc}") from None
    return dataset


def pool_candidates(dataset: Dataset, test_size: float) -> int:
    """How many samples the pool can draw from, without making the split.

    Same arithmetic as `train_test_split` (test = ceil(test_size * n)), so checking a config
    imports no scikit-learn; `test_split_sizes_match_sklearn` pins the equivalence.
    """
    if dataset.is_test is not None:
        return int((~dataset.is_test).sum())
    n = len(dataset.labels)
    if test_size == 0:
        return n
    n_test = math.ceil(test_size * n)
    counts = np.bincount(dataset.labels)
    counts = counts[counts > 0]
    if counts.min() < 2 or n_test < counts.size or n - n_test < counts.size:
        raise ConfigError(
            f"test_size={test_size}: cannot make a stratified test split of {dataset.name!r} "
            f"({n} samples, {counts.size} classes, smallest class {counts.min()}): every class needs 2+ samples "
            "and both parts at least one sample per class; use a larger test_size, or 0"
        )
    return n - n_test


def run_comparison(
    config: RunConfig,
    *,
    cache: Cache | None = None,
    dataset: Dataset | None = None,
    on_round: OnRound | None = None,
    should_stop: ShouldStop | None = None,
    specs: Iterable[RunSpec] | None = None,
) -> Comparison:
    """Run every strategy x repeat of `config`, resuming from and writing to `cache`."""
    dataset = prepare(config, dataset)
    specs = list(specs) if specs is not None else config.specs()
    comparison = Comparison(config, dataset)
    if cache is not None:
        try:
            cache.check_writable()
        except (PermissionError, CacheError):
            cached = load_comparison(config, cache, dataset, specs=specs)
            if all(is_finished(s, cached.runs[(s.strategy, s.repeat)]) for s in specs):
                return cached  # a finished comparison reads from a read-only cache
            raise
        _save_manifest(cache, config, dataset, specs, status="running")
    status = "done"
    for spec in specs:  # rows in spec order (strategy-major), as load_comparison gives them
        comparison.runs[(spec.strategy, spec.repeat)] = []
        comparison.run_keys[(spec.strategy, spec.repeat)] = spec.key(dataset.fingerprint)
    by_repeat: dict[int, list[RunSpec]] = {}
    for spec in specs:  # strategies side by side within a repeat; repeats one after another
        by_repeat.setdefault(spec.repeat, []).append(spec)
    try:
        with cache.computing(config.key()) if cache is not None else contextlib.nullcontext():
            for group in by_repeat.values():
                for spec, results in zip(group, _run_side_by_side(dataset, group, cache, on_round, should_stop)):
                    comparison.runs[(spec.strategy, spec.repeat)] = results
    except Cancelled:
        status = "cancelled"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        if cache is not None:
            try:
                _save_manifest(cache, config, dataset, specs, status=status)
            except OSError as exc:  # a full or read-only disk: keep the error that stopped the run
                log.warning("could not record comparison status %r: %s", status, exc)
    return comparison


def _save_manifest(cache: Cache, config: RunConfig, dataset: Dataset, specs: list[RunSpec], status: str) -> None:
    previous = cache.read_comparison(config.key()) or {}
    cache.write_comparison(config.key(), {
        "config": config.to_dict(), "dataset_fingerprint": dataset.fingerprint, "status": status,
        "runs": [s.key(dataset.fingerprint) for s in specs],
        "units": [{"strategy": s.strategy, "repeat": s.repeat, "seed": s.seed, "key": s.key(dataset.fingerprint)} for s in specs],
        "created": previous.get("created", time.time()), "updated": time.time(),
    })


def comparison_complete(config: RunConfig, cache: Cache, dataset: Dataset) -> bool:
    """Whether the cache holds every round of every run of `config` (reading it needs no writing)."""
    cached = load_comparison(config, cache, dataset)
    return all(is_finished(s, cached.runs[(s.strategy, s.repeat)]) for s in config.specs())


def load_comparison(config: RunConfig, cache: Cache, dataset: Dataset | None = None,
                    specs: Iterable[RunSpec] | None = None) -> Comparison:
    """Read whatever rounds the cache holds for `config` (nothing is computed)."""
    dataset = dataset if dataset is not None else load_dataset(config.dataset, **config.dataset_options)
    comparison = Comparison(config, dataset)
    for spec in (specs if specs is not None else config.specs()):
        key = spec.key(dataset.fingerprint)
        comparison.runs[(spec.strategy, spec.repeat)] = cache.run(key).load_rounds()[: spec.rounds]
        comparison.run_keys[(spec.strategy, spec.repeat)] = key
    return comparison
