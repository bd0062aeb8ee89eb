"""RunConfig: everything that defines a comparison, validated once when it is built."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core.datasets import DATASETS, dataset_option_names
from core.learners import LEARNERS, check_pool_size, learner_param_names
from core.learners.base import is_real  # finite int or float, not a bool: nan fails every range check
from core.strategies import MEASURE_NAMES, STRATEGIES, check_hybrid_params

SCHEMA_VERSION = 2  # bump when a change to the engine changes results: old cache entries are ignored
# 2: round records carry their run key, which core.cache checks (version-1 records have none)
MODES = ("pool", "stream")
STREAM_POLICIES = ("budget", "threshold")
STREAM_STRATEGIES = ("random", "entropy", "least_confidence", "smallest_margin", "largest_margin")

# Upper bounds of the size-like options: checked when a RunConfig is built, before any data is
# loaded or anything is allocated or written (a typo such as --repeats 10000000 used to build
# every run spec up front). Each is far beyond what this bench is meant for.
MAX_SAMPLES = 10_000_000  # initial, batch, subset
MAX_ROUNDS = 10_000
MAX_REPEATS = 1_000
MAX_CLUSTERS = 10_000
IMAGE_SIZE_RANGE = (8, 512)  # the image sources' own limits (core.datasets.images.check_image_size)
MAX_SEED = 2**32 - 1  # numpy's RandomState and scikit-learn take 32-bit seeds; repeat r uses seed + r


class ConfigError(ValueError):
    """A run option is invalid; the message names the option and what is allowed."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(name: str, value: Any, low: int, high: int, *, interval: bool = False) -> None:
    """`interval`: the range is the option's own domain ("in [low, high]"); otherwise `high` is the bench's cap."""
    if not _is_int(value) or not low <= value <= high:
        allowed = f"in [{low}, {high}]" if interval else f">= {low} (at most {high})"
        raise ConfigError(f"{name} must be an integer {allowed}; got {value!r}")


def _check_name(option: str, value: Any, choices) -> None:
    if not isinstance(value, str) or value not in choices:
        what = f"unknown {option} {value!r}" if isinstance(value, str) else f"{option} must be a name; got {value!r}"
        raise ConfigError(f"{what}; choose one of {list(choices)}")


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
        if isinstance(self.strategies, str) or not isinstance(self.strategies, (list, tuple)):
            raise ConfigError(f"strategies must be a list of names from {STRATEGIES.names()}; got {self.strategies!r}")
        object.__setattr__(self, "strategies", tuple(self.strategies))
        if not isinstance(self.learner_params, dict) or not all(isinstance(k, str) for k in self.learner_params):
            raise ConfigError(f"learner_params must be a table of NAME = VALUE settings; got {self.learner_params!r}")
        object.__setattr__(self, "learner_params", dict(self.learner_params))
        if self.data_dir is not None:
            if not isinstance(self.data_dir, str) or not self.data_dir.strip():
                raise ConfigError(f"data_dir must be a directory path (not empty); got {self.data_dir!r}")
            try:  # stored absolute: feature maps and the dashboard may run from another directory
                object.__setattr__(self, "data_dir", absolute_data_dir(self.data_dir))
            except (OSError, RuntimeError, ValueError) as exc:  # ~unknownuser, an embedded NUL, ...
                raise ConfigError(f"data_dir {self.data_dir!r} is not a usable path ({exc})") from None
        try:
            self._validate()
        except ConfigError:
            raise
        except ValueError as exc:  # registries and shared checks raise plain ValueError
            raise ConfigError(str(exc)) from None

    def _validate(self) -> None:
        _check_name("dataset", self.dataset, DATASETS.names())
        given = sorted(k for k, v in self.dataset_options.items() if v is not None)
        unused = [k for k in given if k not in dataset_option_names(self.dataset)]
        if unused:
            takes = dataset_option_names(self.dataset)
            raise ConfigError(f"{unused[0]}: dataset {self.dataset!r} takes no {', '.join(unused)}; "
                              + (f"it takes {takes}" if takes else "it reads no files and has no options"))
        if self.image_size is not None:
            _check_int("image_size", self.image_size, IMAGE_SIZE_RANGE[0], IMAGE_SIZE_RANGE[1], interval=True)
        _check_name("learner", self.learner, LEARNERS.names())
        unknown = sorted(set(self.learner_params) - set(learner_param_names(self.learner))) if self.learner_params else []
        if unknown:
            raise ConfigError(
                f"learner_params: unknown parameter(s) {unknown} for learner {self.learner!r}; "
                f"valid: {learner_param_names(self.learner)}"
            )
        if not self.strategies:
            raise ConfigError(f"strategies: choose at least one of {STRATEGIES.names()}")
        for name in self.strategies:
            _check_name("strategy", name, STRATEGIES.names())
        if len(set(self.strategies)) != len(self.strategies):
            raise ConfigError(f"strategies: each strategy may appear once; got {list(self.strategies)}")
        _check_name("mode", self.mode, MODES)
        # Every option is checked whether or not a chosen strategy uses it (a bad value is a
        # typo either way); `key` leaves the unused ones out of the comparison's identity.
        for name, value, high in (("initial", self.initial, MAX_SAMPLES), ("batch", self.batch, MAX_SAMPLES),
                                  ("rounds", self.rounds, MAX_ROUNDS), ("repeats", self.repeats, MAX_REPEATS)):
            _check_int(name, value, 1, high)
        _check_int("seed", self.seed, 0, MAX_SEED, interval=True)
        if self.seed + self.repeats - 1 > MAX_SEED:
            raise ConfigError(
                f"seed + repeats - 1 must be at most {MAX_SEED} (repeat r uses seed + r, and seeds are 32-bit); "
                f"got seed={self.seed}, repeats={self.repeats}: lower seed to at most {MAX_SEED - self.repeats + 1}"
            )
        if not (is_real(self.test_size) and 0.0 <= self.test_size < 1.0):
            raise ConfigError(f"test_size must be in [0, 1); got {self.test_size!r}")
        if self.subset is not None:
            if not _is_int(self.subset) or not self.initial <= self.subset <= MAX_SAMPLES:
                raise ConfigError(f"subset must be an integer >= initial ({self.initial}) (at most {MAX_SAMPLES}); "
                                  f"got {self.subset!r}")
        if not (is_real(self.alpha) and 0.0 < self.alpha <= 1.0):
            raise ConfigError(f"alpha must be in (0, 1]; got {self.alpha!r}")
        _check_int("clusters", self.clusters, 1, MAX_CLUSTERS)
        _check_name("measure", self.measure, sorted(MEASURE_NAMES))
        _check_name("stream_policy", self.stream_policy, STREAM_POLICIES)
        if not (is_real(self.threshold) and 0.0 <= self.threshold <= 1.0):
            raise ConfigError(f"threshold must be in [0, 1] (a normalised uncertainty); got {self.threshold!r}")
        if "hybrid" in self.strategies:
            try:
                check_hybrid_params(self.alpha, self.clusters, self.measure, self.batch)
            except ValueError as exc:
                raise ConfigError(str(exc).replace("n_clusters", "clusters", 1)) from None
        if self.mode == "stream":
            bad = [s for s in self.strategies if s not in STREAM_STRATEGIES]
            if bad:
                raise ConfigError(f"strategies {bad} have no stream form; in stream mode choose from {list(STREAM_STRATEGIES)}")

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

    def comparison_dict(self) -> dict[str, Any]:
        """`to_dict` with the options no chosen strategy uses set to their defaults.

        `--alpha 0.3` without the hybrid runs the very same comparison as no --alpha, so it
        gets the same key; a config whose unused options are at their defaults keeps the
        key it always had.
        """
        d = self.to_dict()
        used = {name for strategy in self.strategies for name in self.strategy_params(strategy)}
        for option, param in (("alpha", "alpha"), ("clusters", "n_clusters"), ("measure", "measure"),
                              ("stream_policy", "policy"), ("threshold", "threshold")):
            if param not in used:
                d[option] = _FIELD_DEFAULTS[option]
        return d

    def key(self) -> str:
        """The comparison's identity (the dashboard's and the jobs' handle); each run has its own `RunSpec.key`."""
        return stable_hash({"config": self.comparison_dict(), "schema": SCHEMA_VERSION})


_FIELD_DEFAULTS = {f.name: f.default for f in fields(RunConfig) if f.default is not MISSING}


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
    try:
        check_pool_size(config.learner, pool, **config.learner_params)
    except ValueError as exc:
        raise ConfigError(f"learner_params: {exc}") from None
