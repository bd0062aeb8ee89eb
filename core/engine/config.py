"""RunConfig: everything that defines a comparison, validated once when it is built."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core.datasets import DATASETS, dataset_option_names
from core.hashing import stable_hash  # re-exported: `from core.engine.config import stable_hash` keeps working
from core.learners import LEARNERS
from core.params import Checked, Interval, Options, ParamError, Text, changed_values, check_value, is_int
from core.engine.settings import (ALIASES, ConfigError, check_plugins, flatten, merge, nest, read_config_file,
                           split_strategy_param)  # ALIASES, split_strategy_param: re-exported
from core.strategies import STRATEGIES

SCHEMA_VERSION = 4  # bump when a change to the engine changes results: old cache entries are ignored
# 2: round records carry their run key, which core.engine.cache checks (version-1 records have none)
# 3: strategy parameters are the strategies' declared ones (hybrid n_clusters -> clusters); rounds record the
#    labels the oracle revealed
# 4: stream runs carry the stream policy and threshold as run options (RunSpec.stream_policy / threshold), not as
#    strategy parameters
MODES = ("pool", "stream")
STREAM_POLICIES = ("budget", "threshold")

# Upper bounds of the size-like options: checked when a RunConfig is built, before any data is
# loaded or anything is allocated or written (a typo such as --repeats 10000000 used to build
# every run spec up front). Each is far beyond what this bench is meant for.
MAX_SAMPLES = 10_000_000  # initial, batch, subset
MAX_ROUNDS = 10_000
MAX_REPEATS = 1_000
IMAGE_SIZE_RANGE = (8, 512)  # the image sources' own limits (core.datasets.images.check_image_size)
MAX_THREADS = 256  # beyond a few per core threads only spin against each other
MAX_SEED = 2**32 - 1  # numpy's RandomState and scikit-learn take 32-bit seeds; repeat r uses seed + r

def ray_host_port(address: str) -> tuple[str | None, int | None]:
    """(host, port) of a Ray address HOST:PORT or ray://HOST:PORT; (None, None) for 'auto'. ValueError otherwise."""
    from urllib.parse import urlsplit

    if address == "auto":
        return None, None
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "ray") or not parts.hostname or parts.port is None:  # .port: ValueError if not 0..65535
        raise ValueError(f"not a Ray address: {address!r}")
    return parts.hostname, parts.port


def _ray_address(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a Ray address: {value!r}")
    address = value.strip()
    if address:
        ray_host_port(address)
    return address


# The run's own options, declared like plug-in parameters (one validation mechanism, see core.params).
RUN_OPTIONS = {
    "initial": Interval(int, 1, None, at_most=MAX_SAMPLES, default=20,
                        help="initial labelled samples, the same for every strategy; at least the number of classes"),
    "batch": Interval(int, 1, None, at_most=MAX_SAMPLES, default=10, help="labels bought per round"),
    "rounds": Interval(int, 1, None, at_most=MAX_ROUNDS, default=10,
                       help="rounds (evaluations); budget = initial + batch*(rounds-1) labels, at most the pool"),
    "repeats": Interval(int, 1, None, at_most=MAX_REPEATS, default=1,
                        help="repeat each strategy with seeds seed..seed+repeats-1"),
    "seed": Interval(int, 0, MAX_SEED, default=0, help="base seed; repeat r uses seed + r (32-bit seeds)"),
    "test_size": Interval(float, 0.0, 1.0, closed="left", default=0.25,
                          help="held-out stratified test fraction; 0 = only the transductive accuracy on the pool"),
    "mode": Options(MODES, default="pool", help="choose batches from the pool, or decide per arriving sample"),
    "stream_policy": Options(STREAM_POLICIES, default="budget",
                             help="stream mode: budget-aware quantile, or a fixed threshold"),
    "threshold": Interval(float, 0.0, 1.0, default=0.5,
                          help="stream mode, threshold policy: normalised uncertainty (in [0, 1])"),
    "threads": Interval(int, 0, None, default=0, at_most=MAX_THREADS,
                        help="threads for BLAS, OpenMP, numba and torch during the run (core.engine.threads); 0: each "
                             "learner's measured setting; never part of a result's identity"),
    "ray_address": Text("empty (this process), 'auto' (the running cluster) or a Ray address such as ray://HOST:PORT",
                        lambda value: _ray_address(value), default="",
                        help="extract the pretrained learner's features as Ray tasks on this cluster (a weights file "
                             "must be at the same path on every node); never part of a result's identity"),
}

# Run options that say how or where a comparison runs, never what it computes: left out of its key.
MACHINE_OPTIONS = ("threads", "ray_address")


def stream_strategies() -> list[str]:
    """The strategies with a stream form (they declare `stream`, see core.strategies.base.Strategy)."""
    return [name for name, cls in STRATEGIES.items() if cls.stream]


def resolve(*layers: dict[str, Any] | Path) -> "RunConfig":
    """The one way from settings to a checked RunConfig, for every entry point: layers (a saved config,
    a `--config` file given as its Path, command-line flags, a grid point, the sidebar's values) merged
    setting by setting, later layers winning, in any spelling `core.engine.settings` reads (nested tables,
    `learner_params.C`, `hybrid.alpha`, aliases). Raises ConfigError naming the setting (or the file)."""
    tables = [read_config_file(layer) if isinstance(layer, Path) else layer for layer in layers]
    return RunConfig.from_dict(nest(merge(*tables, strategies=STRATEGIES.names())))


def parse_value(text: str) -> Any:
    """A command-line or form value: JSON when it parses (numbers, true, lists), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_param(text: str, option: str = "learner_params") -> tuple[str, Any]:
    """"NAME=VALUE" -> (name, value); VALUE is read as JSON when it parses (numbers, true), else text.
    `option` names the setting in the error."""
    if "=" not in text or not text.split("=", 1)[0].strip():
        raise ConfigError(f"{option}: expected NAME=VALUE; got {text!r}", option)
    name, value = (part.strip() for part in text.split("=", 1))
    return name, parse_value(value)


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
    stream_policy: str | None = None  # stream mode, for a strategy that decides by its score; else None
    threshold: float | None = None  # the threshold policy's threshold; else None

    def key_fields(self, dataset_fingerprint: str) -> dict[str, Any]:
        fields = asdict(self)
        fields.pop("repeat")  # a run depends on its own seed only
        for option in ("stream_policy", "threshold"):
            if fields[option] is None:
                fields.pop(option)  # unused: a pool run's key is what it was before stream options existed
        if self.mode == "pool":
            fields.pop("rounds")  # pool rounds only extend a run: more rounds resume, never redo
        fields.pop("dataset_options")  # the fingerprint covers what the options changed
        fields["dataset_fingerprint"] = dataset_fingerprint
        fields["schema"] = SCHEMA_VERSION
        from core.registry import plugin_identity

        # The plug-ins' code: an edited strategy or learner makes new runs instead of extending old ones.
        fields["plugins"] = {kind: plugin_identity(registry[name]) for kind, registry, name in
                             (("learner", LEARNERS, self.learner), ("strategy", STRATEGIES, self.strategy))
                             if name in registry}
        identity = LEARNERS[self.learner].cache_identity(self.learner_params) if self.learner in LEARNERS else {}
        if identity:  # what a setting's value does not show (a weights file's content); absent for most learners
            fields["learner_identity"] = identity
        return fields

    def key(self, dataset_fingerprint: str) -> str:
        return stable_hash(self.key_fields(dataset_fingerprint))

    @property
    def budget(self) -> int:
        return self.initial + self.batch * (self.rounds - 1)


def _check_name(option: str, value: Any, choices) -> None:
    if not isinstance(value, str) or value not in choices:
        what = f"unknown {option} {value!r}" if isinstance(value, str) else f"{option} must be a name; got {value!r}"
        raise ConfigError(f"{what}; choose one of {list(choices)}", option)


@dataclass(frozen=True, init=False)  # __init__ below takes the declared run options by name
class RunConfig:
    """A comparison: several strategies, same data, same learner, same initial labels.

    The budget counts labels including the initial set: initial + batch * (rounds - 1).
    Repeat r uses seed `seed + r` for its split, initial set and model; strategy
    randomness in round t is `default_rng([seed + r, t])`, so a run is the same whichever
    comparison it belongs to (and is cached once).

    `strategy_params` holds each strategy's settings as given ({"hybrid": {"alpha": 0.3}});
    a strategy's declared defaults fill the rest (`params_for`). `from_dict` also reads the
    aliases `alpha`, `clusters` and `measure` (configs saved before strategies declared them).
    """

    dataset: str = "digits"
    data_dir: str | None = None
    image_size: int | None = None
    learner: str = "logistic"
    learner_params: dict[str, Any] = field(default_factory=dict)
    strategies: tuple[str, ...] = ("random", "entropy", "hybrid")
    strategy_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    subset: int | None = None
    # Every run option declared in RUN_OPTIONS (initial, batch, rounds, ...), checked, defaults filled in. They
    # have no field each: a new declaration is a new option here too, read as an attribute (`config.batch`).
    options: dict[str, Any] = field(default_factory=dict)

    def __init__(self, *, dataset: str = "digits", data_dir: str | None = None, image_size: int | None = None,
                 learner: str = "logistic", learner_params: dict[str, Any] | None = None,
                 strategies: tuple[str, ...] = ("random", "entropy", "hybrid"),
                 strategy_params: dict[str, dict[str, Any]] | None = None, subset: int | None = None,
                 options: dict[str, Any] | None = None, **run_options: Any) -> None:
        # `options` (a config's own, from `dataclasses.replace`) first; run options given by name win over it.
        given = {**(options or {}), **run_options}
        unknown = sorted(set(given) - set(RUN_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown option(s) {unknown}; valid: {sorted(option_names()) + sorted(ALIASES)}",
                              unknown[0])
        for name, value in (("dataset", dataset), ("data_dir", data_dir), ("image_size", image_size),
                            ("learner", learner), ("learner_params", {} if learner_params is None else learner_params),
                            ("strategies", strategies),
                            ("strategy_params", {} if strategy_params is None else strategy_params),
                            ("subset", subset),
                            ("options", {name: given.get(name, c.default) for name, c in RUN_OPTIONS.items()})):
            object.__setattr__(self, name, value)
        self.__post_init__()

    def __getattr__(self, name: str) -> Any:
        """A run option by its name (`config.initial`); only called when no field or method has the name."""
        options = self.__dict__.get("options")
        if options is not None and name in options:
            return options[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __post_init__(self) -> None:
        if isinstance(self.strategies, str) or not isinstance(self.strategies, (list, tuple)):
            raise ConfigError(f"strategies must be a list of names from {STRATEGIES.names()}; got {self.strategies!r}",
                              "strategies")
        object.__setattr__(self, "strategies", tuple(self.strategies))
        if not isinstance(self.learner_params, dict) or not all(isinstance(k, str) for k in self.learner_params):
            raise ConfigError(f"learner_params must be a table of NAME = VALUE settings; got {self.learner_params!r}",
                              "learner_params")
        object.__setattr__(self, "learner_params", dict(self.learner_params))
        if not isinstance(self.strategy_params, dict) or not all(
                isinstance(k, str) and isinstance(v, dict) and all(isinstance(p, str) for p in v)
                for k, v in self.strategy_params.items()):
            raise ConfigError("strategy_params must be a table of STRATEGY = {PARAM = VALUE} settings; "
                              f"got {self.strategy_params!r}", "strategy_params")
        object.__setattr__(self, "strategy_params", {k: dict(v) for k, v in self.strategy_params.items() if v})
        if self.data_dir is not None:
            if not isinstance(self.data_dir, str) or not self.data_dir.strip():
                raise ConfigError(f"data_dir must be a directory path (not empty); got {self.data_dir!r}", "data_dir")
            try:  # stored absolute: feature maps and the dashboard may run from another directory
                object.__setattr__(self, "data_dir", absolute_data_dir(self.data_dir))
            except (OSError, RuntimeError, ValueError) as exc:  # ~unknownuser, an embedded NUL, ...
                raise ConfigError(f"data_dir {self.data_dir!r} is not a usable path ({exc})", "data_dir") from None
        try:
            self._validate()
        except ConfigError:
            raise
        except ParamError as exc:  # a plug-in's declared parameter: keep the option it names
            raise ConfigError(str(exc), exc.option) from None
        except ValueError as exc:  # registries raise plain ValueError
            raise ConfigError(str(exc)) from None

    def _validate(self) -> None:
        _check_name("dataset", self.dataset, DATASETS.names())
        given = sorted(k for k, v in self.dataset_options.items() if v is not None)
        unused = [k for k in given if k not in dataset_option_names(self.dataset)]
        if unused:
            takes = dataset_option_names(self.dataset)
            raise ConfigError(f"{unused[0]}: dataset {self.dataset!r} takes no {', '.join(unused)}; "
                              + (f"it takes {takes}" if takes else "it reads no files and has no options"), unused[0])
        if self.image_size is not None:
            check_value("image_size", self.image_size, Interval(int, *IMAGE_SIZE_RANGE))
        _check_name("learner", self.learner, LEARNERS.names())
        if not self.strategies:
            raise ConfigError(f"strategies: choose at least one of {STRATEGIES.names()}", "strategies")
        for name in self.strategies:
            _check_name("strategy", name, STRATEGIES.names())
        if len(set(self.strategies)) != len(self.strategies):
            raise ConfigError(f"strategies: each strategy may appear once; got {list(self.strategies)}", "strategies")
        for name in self.strategy_params:
            _check_name("strategy", name, STRATEGIES.names())
        # Every option is checked whether or not it is used (a bad value is a typo either way);
        # `key` leaves the unused ones out of the comparison's identity.
        # stored normalised: test_size 0 is 0.0, as from the CLI
        object.__setattr__(self, "options", {option: check_value(option, self.options[option], constraint)
                                             for option, constraint in RUN_OPTIONS.items()})
        if self.seed + self.repeats - 1 > MAX_SEED:
            raise ConfigError(
                f"seed + repeats - 1 must be at most {MAX_SEED} (repeat r uses seed + r, and seeds are 32-bit); "
                f"got seed={self.seed}, repeats={self.repeats}: lower seed to at most {MAX_SEED - self.repeats + 1}",
                "seed")
        if self.subset is not None:
            if not is_int(self.subset) or not self.initial <= self.subset <= MAX_SAMPLES:
                raise ConfigError(f"subset must be an integer >= initial ({self.initial}) (at most {MAX_SAMPLES}); "
                                  f"got {self.subset!r}", "subset")
        learner_values, values = check_plugins(self.learner, self.learner_params, self.strategies,
                                               self.strategy_params, self.batch)
        if self.mode == "stream":
            bad = [s for s in self.strategies if not STRATEGIES[s].stream]
            if bad:
                raise ConfigError(f"strategies {bad} have no stream form; in stream mode choose from "
                                  f"{stream_strategies()}", "strategies")
        # Checked once, here: `params_for`, `specs`, `key` and `learner_settings` read these (not fields:
        # equality, `asdict` and the key see only what was given), and the plug-ins take them unchecked.
        declared = LEARNERS[self.learner].parameters
        settings = _jsonable(changed_values(declared, {k: v for k, v in learner_values.items() if k in self.learner_params}))
        object.__setattr__(self, "_strategy_values", values)
        object.__setattr__(self, "_learner_settings", Checked(settings, declared, learner_values))

    @property
    def budget(self) -> int:
        return self.initial + self.batch * (self.rounds - 1)

    @property
    def dataset_options(self) -> dict[str, Any]:
        return {k: v for k, v in (("data_dir", self.data_dir), ("image_size", self.image_size)) if v is not None}

    def params_for(self, strategy: str) -> dict[str, Any]:
        """Only what changes `strategy`'s results: its declared parameters, checked, defaults filled in
        (`Checked`: the strategy built from them does not check them again)."""
        values = self._strategy_values[strategy]
        return Checked(values, values.declared, values.values)

    def stream_options(self, strategy: str) -> tuple[str | None, float | None]:
        """(policy, threshold) when they decide `strategy`'s stream run, else None: random asks at the
        budget's rate whatever the policy, and only the threshold policy reads the threshold."""
        if self.mode != "stream" or STRATEGIES[strategy].stream != "score":
            return None, None
        return self.stream_policy, (self.threshold if self.stream_policy == "threshold" else None)

    def learner_settings(self) -> dict[str, Any]:
        """The learner settings that differ from the learner's declared defaults, checked and normalised:
        `--learner-param C=1.0` (the default) and no setting are the same comparison, cached once.
        `Checked`: the learner built from them does not check them again."""
        s = self._learner_settings
        return Checked(s, s.declared, s.values)

    def specs(self) -> list[RunSpec]:
        """Every cache unit of this comparison, strategy-major."""
        return [
            RunSpec(self.dataset, self.dataset_options, self.learner, self.learner_settings(), strategy,
                    self.params_for(strategy), self.mode, self.initial, self.batch, self.rounds,
                    self.subset, float(self.test_size), self.seed + repeat, repeat, *self.stream_options(strategy))
            for strategy in self.strategies
            for repeat in range(self.repeats)
        ]

    def to_dict(self) -> dict[str, Any]:
        """Every setting by its name, run options flat beside the rest (the form `from_dict` and files read)."""
        d = asdict(self)
        d["strategies"] = list(self.strategies)
        d.update(d.pop("options"))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        """A config from its `to_dict` form (a `--config` file, a saved comparison); the aliases
        (`alpha`, ...) become strategy parameters; unknown keys are an error naming the valid ones."""
        if not isinstance(d, dict):
            raise ConfigError(f"a run config must be a table of OPTION = VALUE; got {type(d).__name__}")
        flat = flatten(d)
        # the short forms first: a setting also given in full (strategy_params) wins
        d = nest({**{k: v for k, v in flat.items() if k in ALIASES}, **{k: v for k, v in flat.items() if k not in ALIASES}})
        params = d.pop("strategy_params", {})
        unknown = sorted(set(d) - set(option_names()))
        if unknown:
            raise ConfigError(f"unknown option(s) {unknown}; valid: {sorted(option_names()) + sorted(ALIASES)}",
                              unknown[0])
        if isinstance(d.get("strategies"), list):  # absent: the default strategies, as on the command line
            d["strategies"] = tuple(d["strategies"])
        return cls(**d, strategy_params=params)

    def comparison_dict(self) -> dict[str, Any]:
        """`to_dict` with what no chosen strategy uses left out or at its default.

        `--alpha 0.3` without the hybrid runs the very same comparison as no --alpha, so it gets
        the same key; chosen strategies' parameters are stated in full (defaults filled in).
        """
        d = self.to_dict()
        for option in MACHINE_OPTIONS:  # how and where, not what: the same comparison on any machine
            d.pop(option, None)
        d["learner_params"] = _jsonable(self.learner_settings())
        d["strategy_params"] = {s: dict(self._strategy_values[s]) for s in self.strategies}
        used = [self.stream_options(strategy) for strategy in self.strategies]
        for i, option in enumerate(("stream_policy", "threshold")):
            if all(u[i] is None for u in used):
                d[option] = RUN_OPTIONS[option].default
        return d

    def key(self) -> str:
        """The comparison's identity (the dashboard's and the jobs' handle); each run has its own `RunSpec.key`."""
        return stable_hash({"config": self.comparison_dict(), "schema": SCHEMA_VERSION})


def option_names() -> tuple[str, ...]:
    """Every setting a RunConfig takes by name: its own fields and the declared run options (read at call
    time, so an option declared after import counts)."""
    return (*(f.name for f in fields(RunConfig) if f.name != "options"), *RUN_OPTIONS)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Normalised settings as JSON gives them back (the cnn's channels tuple becomes a list), so a
    RunSpec built here equals one rebuilt from its JSON record."""
    return json.loads(json.dumps(values))


def check_against_data(config: RunConfig, n_classes: int, n_available: int) -> None:
    """The checks that need the dataset: class count and pool size. Raises ConfigError."""
    pool = n_available if config.subset is None else config.subset
    if config.subset is not None and config.subset > n_available:
        raise ConfigError(f"subset must be at most the {n_available} samples available for the pool; got {config.subset}",
                          "subset")
    if config.initial < n_classes:
        raise ConfigError(f"initial must be at least the number of classes ({n_classes}); got {config.initial}", "initial")
    if config.initial > pool:
        raise ConfigError(f"initial must be at most the pool size ({pool}); got {config.initial}", "initial")
    if config.budget > pool:
        raise ConfigError(
            f"budget initial + batch*(rounds-1) = {config.initial} + {config.batch}*{config.rounds - 1} = {config.budget} "
            f"is larger than the pool ({pool} samples); lower rounds, batch or initial", "rounds")
    try:
        LEARNERS[config.learner].check_pool_size(pool, config.learner_settings().values)  # checked when built
    except ParamError as exc:
        raise ConfigError(str(exc), exc.option) from None
