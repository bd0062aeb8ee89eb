"""RunConfig: everything that defines a comparison, validated once when it is built."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.datasets import DATASETS, dataset_option_names
from core.learners import LEARNERS, learner_param_names
from core.strategies import MEASURE_NAMES, STRATEGIES, check_hybrid_params

SCHEMA_VERSION = 1  # bump when a change to the engine changes results: old cache entries are ignored
MODES = ("pool", "stream")
STREAM_POLICIES = ("budget", "threshold")
STREAM_STRATEGIES = ("random", "entropy", "least_confidence", "smallest_margin", "largest_margin")


class ConfigError(ValueError):
    """A run option is invalid; the message names the option and what is allowed."""


def parse_param(text: str) -> tuple[str, Any]:
    """"NAME=VALUE" -> (name, value); VALUE is read as JSON when it parses (numbers, true), else text."""
    if "=" not in text or not text.split("=", 1)[0].strip():
        raise ConfigError(f"learner_params: expected NAME=VALUE; got {text!r}")
    name, value = (part.strip() for part in text.split("=", 1))
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def parse_params(text: str) -> dict[str, Any]:
    """"a=1, b=x, channels=4,8,8" (the dashboard's field) -> {"a": 1, "b": "x", "channels": "4,8,8"}.

    A comma starts a new pair only when a NAME= follows it, so values may hold commas.
    """
    items = re.split(r",\s*(?=[A-Za-z_]\w*\s*=)", text.strip())
    return dict(parse_param(item) for item in items if item.strip())


def format_params(params: dict[str, Any]) -> str:
    """The inverse of `parse_params` for values that round-trip through JSON or text."""
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in sorted(params.items()))


def absolute_data_dir(path: str) -> str:
    """The form a RunConfig stores `data_dir` in; load the data by it, so one folder is one dataset."""
    return str(Path(path).expanduser().resolve())


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def stable_hash(obj: Any, n: int = 16) -> str:
    return hashlib.sha256(_canonical(obj).encode()).hexdigest()[:n]


@dataclass(frozen=True)
class RunSpec:
    """One cache unit: one strategy, one repeat seed. Its key decides what is reused."""

    dataset: str
    dataset_options: dict[str, Any]
    learner: str
    learner_params: dict[str, Any]
    strategy: str
    strategy_params: dict[str, Any]
    mode: str
    initial: int
    batch: int
    rounds: int
    subset: int | None
    test_size: float
    seed: int
    repeat: int

    def key_fields(self, dataset_fingerprint: str) -> dict[str, Any]:
        fields = asdict(self)
        fields.pop("repeat")  # a run depends on its own seed only
        if self.mode == "pool":
            fields.pop("rounds")  # pool rounds only extend a run: more rounds resume, never redo
        fields.pop("dataset_options")  # the fingerprint covers what the options changed
        fields["dataset_fingerprint"] = dataset_fingerprint
        fields["schema"] = SCHEMA_VERSION
        return fields

    def key(self, dataset_fingerprint: str) -> str:
        return stable_hash(self.key_fields(dataset_fingerprint))

    @property
    def budget(self) -> int:
        return self.initial + self.batch * (self.rounds - 1)


@dataclass(frozen=True)
class RunConfig:
    """A comparison: several strategies, same data, same learner, same initial labels.

    The budget counts labels including the initial set: initial + batch * (rounds - 1).
    Repeat r uses seed `seed + r` for its split, initial set and model; strategy
    randomness in round t is `default_rng([seed + r, t])`, so a run is the same whichever
    comparison it belongs to (and is cached once).
    """

    dataset: str = "digits"
    data_dir: str | None = None
    image_size: int | None = None
    learner: str = "logistic"
    learner_params: dict[str, Any] = field(default_factory=dict)
    strategies: tuple[str, ...] = ("random", "entropy", "hybrid")
    mode: str = "pool"
    initial: int = 20
    batch: int = 10
    rounds: int = 10
    alpha: float = 0.5
    clusters: int = 5
    measure: str = "entropy"
    stream_policy: str = "budget"
    threshold: float = 0.5
    repeats: int = 1
    seed: int = 0
    subset: int | None = None
    test_size: float = 0.25

    def __post_init__(self) -> None:
        object.__setattr__(self, "strategies", tuple(self.strategies))
        object.__setattr__(self, "learner_params", dict(self.learner_params))
        if self.data_dir:  # stored absolute: feature maps and the dashboard may run from another directory
            object.__setattr__(self, "data_dir", absolute_data_dir(self.data_dir))
        try:
            self._validate()
        except ConfigError:
            raise
        except ValueError as exc:  # registries and shared checks raise plain ValueError
            raise ConfigError(str(exc)) from None

    def _validate(self) -> None:
        DATASETS.check(self.dataset)
        given = sorted(k for k, v in self.dataset_options.items() if v is not None)
        unused = [k for k in given if k not in dataset_option_names(self.dataset)]
        if unused:
            takes = dataset_option_names(self.dataset)
            raise ConfigError(f"{unused[0]}: dataset {self.dataset!r} takes no {', '.join(unused)}; "
                              + (f"it takes {takes}" if takes else "it reads no files and has no options"))
        LEARNERS.check(self.learner)
        unknown = sorted(set(self.learner_params) - set(learner_param_names(self.learner))) if self.learner_params else []
        if unknown:
            raise ConfigError(
                f"learner_params: unknown parameter(s) {unknown} for learner {self.learner!r}; "
                f"valid: {learner_param_names(self.learner)}"
            )
        if not self.strategies:
            raise ConfigError(f"strategies: choose at least one of {STRATEGIES.names()}")
        for name in self.strategies:
            STRATEGIES.check(name)
        if len(set(self.strategies)) != len(self.strategies):
            raise ConfigError(f"strategies: each strategy may appear once; got {list(self.strategies)}")
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; choose one of {list(MODES)}")
        for name, value, low in (("initial", self.initial, 1), ("batch", self.batch, 1), ("rounds", self.rounds, 1),
                                 ("repeats", self.repeats, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}; got {value!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0; got {self.seed!r}")
        if not (isinstance(self.test_size, (int, float)) and 0.0 <= self.test_size < 1.0):
            raise ConfigError(f"test_size must be in [0, 1); got {self.test_size!r}")
        if self.subset is not None and (not isinstance(self.subset, int) or self.subset < self.initial):
            raise ConfigError(f"subset must be an integer >= initial ({self.initial}); got {self.subset!r}")
        if self.measure not in MEASURE_NAMES:
            raise ConfigError(f"unknown measure {self.measure!r}; choose one of {sorted(MEASURE_NAMES)}")
        if "hybrid" in self.strategies:
            if not (isinstance(self.alpha, (int, float)) and 0.0 < self.alpha <= 1.0):
                raise ConfigError(f"alpha must be in (0, 1]; got {self.alpha!r}")
            try:
                check_hybrid_params(self.alpha, self.clusters, self.measure, self.batch)
            except ValueError as exc:
                raise ConfigError(str(exc).replace("n_clusters", "clusters", 1)) from None
        if self.mode == "stream":
            bad = [s for s in self.strategies if s not in STREAM_STRATEGIES]
            if bad:
                raise ConfigError(f"strategies {bad} have no stream form; in stream mode choose from {list(STREAM_STRATEGIES)}")
            if self.stream_policy not in STREAM_POLICIES:
                raise ConfigError(f"unknown stream_policy {self.stream_policy!r}; choose one of {list(STREAM_POLICIES)}")
            if not 0.0 <= self.threshold <= 1.0:
                raise ConfigError(f"threshold must be in [0, 1] (a normalised uncertainty); got {self.threshold!r}")

    @property
    def budget(self) -> int:
        return self.initial + self.batch * (self.rounds - 1)

    @property
    def dataset_options(self) -> dict[str, Any]:
        return {k: v for k, v in (("data_dir", self.data_dir), ("image_size", self.image_size)) if v is not None}

    def strategy_params(self, strategy: str) -> dict[str, Any]:
        """Only the options that change `strategy`'s results, so unrelated changes reuse the cache."""
        params: dict[str, Any] = {}
        if strategy == "hybrid":
            params = {"alpha": float(self.alpha), "n_clusters": int(self.clusters), "measure": self.measure}
        if self.mode == "stream" and strategy != "random":
            params["policy"] = self.stream_policy
            if self.stream_policy == "threshold":
                params["threshold"] = float(self.threshold)
        return params

    def specs(self) -> list[RunSpec]:
        """Every cache unit of this comparison, strategy-major."""
        return [
            RunSpec(self.dataset, self.dataset_options, self.learner, dict(self.learner_params), strategy,
                    self.strategy_params(strategy), self.mode, self.initial, self.batch, self.rounds,
                    self.subset, float(self.test_size), self.seed + repeat, repeat)
            for strategy in self.strategies
            for repeat in range(self.repeats)
        ]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["strategies"] = list(self.strategies)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        d = dict(d)
        if "strategies" in d:  # absent: the default strategies, as on the command line
            d["strategies"] = tuple(d["strategies"])
        return cls(**d)

    def key(self) -> str:
        return stable_hash({"config": self.to_dict(), "schema": SCHEMA_VERSION})


def check_against_data(config: RunConfig, n_classes: int, n_available: int) -> None:
    """The checks that need the dataset: class count and pool size. Raises ConfigError."""
    pool = n_available if config.subset is None else config.subset
    if config.subset is not None and config.subset > n_available:
        raise ConfigError(f"subset must be at most the {n_available} samples available for the pool; got {config.subset}")
    if config.initial < n_classes:
        raise ConfigError(f"initial must be at least the number of classes ({n_classes}); got {config.initial}")
    if config.initial > pool:
        raise ConfigError(f"initial must be at most the pool size ({pool}); got {config.initial}")
    if config.budget > pool:
        raise ConfigError(
            f"budget initial + batch*(rounds-1) = {config.initial} + {config.batch}*{config.rounds - 1} = {config.budget} "
            f"is larger than the pool ({pool} samples); lower rounds, batch or initial"
        )
