"""Proposals for a person: fit a learner on the project's labels, score the rest with a strategy.

Why not `core.engine.runner` with a database-backed oracle (`make_oracle` answering PENDING until the
person answers)? The runner is built for a *fair simulated comparison*: it needs the dataset's
true labels up front (a stratified held-out test split, test/pool accuracy every round), draws
a fixed random initial set of `initial` samples, and caches rounds under a key that includes
the dataset's content fingerprint, which here would change with every label the person adds
or any class added later. A labelling project has none of that: no ground truth, a labelled
set that starts from imports or from nothing, classes that grow, and several annotators
answering out of order. So this module keeps the same plug-ins and the same contract (any
registered learner, any registered strategy built with `make_strategy(name, **params)`, fed a
`PoolView` holding exactly what `STRATEGIES[name].needs` declares) and records each round in the
project's own database (`LabelStore.record_round`), where the Label page and the CLI read it.

Accuracy without ground truth comes from the **audit sample**: a small random set the person
labels first, never trained on; the model's accuracy on it is an unbiased estimate with a
Wilson 95% interval. Without one, `metrics` holds cross-validated accuracy on the labelled set,
flagged `optimistic`: the labelled set was chosen by the strategy, not at random.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.labels.store import LabelStore

DEFAULT_STRATEGY = "entropy"
DEFAULT_LEARNER = "logistic"
DEFAULT_IMAGE_SIZE = 32
CANDIDATES_PER_SLOT = 4  # a round ranks this many items per batch slot, so a second tab still finds free ones
STOP_SET_SIZE = 200  # Bloodgood & Vijay-Shanker's stop set: a few hundred images suffice for a stable kappa


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sensible at 0 and n, unlike the normal one)."""
    if n == 0:
        return (0.0, 1.0)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


class ImageCache:
    """Decoded uint8 images of a project's items (resized), decoded once per process with the folder reader."""

    def __init__(self, root: Path, image_size: int = DEFAULT_IMAGE_SIZE) -> None:
        from core.datasets.images import check_image_size

        check_image_size(image_size)  # 0 or 100000 would fail (or fill memory) at the first decode
        self.root, self.image_size = root, image_size
        self._arrays: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def get(self, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(images (m, s, s, 3) uint8, mask of the `paths` that could be read).

        A path that leads outside the root (`store.inside`) counts as unreadable: it is never opened."""
        from core.datasets.folder import Listing, decode_folder
        from core.labels.store import ProjectError, inside

        with self._lock:
            missing = [p for p in dict.fromkeys(paths) if p not in self._arrays]
            for p in missing:
                try:
                    inside(self.root, p)
                except ProjectError:
                    self._arrays[p] = np.empty(0, np.uint8)
            missing = [p for p in missing if p not in self._arrays]
            if missing:
                listing = Listing([(p, 0, False) for p in missing], ("?",))
                arrays = decode_folder(self.root, listing, self.image_size)
                bad = {str(s) for s in arrays["skipped"]} | {str(s) for s in arrays["too_large"]}
                images = arrays["images"]
                if images.shape[-1] == 1:
                    images = np.repeat(images, 3, axis=-1)  # one layout for every batch
                it = iter(images)
                for p in missing:
                    self._arrays[p] = np.empty(0, np.uint8) if p in bad else next(it)
            ok = np.array([self._arrays[p].size > 0 for p in paths], dtype=bool)
            shape = (self.image_size, self.image_size, 3)
            stack = np.stack([self._arrays[p] for p, good in zip(paths, ok) if good]) if ok.any() \
                else np.zeros((0, *shape), np.uint8)
        return stack, ok


@dataclass
class Settings:
    strategy: str = DEFAULT_STRATEGY
    strategy_params: dict[str, Any] = field(default_factory=dict)
    learner: str = DEFAULT_LEARNER
    learner_params: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 8
    seed: int = 0

    def check(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The run's check of these settings (core.engine.settings.check_plugins, as a RunConfig is checked):
        a hybrid whose clusters exceed round(alpha * batch) fails here, before any fitting. Returns the
        checked (learner values, strategy values), which the plug-ins then take as they are."""
        from core.learners import LEARNERS
        from core.params import check_value, Interval
        from core.engine.settings import check_plugins
        from core.strategies import STRATEGIES

        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {sorted(STRATEGIES)}")
        if self.learner not in LEARNERS:
            raise ValueError(f"unknown learner {self.learner!r}; choose one of {sorted(LEARNERS)}")
        check_value("batch_size", self.batch_size, Interval(int, 1, 1000))
        # a round ranks CANDIDATES_PER_SLOT items per slot: that is the batch the strategy selects
        learner_values, values = check_plugins(self.learner, self.learner_params, [self.strategy],
                                               {self.strategy: self.strategy_params},
                                               self.batch_size * CANDIDATES_PER_SLOT)
        return learner_values, values[self.strategy]


def _state(store: LabelStore):
    """(labelled training item ids, their class indices, audit labelled ids + classes, undecided non-audit ids)."""
    classes = {name: i for i, name in enumerate(store.classes)}
    current = store.current()
    items = store.items()
    audit = {r["id"] for r in items if r["audit"]}
    train = [(i, classes[e.label]) for i, e in sorted(current.items()) if e.kind == "label" and i not in audit]
    audited = [(i, classes[e.label]) for i, e in sorted(current.items()) if e.kind == "label" and i in audit]
    undecided = [r["id"] for r in items if r["id"] not in current and r["id"] not in audit]
    return train, audited, undecided


def stop_set(item_ids, audit_ids, seed: int, size: int = STOP_SET_SIZE) -> np.ndarray:
    """A seeded sample of up to `size` non-audit item ids, the same every round while the items are the same.

    Item id i gets the i-th draw of a generator seeded by `seed` as its key (a stream's prefix does not
    change as it grows), so images added later keep the set unless their key beats the current ones,
    instead of redrawing it; one vectorised draw, not a generator per item."""
    candidates = np.array(sorted(set(item_ids) - set(audit_ids)), dtype=np.int64)
    if candidates.size == 0:
        return candidates
    keys = np.random.default_rng(seed).random(int(candidates.max()) + 1)[candidates]
    return np.sort(candidates[np.argsort(keys, kind="stable")[:size]])


def model_rounds(store: LabelStore) -> list:
    """The project's model rounds as `core.labels.stopping.ModelRound`s: those that recorded stop-set
    predictions on the same stop set as the newest one (a stop set changed by new images starts afresh)."""
    from core.labels.stopping import ModelRound

    recorded = [r for r in store.rounds() if isinstance(r["metrics"].get("stop_items"), list)
                and isinstance(r["metrics"].get("stop_predictions"), list)]
    if not recorded:
        return []
    last = recorded[-1]["metrics"]["stop_items"]
    out = []
    for r in recorded:
        m = r["metrics"]
        if m["stop_items"] != last:
            continue
        out.append(ModelRound(int(r["n_labeled"]), np.asarray(m["stop_predictions"], dtype=np.int64),
                              m.get("audit_correct"), m.get("audit_n")))
    return out


def _cv_accuracy(learner_factory, X: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, int, int] | None:
    """(accuracy, folds, samples): stratified k-fold (k = 2..5) over the classes with two labels or more;
    None with fewer than two such classes."""
    from sklearn.model_selection import StratifiedKFold

    values, counts = np.unique(y, return_counts=True)
    keep = np.isin(y, values[counts >= 2])
    X, y = X[keep], y[keep]
    if np.unique(y).size < 2:
        return None
    folds = int(min(5, counts[counts >= 2].min()))
    correct = 0
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        model = learner_factory().fit(X[train], y[train])
        correct += int((model.predict_proba(X[test]).argmax(1) == y[test]).sum())
    return correct / len(y), folds, int(len(y))


def propose(store: LabelStore, settings: Settings, images: ImageCache | None = None) -> int:
    """Fit, score, select, and record one round; returns its id.

    With fewer than two classes labelled there is no model yet: the round proposes undecided
    items in a seeded random order (its strategy is recorded as `random (cold start)`).
    """
    from core.learners import build_learner
    from core.engine.runner import declared_view
    from core.strategies import STRATEGIES
    from core.types import DataInfo

    learner_values, strategy_values = settings.check()
    images = images or ImageCache(store.root)
    train, audited, undecided = _state(store)
    n_round = len(store.rounds())
    rng = np.random.default_rng([settings.seed, n_round])
    k = min(settings.batch_size * CANDIDATES_PER_SLOT, len(undecided))
    classes = store.classes
    t0 = time.perf_counter()
    y = np.array([c for _, c in train], dtype=np.int64)
    if k == 0 or np.unique(y).size < 2:
        order = rng.permutation(len(undecided))[:k]
        proposals = [(undecided[i], None, None, None) for i in order]
        return store.record_round(strategy="random (cold start)", learner=settings.learner, params={},
                                  n_labeled=len(train), proposals=proposals,
                                  metrics={"note": "fewer than two classes labelled: no model yet"})
    paths = {r["id"]: r["path"] for r in store.items()}
    X_train, ok_train = images.get([paths[i] for i, _ in train])
    y = y[ok_train]
    X_pool, ok_pool = images.get([paths[i] for i in undecided])
    pool_ids = np.array(undecided)[ok_pool]
    info = DataInfo(len(classes), tuple(X_train.shape[1:]), 1.0 / 255.0, tuple(classes))

    def factory():
        return build_learner(settings.learner, info, settings.seed, learner_values)

    learner = factory()
    learner.fit(X_train, y, X_unlabeled=X_pool if learner.semi_supervised else None)
    fit_seconds = time.perf_counter() - t0
    strategy = STRATEGIES[settings.strategy].build(strategy_values)
    mask = np.zeros(len(X_train) + len(X_pool), dtype=bool)
    mask[: len(X_train)] = True
    proposals = []
    # Near the end the readable undecided items can be fewer than k: the strategy ranks those it can read,
    # and the unreadable ones follow without a guess (the person skips them) instead of failing the round.
    if len(pool_ids):
        view = declared_view(learner, mask, X_pool, X_train, y, strategy.required(), settings.strategy)
        selection = strategy.select(view, min(k, len(pool_ids)), rng=rng)
        rows = selection.indices - len(X_train)  # PoolView indices -> rows of X_pool
        proba = view.proba
        scores = selection.scores
        proposals = [(int(pool_ids[r]), int(proba[r].argmax()), float(proba[r].max()),
                      None if scores is None else float(scores[r])) for r in rows]
    unreadable = np.array(undecided, dtype=np.int64)[~ok_pool]
    proposals += [(int(i), None, None, None) for i in unreadable[: k - len(proposals)]]
    metrics: dict[str, Any] = {"fit_seconds": round(fit_seconds, 3), "n_train": int(len(y))}
    # The stop set (labelled or not, never audit): successive rounds' predictions on it say when labels stop helping.
    stop_ids = stop_set(paths, {r["id"] for r in store.items() if r["audit"]}, settings.seed)
    X_stop, ok_stop = images.get([paths[int(i)] for i in stop_ids])
    if len(X_stop):
        metrics.update(stop_items=[int(i) for i in stop_ids[ok_stop]],
                       stop_predictions=[int(c) for c in learner.predict_proba(X_stop).argmax(1)])
    if audited:
        X_audit, ok_audit = images.get([paths[i] for i, _ in audited])
        y_audit = np.array([c for _, c in audited])[ok_audit]
        correct = int((learner.predict_proba(X_audit).argmax(1) == y_audit).sum())
        low, high = wilson_interval(correct, len(y_audit))
        metrics.update(audit_accuracy=correct / len(y_audit), audit_low=low, audit_high=high, audit_n=len(y_audit),
                       audit_correct=correct)
    else:
        cv = _cv_accuracy(factory, X_train, y, settings.seed)
        if cv is not None:
            metrics.update(cv_accuracy=cv[0], cv_folds=cv[1], cv_n=cv[2], optimistic=True)
    return store.record_round(strategy=settings.strategy, learner=settings.learner,
                              params={"strategy_params": settings.strategy_params,
                                      "learner_params": settings.learner_params, "batch_size": settings.batch_size},
                              n_labeled=int(len(y)), proposals=proposals, metrics=metrics)


def next_batch(store: LabelStore, annotator: str, n: int, *, round_id: int | None = None, seconds: float | None = None,
               session: str | None = None):
    """Claim the next `n` items for `annotator` in `session` (a tab): undecided audit items first, then the
    latest round's proposals."""
    from core.labels.store import DEFAULT_CLAIM_SECONDS

    seconds = DEFAULT_CLAIM_SECONDS if seconds is None else seconds
    current = store.current()
    audit = [r["id"] for r in store.items() if r["audit"] and r["id"] not in current]
    session = session or uuid.uuid4().hex
    claimed = store.claim(annotator, n, candidates=audit, seconds=seconds, session=session) if audit else []
    if len(claimed) >= n:
        return claimed
    if round_id is None:
        rounds = store.rounds()
        if not rounds:
            return claimed
        round_id = rounds[-1]["id"]
    ranked = [p["item_id"] for p in store.proposals(round_id)]
    # claim() returns this annotator's live claims (the audit items just taken) first
    return store.claim(annotator, n, candidates=ranked, seconds=seconds, round_id=round_id, session=session)


class BackgroundProposer:
    """Refits in a daemon thread so the next batch is ready while the person labels this one.

    `request()` starts a refit unless one runs; `latest` is the newest round id it recorded
    (or found); `error` the last failure's message. Each thread uses its own SQLite connection.
    """

    def __init__(self, db_path: str | Path, settings: Settings, image_size: int = DEFAULT_IMAGE_SIZE) -> None:
        self.db_path, self.settings = Path(db_path), settings
        store = LabelStore(db_path)
        self.images = ImageCache(store.root, image_size)
        rounds = store.rounds()
        self.latest: int | None = rounds[-1]["id"] if rounds else None
        store.close()
        self.error: str | None = None
        self.seconds: float | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def request(self) -> bool:
        """Start a refit in the background; False when one is already running."""
        with self._lock:
            if self.busy:
                return False
            self._thread = threading.Thread(target=self._work, name="albench-label-refit", daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _work(self) -> None:
        store = LabelStore(self.db_path)
        t0 = time.perf_counter()
        try:
            self.latest = propose(store, self.settings, self.images)
            self.error = None
        except (ValueError, RuntimeError, OSError, sqlite3.Error) as exc:  # a bad setting, a failed fit, an unreadable file
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.seconds = time.perf_counter() - t0
            store.close()
