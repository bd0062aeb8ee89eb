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
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

import numpy as np
from threadpoolctl import threadpool_limits

from core.engine.cache import Cache, CacheError, RunStore
from core.engine.config import ConfigError, RunConfig, RunSpec, check_against_data
from core.datasets import DatasetError, load_dataset
from core.learners import build_learner
from core.params import ParamError
from core.strategies import NEEDS, STRATEGIES
from core.engine.threads import AUTO, limited_threads
from core.engine.stream import StreamSelector, arrival_order
from core.types import PENDING, Dataset, KnownLabels, Oracle, PoolView, RoundResult

# scikit-learn, numba and pandas are imported where first needed: reading a finished run back
# from the cache (the CLI's and the dashboard's common case) pays for none of them.

log = logging.getLogger(__name__)

OnRound = Callable[[RunSpec, RoundResult, bool], None]  # (spec, result, from_cache)
ShouldStop = Callable[[], bool]


from core.stopping import Cancelled  # noqa: E402  (raised here between rounds, and inside extraction and epochs)


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
        raise ConfigError(f"test_size={test_size}: cannot make a stratified test split of {dataset.name!r} ({exc})",
                          "test_size") from None
    return np.sort(train), np.sort(test)


def make_split(dataset: Dataset, seed: int, test_size: float, subset: int | None) -> Split:
    """Pool order = `RandomState(seed).permutation` of the candidates, truncated to `subset`."""
    train, test = trainable_indices(dataset, seed, test_size)
    pool = train[np.random.RandomState(seed).permutation(len(train))]
    return Split(pool[:subset] if subset is not None else pool, test)


def _nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _make_selector(spec: RunSpec, asked: np.ndarray, previous: RoundResult | None):
    strategy = STRATEGIES[spec.strategy].build(spec.strategy_params)  # checked once, by the RunConfig
    if spec.mode == "pool":
        return strategy
    state = previous.state if previous is not None else {}
    return StreamSelector(
        strategy,
        policy=spec.stream_policy,
        threshold=spec.threshold,
        stream_budget=spec.batch * (spec.rounds - 1),
        order=arrival_order(np.arange(spec.initial, len(asked)), spec.seed),
        position=state.get("position", 0), used=state.get("used", 0), window=state.get("window"),
    )


def is_finished(spec: RunSpec, results: list[RoundResult]) -> bool:
    """Every requested round is done, or a stream ran out of arrivals or budget."""
    return len(results) >= spec.rounds or bool(
        results and results[-1].state.get("exhausted") and not len(results[-1].queried))


def is_paused(results: list[RoundResult]) -> bool:
    """The oracle has not answered every sample the last round asked for (a person labels later)."""
    return bool(results) and bool((results[-1].revealed == PENDING).any())


MakeOracle = Callable[[RunSpec, Dataset, "Split"], Oracle]


def known_labels(spec: RunSpec, dataset: Dataset, split: "Split") -> Oracle:
    """The default oracle: the dataset's own labels of the pool (a simulated person)."""
    return KnownLabels(dataset.labels[split.pool])


def declared_view(learner, labeled_mask: np.ndarray, X_unlabeled: np.ndarray, X_labeled: np.ndarray,
                  labels: np.ndarray, needs: frozenset[str], strategy: str) -> PoolView:
    """A PoolView holding exactly what `needs` declares (plus the pool's probabilities, which evaluation
    and proposals read), each computed once by the fitted `learner`. `X_unlabeled` / `X_labeled` rows
    follow the unlabelled / labelled positions of `labeled_mask`."""
    want = {NEEDS[need][0] for need in needs if need != "labeled_features"} | {"proba"}
    given = {}
    if learner.transduction_proba_ is not None:  # a semi-supervised fit already labelled the pool
        given["proba"] = learner.transduction_proba_
        want.discard("proba")
    if want:
        given.update(learner.infer(X_unlabeled, frozenset(want)))
    return PoolView(labeled_mask, proba=given["proba"], embeddings=given.get("features"),
                    proba_samples=given.get("proba_samples"), labels=labels,
                    labeled_embeddings=(learner.infer(X_labeled, frozenset({"features"}))["features"]
                                        if "labeled_features" in needs else None),
                    strategy=strategy)


class RunState:
    """One strategy x repeat seed being computed: resumed from the cache, then advanced a round at a time.

    A round is a step: fit on what the oracle labelled -> compute exactly what the strategy
    declared (`needs`), once -> evaluate -> select -> ask the oracle -> record. An oracle
    that answers PENDING pauses the run; `start` asks again, as a killed run resumes.
    The caller holds the run's lock (`RunStore.lock`) from `start` until it stops stepping.
    """

    def __init__(self, dataset: Dataset, spec: RunSpec, store: RunStore | None, on_round: OnRound | None,
                 make_oracle: MakeOracle | None = None, cache_root=None) -> None:
        self.dataset, self.spec, self.store, self.on_round = dataset, spec, store, on_round
        self.cache_root = cache_root
        self.make_oracle = make_oracle or known_labels
        self.results: list[RoundResult] = []
        self.learner = None
        self.labels: np.ndarray | None = None

    @property
    def finished(self) -> bool:
        return is_finished(self.spec, self.results) or bool(self.results and self.results[-1].queried.size == 0)

    @property
    def paused(self) -> bool:
        initial_pending = self.labels is not None and bool((self.labels[: self.spec.initial] == PENDING).any())
        return is_paused(self.results) or initial_pending

    def start(self) -> "RunState":
        """Read back what the cache holds (reporting it through on_round) and set up the next round."""
        spec, store, dataset = self.spec, self.store, self.dataset
        results = store.load_rounds(repair=True)[: spec.rounds] if store is not None else []
        if not is_finished(spec, results):
            self.learner = build_learner(spec.learner, dataset.info, spec.seed, spec.learner_params)
            self.learner.attach(dataset, self.cache_root)
            if results and store is not None and self.learner.stateful:
                results = _restore_learner(store, self.learner, results)
        self.results = results
        for result in results:
            if self.on_round:
                self.on_round(spec, result, True)
        if is_finished(spec, results):
            return self
        self.split = make_split(dataset, spec.seed, spec.test_size, spec.subset)
        self.y_test = dataset.labels[self.split.test]
        n_pool = len(self.split.pool)
        if store is not None:
            store.write_spec({**asdict(spec), "dataset_fingerprint": dataset.fingerprint, "n_pool": n_pool,
                              "n_test": len(self.y_test), "key_fields": spec.key_fields(dataset.fingerprint)})
        self.oracle = self.make_oracle(spec, dataset, self.split)
        self.asked = np.zeros(n_pool, dtype=bool)  # labelled, skipped or pending: never selected again
        self.labels = np.full(n_pool, PENDING, dtype=np.int16)  # the oracle's answers by pool index
        initial = np.arange(spec.initial)
        self.asked[initial] = True
        self.labels[initial] = self.oracle.label(initial)
        for result in results:
            self.asked[result.queried] = True
            self.labels[result.queried] = result.revealed
        if is_paused(results):  # ask again for what was pending (a person may have answered since)
            last = results[-1]
            pending = last.queried[last.revealed == PENDING]
            answers = self.oracle.label(pending)
            if (answers != PENDING).any():
                last.revealed = last.revealed.copy()
                last.revealed[last.revealed == PENDING] = answers
                self.labels[pending] = answers
                if store is not None:
                    store.write_round(last)
        self.selector = _make_selector(spec, self.asked, results[-1] if results else None)
        return self

    def step(self) -> RoundResult:
        """Compute, cache and report the next round."""
        index, spec, store, learner = len(self.results), self.spec, self.store, self.learner
        result = self._round(index)
        result.revealed = (self.oracle.label(result.queried).astype(np.int16) if result.queried.size
                           else np.zeros(0, dtype=np.int16))
        if store is not None:
            if learner.stateful:  # before the round record: a record implies its state
                store.write_state(index, learner.get_state())
            store.write_round(result)
        self.results.append(result)
        if self.on_round:
            self.on_round(spec, result, False)
        self.asked[result.queried] = True
        self.labels[result.queried] = result.revealed
        return result

    def _inputs(self, X_pool: np.ndarray, needs: frozenset[str]) -> PoolView:
        """A PoolView holding exactly what the strategy declared (plus the pool's probabilities,
        which evaluation reads), each computed once."""
        learner, asked = self.learner, self.asked
        if asked.all():  # the budget took the whole pool: nothing left to score, predict or pick
            n_classes = self.dataset.n_classes
            return PoolView(asked, proba=np.zeros((0, n_classes), np.float32), strategy=self.spec.strategy)
        labeled = np.flatnonzero(asked)
        return declared_view(learner, asked, X_pool[~asked], X_pool[labeled], self.labels[labeled], needs,
                             self.spec.strategy)

    def _round(self, index: int) -> RoundResult:
        from core.analysis.metrics import evaluate

        spec, learner, selector, split = self.spec, self.learner, self.selector, self.split
        # Images are indexed per round rather than held per run: a comparison steps all its
        # strategies side by side, and one pool copy each would multiply the memory.
        X_pool, X_test = self.dataset.images[split.pool], self.dataset.images[split.test]
        y_pool, n_classes = self.dataset.labels[split.pool], self.dataset.n_classes
        fit = np.flatnonzero(self.labels >= 0)
        t0 = time.perf_counter()
        learner.fit(X_pool[fit], self.labels[fit].astype(np.int64),
                    X_unlabeled=X_pool[~self.asked] if learner.semi_supervised else None)
        t1 = time.perf_counter()
        view = self._inputs(X_pool, selector.required())
        pool_pred = view.proba.argmax(axis=1)
        pool_acc, pool_f1, pool_cm = evaluate(y_pool[view.unlabeled], pool_pred, n_classes)
        if len(self.y_test):
            test_acc, test_f1, test_cm = evaluate(self.y_test, learner.predict_proba(X_test).argmax(axis=1), n_classes)
        else:
            test_acc = test_f1 = math.nan
        t2 = time.perf_counter()
        k = min(spec.batch, view.n_unlabeled)
        rng = np.random.default_rng([spec.seed, index])
        if k > 0 and not selector.exhausted:
            selection = selector.select(view, k, rng=rng)
            queried, used_scores, measure = selection.indices, selection.scores, selection.measure
        else:
            queried, used_scores, measure = np.arange(0), None, None
        t3 = time.perf_counter()
        if used_scores is None:  # random scores nothing; show the entropy it ignored
            from core.strategies.measures import entropy

            used_scores, measure = entropy(view.proba), "entropy"
        scores = np.full(len(y_pool), np.nan, dtype=np.float32)
        scores[view.unlabeled] = used_scores
        predicted = np.full(len(y_pool), -1, dtype=np.int16)
        predicted[view.unlabeled] = pool_pred
        return RoundResult(
            round=index, n_labeled=int(fit.size),
            test_accuracy=_nan_to_none(test_acc), test_macro_f1=_nan_to_none(test_f1),
            pool_accuracy=_nan_to_none(pool_acc), pool_macro_f1=_nan_to_none(pool_f1),
            fit_seconds=t1 - t0, score_seconds=t2 - t1, select_seconds=t3 - t2,
            labeled=fit.astype(np.int32), queried=np.asarray(queried, dtype=np.int32),
            scores=scores, predicted=predicted,
            confusion=test_cm if len(self.y_test) else pool_cm, confusion_on="test" if len(self.y_test) else "pool",
            measure=measure, state=selector.state(),
        )


def run_one(
    dataset: Dataset,
    spec: RunSpec,
    *,
    cache: Cache | None = None,
    on_round: OnRound | None = None,
    should_stop: ShouldStop | None = None,
    make_oracle: MakeOracle | None = None,
    threads: int = AUTO,
) -> list[RoundResult]:
    """Run (or resume, or read back) one strategy for one repeat seed; `threads` as RunConfig.threads."""
    return _run_side_by_side(dataset, [spec], cache, on_round, should_stop, make_oracle, threads)[0]


def _run_side_by_side(dataset: Dataset, specs: list[RunSpec], cache: Cache | None, on_round: OnRound | None,
                      should_stop: ShouldStop | None, make_oracle: MakeOracle | None = None,
                      threads: int = AUTO) -> list[list[RoundResult]]:
    """Advance the runs of `specs` one round each in turn, so a cancelled comparison is a partial comparison.

    `threads` (RunConfig.threads) caps BLAS, OpenMP, numba and torch for the whole run; AUTO keeps each
    learner's measured BLAS setting.

    Locks are taken in key order, so two processes whose comparisons share runs cannot deadlock.
    """
    stores = [cache.run(spec.key(dataset.fingerprint)) if cache is not None else None for spec in specs]
    with contextlib.ExitStack() as held:
        for store in sorted((s for s in stores if s is not None), key=lambda s: s.key):
            held.enter_context(store.lock())
        root = cache.root if cache is not None else None
        states = [RunState(dataset, spec, store, on_round, make_oracle, root).start() for spec, store in zip(specs, stores)]
        active = [s for s in states if not s.finished and not s.paused]
        blas = active[0].learner.blas_threads if active else None  # one learner config per comparison
        with limited_threads(threads) if threads else threadpool_limits(limits=blas):
            while active:
                for state in active:
                    if should_stop is not None and should_stop():
                        raise Cancelled(f"stopped before round {len(state.results)} of {state.spec.strategy} "
                                        f"(seed {state.spec.seed})")
                    state.step()
                active = [s for s in active if not s.finished and not s.paused]
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
        frame = pd.DataFrame(rows, columns=columns).astype({c: float for c in columns[5:12]})
        if self.dataset is not None and self.dataset.costs is not None:  # a labelling project: its recorded times
            frame["labelling_seconds"] = [seconds for runs in self.labelling_seconds().values() for seconds in runs]
        return frame

    def labelling_seconds(self) -> dict[tuple[str, int], list[float]]:
        """Per run, per round: the recorded labelling time of every label the round's model was fitted on
        (initial set included), in seconds. Only for data with recorded times (`Dataset.costs`)."""
        if self.dataset.costs is None:
            raise ValueError(f"dataset {self.dataset.name!r} has no recorded labelling times")
        pools: dict[int, np.ndarray] = {}
        out = {}
        for (strategy, repeat), results in self.runs.items():
            seed = self.config.seed + repeat
            if seed not in pools:  # the same split for every strategy of a repeat (a fair comparison)
                pools[seed] = make_split(self.dataset, seed, self.config.test_size, self.config.subset).pool
            costs = self.dataset.costs[pools[seed]]
            out[(strategy, repeat)] = [float(costs[r.labeled].sum()) for r in results]
        return out


def prepare(config: RunConfig, dataset: Dataset | None = None) -> Dataset:
    """Load the dataset and run the checks that need it. Raises ConfigError; writes nothing."""
    if config.ray_address:  # the cluster answers, before the data is loaded (an unreachable one is a settings error)
        connect_ray(config.ray_address)
    if dataset is None:
        try:
            dataset = load_dataset(config.dataset, **config.dataset_options)
        except DatasetError as exc:  # files present but unusable: an invalid --dataset / --data-dir choice
            raise ConfigError(str(exc), "data_dir" if config.data_dir else "dataset") from None
    check_against_data(config, dataset.n_classes, pool_candidates(dataset, config.test_size))
    try:  # learner settings' values (C=-1, epochs=0, images too small for the cnn) before anything is written
        build_learner(config.learner, dataset.info, config.seed, config.learner_settings())
    except ValueError as exc:  # a ParamError names its option; a cross-setting message gets the prefix
        message = str(exc)
        option = (exc.option if isinstance(exc, ParamError) else None) or "learner_params"
        raise ConfigError(message if message.startswith("learner_params") else f"learner_params: {message}",
                          option) from None
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
            "and both parts at least one sample per class; use a larger test_size, or 0", "test_size")
    return n - n_test


@contextlib.contextmanager
def features_on_ray(address: str):
    """While a comparison runs: with a Ray address (RunConfig.ray_address), the feature store extracts its chunks
    as Ray tasks there (core.learners.pretrained reads the variable). Connects first, so an address with no
    cluster behind it is a ConfigError naming Ray and the address before any work."""
    from core.learners.pretrained import RAY_ADDRESS_VARIABLE

    if not address:
        yield
        return
    connect_ray(address)
    previous = os.environ.get(RAY_ADDRESS_VARIABLE)
    os.environ[RAY_ADDRESS_VARIABLE] = address
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(RAY_ADDRESS_VARIABLE, None)
        else:
            os.environ[RAY_ADDRESS_VARIABLE] = previous


def _check_reachable(address: str) -> None:
    """A HOST:PORT address (ray:// or not) whose port does not answer: ConfigError at once (ray.init waits minutes)."""
    import socket

    from core.engine.config import ray_host_port

    host, port = ray_host_port(address)
    if host is None:
        return  # 'auto': Ray itself finds the running cluster, or says there is none
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise ConfigError(f"ray_address: no Ray cluster reachable at {address!r} ({exc.strerror or exc})",
                          "ray_address") from None


def connect_ray(address: str) -> None:
    """Connect this process to the Ray cluster at `address` (once); ConfigError naming Ray and the address."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"ray_address {address!r}: Ray is not installed (pip install 'albench[ray]')",
                          "ray_address") from None
    if not ray.is_initialized():
        _check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:  # no cluster there, a malformed address
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"ray_address: no Ray cluster reachable at {address!r} ({first})", "ray_address") from None


def run_comparison(
    config: RunConfig,
    *,
    cache: Cache | None = None,
    dataset: Dataset | None = None,
    on_round: OnRound | None = None,
    should_stop: ShouldStop | None = None,
    specs: Iterable[RunSpec] | None = None,
    make_oracle: MakeOracle | None = None,
) -> Comparison:
    """Run every strategy x repeat of `config`, resuming from and writing to `cache`.

    `make_oracle(spec, dataset, split)` gives each run its oracle (default: the dataset's labels).
    Runs whose oracle answered PENDING stop where they are; rerunning continues them."""
    dataset = prepare(config, dataset)
    specs = list(specs) if specs is not None else config.specs()
    comparison = Comparison(config, dataset)
    if config.ray_address:  # before anything is saved: an address with no cluster is a settings error
        connect_ray(config.ray_address)
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
        with cache.computing(config.key()) if cache is not None else contextlib.nullcontext(), \
                features_on_ray(config.ray_address):
            for group in by_repeat.values():
                for spec, results in zip(group, _run_side_by_side(dataset, group, cache, on_round, should_stop,
                                                                           make_oracle, config.threads)):
                    comparison.runs[(spec.strategy, spec.repeat)] = results
        waiting = [(s, comparison.runs[(s.strategy, s.repeat)]) for s in specs]
        if any(is_paused(results) and not is_finished(s, results) for s, results in waiting):
            status = "paused"  # waiting for the oracle's answers; rerunning continues
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
