"""Settings by name: how every entry point spells, merges and reads what a person set.

A comparison's settings reach the engine from the command line's flags, a `--config` file, a
sweep's grid points, the dashboard's sidebar and the Label page. They all name settings the same
way, handled here once:

- run options by their `RUN_OPTIONS` name (`batch`, `test_size`, ...);
- learner settings as `learner_params.NAME`;
- strategy parameters as `STRATEGY.PARAM` (`hybrid.alpha`), or one of the short `ALIASES`.

Each entry point hands its layers (defaults it keeps, a file, flags, a grid point) to
`core.engine.config.resolve`, which merges them here, setting by setting, and builds the one checked
`RunConfig`; the plug-ins' part of that check is `check_plugins`, which the Label page's
settings use as well. Nothing here imports the config: the config builds on this.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any, Mapping

from core.params import Checked, ParamError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as a package (a dependency there)
    import tomli as tomllib  # type: ignore[no-redef]

LEARNER_PREFIX = "learner_params."
# Short names kept from before strategies declared their own parameters: `--alpha 0.3` is `--strategy-param
# hybrid.alpha=0.3`, and so in grid files and old saved configs.
ALIASES = {"alpha": "hybrid.alpha", "clusters": "hybrid.clusters", "measure": "hybrid.measure"}
MAX_FILE_BYTES = 16 * 1024 * 1024  # a settings file is a few lines; a larger one is not one


class ConfigError(ParamError):
    """A setting is invalid; the message names it and what is allowed, `option` the setting. Every entry
    point reports it as one line (core.engine.config re-exports it)."""


SettingsError = ConfigError  # the same error, by the name this module's readers look for


def split_strategy_param(name: str) -> tuple[str, str]:
    """"hybrid.alpha" (or its alias "alpha") -> ("hybrid", "alpha"): the one parser of dotted names."""
    name = ALIASES.get(name, name)
    strategy, dot, param = name.partition(".")
    if not dot or not strategy or not param:
        raise SettingsError(f"strategy_params: expected STRATEGY.PARAM (e.g. hybrid.alpha); got {name!r}",
                            "strategy_params")
    return strategy, param


def is_strategy_setting(name: str) -> bool:
    return name in ALIASES or ("." in name and not name.startswith(LEARNER_PREFIX))


def canonical(name: str) -> str:
    """One spelling per setting: "alpha" and "hybrid.alpha" are one setting."""
    return ".".join(split_strategy_param(name)) if is_strategy_setting(name) else name


def flatten(options: Mapping[str, Any], strategies: Any = ()) -> dict[str, Any]:
    """Settings in RunConfig.from_dict form (nested tables) or already flat -> flat names.

    `learner_params = {C = 1}` -> "learner_params.C"; `strategy_params = {hybrid = {alpha = 0.3}}` and a
    TOML `[hybrid]` table (a name in `strategies`) -> "hybrid.alpha". Aliases stay as written.
    """
    out: dict[str, Any] = {}
    for name, value in options.items():
        if name == "learner_params":
            if not isinstance(value, Mapping):
                raise SettingsError(f"learner_params must be a table of NAME = VALUE settings; got {value!r}",
                                    "learner_params")
            out.update({LEARNER_PREFIX + str(param): v for param, v in value.items()})
        elif name == "strategy_params":
            if not isinstance(value, Mapping):
                raise SettingsError("strategy_params must be a table of STRATEGY = {PARAM = VALUE} settings; "
                                    f"got {value!r}", "strategy_params")
            for strategy, params in value.items():
                if not isinstance(params, Mapping):
                    raise SettingsError(f"strategy_params.{strategy} must be a table of PARAM = VALUE settings "
                                        f"(e.g. {{\"alpha\": 0.3}}); got {params!r}", f"strategy_params.{strategy}")
                out.update({f"{strategy}.{param}": v for param, v in params.items()})
        elif name in strategies and isinstance(value, Mapping):
            out.update({f"{name}.{param}": v for param, v in value.items()})
        else:
            out[name] = value
    return out


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Flat names -> RunConfig.from_dict form (the inverse of `flatten`; aliases become strategy parameters)."""
    d: dict[str, Any] = {}
    for name, value in flat.items():
        if name.startswith(LEARNER_PREFIX):
            d.setdefault("learner_params", {})[name[len(LEARNER_PREFIX):]] = value
        elif is_strategy_setting(name):
            strategy, param = split_strategy_param(name)
            d.setdefault("strategy_params", {}).setdefault(strategy, {})[param] = value
        else:
            d[name] = value
    return d


def merge(*layers: Mapping[str, Any], strategies: Any = ()) -> dict[str, Any]:
    """Layers of settings (defaults, a file, flags, a grid point), later ones winning setting by setting:
    a flag `--learner-param C=2` overrides a file's `C` and keeps its `max_iter`. Flat names out."""
    out: dict[str, Any] = {}
    for layer in layers:
        for name, value in flatten(layer, strategies).items():
            same = [n for n in out if canonical(n) == canonical(name)]
            for n in same:
                del out[n]
            out[name] = value
    return out


def _decode(data: bytes) -> str:
    """UTF-8 (with or without a BOM), or UTF-16 / UTF-32 announced by their BOM (what Windows editors
    write). Raises ValueError saying which encoding the bytes are not."""
    for bom, encoding in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                          (codecs.BOM_UTF8, "UTF-8-sig"), (codecs.BOM_UTF16_LE, "UTF-16"),
                          (codecs.BOM_UTF16_BE, "UTF-16")):
        if data.startswith(bom):
            break
    else:
        encoding = "UTF-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        shown = encoding.replace("-sig", "")
        raise ValueError(f"not {shown} text: byte {exc.start} does not decode; save the file as UTF-8") from None


def read_settings_file(path: str | Path, what: str = "--config", kind: str | None = None) -> Any:
    """A settings file's content: `kind` "JSON" or "TOML" (default: TOML for *.toml, else JSON). Every
    failure is one ConfigError line naming `what` and the file: missing, unreadable, too large, not
    text, not valid, nested too deep."""
    path = str(path)
    kind = kind or ("TOML" if path.endswith(".toml") else "JSON")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SettingsError(f"{what} {path!r} does not exist", "config") from None
    except IsADirectoryError:
        raise SettingsError(f"{what} {path!r} is a directory; give a {kind} file", "config") from None
    except PermissionError:
        raise SettingsError(f"{what} {path!r} is not readable (permission denied)", "config") from None
    except OSError as exc:
        raise SettingsError(f"{what} {path!r} cannot be read ({exc.strerror or exc})", "config") from None
    if len(data) > MAX_FILE_BYTES:
        raise SettingsError(f"{what} {path!r} is larger than {MAX_FILE_BYTES // 2**20} MiB; a settings file is a "
                            "few lines", "config")
    try:
        text = _decode(data)
        return tomllib.loads(text) if kind == "TOML" else json.loads(text)
    except RecursionError:  # 100000 nested lists: the parsers recurse per level
        raise SettingsError(f"{what} {path!r} is nested too deeply to be a settings file", "config") from None
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SettingsError(f"{what} {path!r} is not valid {kind} ({reason})", "config") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A `--config` file: JSON of RunConfig.to_dict() (what `run` writes to OUT/config.json), or TOML of that shape."""
    obj = read_settings_file(path)
    if not isinstance(obj, dict):
        raise SettingsError(f"--config {str(path)!r} must hold a table of OPTION = VALUE; got {type(obj).__name__}",
                            "config")
    try:
        flatten(obj)  # the tables' shape, said with the file's name (values are checked with the run's)
    except ConfigError as exc:
        raise ConfigError(f"--config {str(path)!r}: {exc}", exc.option) from None
    return obj


def check_plugins(learner: str, learner_params: Mapping[str, Any], strategies: Any,
                  strategy_params: Mapping[str, Mapping[str, Any]], batch: int) -> tuple[dict, dict[str, dict]]:
    """The plug-ins' part of the run check, for every entry point (a RunConfig, the Label page's proposals):
    each setting checked against its declaration, each strategy against the batch (hybrid's clusters) and
    against what the learner provides. Returns (learner values, {strategy: values}), defaults filled in.
    The strategies' values are `Checked`: built from them, a strategy does not check them again.
    Raises ParamError naming the setting."""
    from core.learners import CAPABILITIES, LEARNERS, check_learner_params
    from core.strategies import NEEDS, STRATEGIES, check_strategy_params

    learner_values = check_learner_params(learner, learner_params)
    learner_values = Checked(learner_values, LEARNERS[learner].parameters, learner_values)
    values = {}
    for name in [*strategy_params, *(s for s in strategies if s not in strategy_params)]:
        checked = check_strategy_params(name, strategy_params.get(name, {}))
        values[name] = Checked(checked, STRATEGIES[name].parameters, checked)  # built below and by the runner as is
    provided = LEARNERS[learner].provided(learner_values)
    for name in strategies:
        cls = STRATEGIES[name]
        cls.check_run(values[name], batch)
        missing = [need for need in sorted(cls.build(values[name]).required()) if NEEDS[need][0] not in provided]
        if missing:
            capability = NEEDS[missing[0]][0]
            raise ParamError(
                f"{name} needs {NEEDS[missing[0]][1]}; learner {learner!r} with these settings provides "
                f"{sorted(provided)}, not {capability} ({CAPABILITIES[capability]}): "
                f"{_PROVIDER_HINTS.get(capability, f'use a learner that provides {capability}')}", "strategies")
    return learner_values, values


_PROVIDER_HINTS = {"proba_samples": "use the cnn learner with mc_samples >= 2 and dropout > 0 "
                                    "(command line: --learner cnn --learner-param mc_samples=8)"}
