"""The shapes every part of the engine agrees on: data, learners, strategies, rounds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, ClassVar, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class DataInfo:
    """What a learner needs to know about a dataset before seeing any sample."""

    n_classes: int
    image_shape: tuple[int, ...]  # (height, width, channels)
    feature_scale: float  # flat features = uint8 pixels * feature_scale
    class_names: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images kept as uint8 (n, height, width, channels); labels are 0..n_classes-1.

    `is_test` marks the source's own test split (CIFAR-10, MNIST, ...); a dataset without
    one (digits, most folders) gets a stratified split made by the runner instead.
    `feature_scale` turns pixels into the flat features that pixel learners see: digits
    keeps scikit-learn's 0-16 units (the tutorial's gamma=0.25 is tuned for them), 8-bit
    images are divided by 255.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    feature_scale: float = 1.0 / 255.0
    is_test: np.ndarray | None = None
    source: dict[str, Any] = field(default_factory=dict)  # parameters that changed the data
    # Seconds a person spent labelling each sample (a labelling project's recorded decision times), or
    # None where no time was recorded: the cost axis of "accuracy per labelling minute".
    costs: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (n, height, width, channels); got {self.images.dtype} {self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must have shape ({len(self.images)},); got {self.labels.shape}")
        if self.costs is not None and (self.costs.shape != (len(self.images),) or not np.isfinite(self.costs).all()
                                       or (self.costs < 0).any()):
            raise ValueError(f"costs must be finite seconds >= 0, one per image; got shape {self.costs.shape}")

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def info(self) -> DataInfo:
        return DataInfo(self.n_classes, tuple(self.images.shape[1:]), self.feature_scale, self.class_names)

    @cached_property
    def fingerprint(self) -> str:
        """Content hash: a changed file on disk changes every cache key built on it."""
        h = hashlib.sha256()
        h.update(str(self.images.shape).encode())
        h.update(np.ascontiguousarray(self.images).data)
        h.update(self.labels.astype(np.int64).tobytes())
        if self.is_test is not None:
            h.update(self.is_test.astype(np.uint8).tobytes())
        if self.costs is not None:  # only then: every other dataset keeps its key
            h.update(self.costs.astype(np.float64).tobytes())
        return h.hexdigest()[:16]


def flat_features(images: np.ndarray, scale: float) -> np.ndarray:
    """uint8 images (n, ...) -> float32 (n, d) features, converted one call at a time."""
    out = images.reshape(len(images), -1).astype(np.float32)
    if scale != 1.0:
        out *= np.float32(scale)
    return out


class PoolView:
    """What a strategy may look at in one round: the labelled mask and the inputs it declared.

    The runner builds it from arrays it computed once, exactly what the strategy declared
    (`needs`); reading anything else is an error naming the missing declaration. Built from
    a fitted learner (tests, benchmarks, peers), missing inputs are computed on first use.
    `proba`, `embeddings` and `proba_samples` rows follow `unlabeled` (pool indices,
    ascending); `labeled_embeddings` rows follow `labeled`.
    """

    def __init__(
        self,
        labeled_mask: np.ndarray,
        *,
        learner: Any = None,  # a fitted core.learners.base.BaseLearner
        X: np.ndarray | None = None,
        proba: np.ndarray | None = None,
        embeddings: np.ndarray | None = None,
        labeled_embeddings: np.ndarray | None = None,
        proba_samples: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        strategy: str | None = None,
    ) -> None:
        self.labeled_mask = np.asarray(labeled_mask, dtype=bool)
        self.unlabeled = np.flatnonzero(~self.labeled_mask)
        self.labeled = np.flatnonzero(self.labeled_mask)
        self._learner, self._X, self._strategy = learner, X, strategy
        self._given = {"proba": proba, "embeddings": embeddings, "labeled_embeddings": labeled_embeddings,
                       "proba_samples": proba_samples, "labels": labels}
        if learner is None and proba is None and strategy is None:
            raise ValueError("PoolView needs a fitted learner or precomputed proba")

    @property
    def n_unlabeled(self) -> int:
        return int(self.unlabeled.size)

    def _input(self, name: str, need: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if self._given[name] is None:
            if self._learner is None:
                who = f"strategy {self._strategy!r}" if self._strategy else "this strategy"
                raise ValueError(f"{who} read {name} but does not declare {need!r} in its `needs`")
            self._given[name] = compute()
        return self._given[name]  # type: ignore[return-value]

    @property
    def proba(self) -> np.ndarray:
        return self._input("proba", "proba", lambda: self._learner.predict_proba(self._X[self.unlabeled]))

    @property
    def embeddings(self) -> np.ndarray:
        return self._input("embeddings", "pool_features", lambda: self._learner.embed(self._X[self.unlabeled]))

    @property
    def labeled_embeddings(self) -> np.ndarray:
        return self._input("labeled_embeddings", "labeled_features", lambda: self._learner.embed(self._X[self.labeled]))

    @property
    def proba_samples(self) -> np.ndarray:
        return self._input("proba_samples", "proba_samples",
                           lambda: self._learner.predict_proba_samples(self._X[self.unlabeled]))

    @property
    def labels(self) -> np.ndarray:
        """Labels of the `labeled` rows as the oracle gave them (-2: skipped)."""
        if self._given["labels"] is None:
            raise ValueError("this PoolView carries no labels")
        return self._given["labels"]  # type: ignore[return-value]


@dataclass
class Selection:
    """Chosen pool indices (most informative first) and the per-sample scores used.

    `scores` follows `PoolView.unlabeled` (higher = more uncertain); None for strategies
    that score nothing (random).
    """

    indices: np.ndarray
    scores: np.ndarray | None = None
    measure: str | None = None


@dataclass
class RoundResult:
    """One completed round of one run: what the cache stores and every view reads."""

    round: int
    n_labeled: int
    test_accuracy: float | None
    test_macro_f1: float | None
    pool_accuracy: float | None
    pool_macro_f1: float | None
    fit_seconds: float
    score_seconds: float
    select_seconds: float
    labeled: np.ndarray  # pool indices labelled when this round's model was fitted
    queried: np.ndarray  # pool indices chosen after this round (revealed before the next)
    scores: np.ndarray  # float32 per pool sample, NaN where labelled: the uncertainty shown
    predicted: np.ndarray  # int16 per pool sample: this round's predicted class
    confusion: np.ndarray  # (n_classes, n_classes) on the test split, or the unlabelled pool
    confusion_on: str = "test"
    measure: str = "entropy"  # what `scores` measures
    state: dict[str, Any] = field(default_factory=dict)  # JSON-able state to resume from
    # The oracle's answers for `queried`, in its order: a class, or PENDING (asked, not answered yet:
    # the run pauses) or SKIPPED (no label will come: never used for training, never asked again).
    revealed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))

    METRICS: ClassVar[tuple[str, ...]] = ("test_accuracy", "test_macro_f1", "pool_accuracy", "pool_macro_f1")

    def metric(self, name: str) -> float | None:
        return getattr(self, name)


PENDING = -1  # an oracle's answer: asked, not answered yet
SKIPPED = -2  # an oracle's answer: no label will come for this sample


@runtime_checkable
class Oracle(Protocol):
    """Who labels what a strategy selected: known labels (simulation), or a person.

    `label(indices)` returns one int per pool index: a class in 0..n_classes-1, PENDING
    (the run pauses, and resumes when asked again later, as a killed run resumes) or
    SKIPPED. It is asked for the initial labelled set too, and again on resume for any
    answer still pending; it must answer the same index the same way once it has.
    """

    def label(self, indices: np.ndarray) -> np.ndarray: ...


class KnownLabels:
    """The default oracle: reveals labels the dataset already has (today's simulated runs)."""

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = np.asarray(labels)

    def label(self, indices: np.ndarray) -> np.ndarray:
        return self.labels[np.asarray(indices, dtype=np.int64)].astype(np.int16)
