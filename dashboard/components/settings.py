"""The sidebar's settings: one object in `st.session_state`, its URL form, and the RunConfig it starts.

Streamlit forgets a widget's value once a run ends without drawing it (a learner switched away,
a strategy removed, another page, a run cut short by a click), and the browser then sends the
widget's minimum or first option. So the sidebar's values do not live in widget keys: they live
here, in one plain dict (`settings()`), the widgets are drawn from it and write back to it only
when the user changes them. Plug-in parameters are remembered per plug-in, so a learner or
strategy switched away and back gets the user's last values.

`config_of` is the one mapping from these settings to the RunConfig that Run starts (tests read
it); `to_query` / `from_query` are the URL form: only what differs from the defaults, under
readable names (`budget=70`, `hybrid.alpha=0.8`, `logistic.C=0.5`), so a link reproduces a
comparison.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import streamlit as st

from core.engine.config import IMAGE_SIZE_RANGE, MACHINE_OPTIONS, RUN_OPTIONS, RunConfig, parse_value
from core.datasets import DATASETS
from core.learners import LEARNERS
from core.params import Constraint, Interval, Options, Text, changed_values
from core.strategies import STRATEGIES

SETTINGS = "settings"  # st.session_state key of the settings object
GENERATION = "settings_generation"  # bumped when settings are loaded on purpose: every widget is drawn afresh
NOTICE = "settings_notice"  # (message, the settings it describes): shown while they still hold
URL_PROBLEMS = "settings_url_problems"
OWNED = "settings_owned"  # the settings object is this session's own (never a caller's dict, edited in place)

# Run options the sidebar places by hand (their widgets still come from the RUN_OPTIONS declarations);
# every other declared one is drawn under Advanced (`extra_options`), so a new declaration needs no edit here.
PLACED = ("mode", "stream_policy", "threshold", "initial", "batch", "repeats", "seed", "test_size")


def declared() -> tuple[str, ...]:
    """The run options the sidebar holds: all declared ones but rounds (the budget slider sets it) and the
    machine's own (threads: how fast this machine runs, not what the comparison is)."""
    return tuple(n for n in RUN_OPTIONS if n != "rounds" and n not in MACHINE_OPTIONS)


def extra_options() -> tuple[str, ...]:
    """Declared run options the sidebar has no hand-placed widget for (drawn under Advanced)."""
    return tuple(n for n in declared() if n not in PLACED)


# The sidebar's own defaults where they differ from the command line's (3 repeats for a CI).
SIDEBAR_DEFAULTS = {"dataset": "digits", "data_dir": "", "image_size": 0, "learner": "logistic",
                    "strategies": ["random", "entropy", "hybrid"], "budget": 110, "repeats": 3, "subset": 0}


def scalars() -> tuple[str, ...]:
    return ("dataset", "data_dir", "image_size", "learner", "strategies", *declared(), "budget", "subset")
MAX_ROUNDS = 200  # the budget slider's upper end, in rounds: keeps it usable on 50k-image pools


def defaults() -> dict[str, Any]:
    out = {name: RUN_OPTIONS[name].default for name in declared()}
    out.update(copy.deepcopy(SIDEBAR_DEFAULTS))
    out.update(learner_params={}, strategy_params={})
    return out


def settings() -> dict[str, Any]:
    """This session's settings object; the first call of a session reads the URL (a link, a reload)."""
    ss = st.session_state
    if SETTINGS not in ss:
        given, problems = from_query(st.query_params.to_dict())
        ss[URL_PROBLEMS] = problems
        ss[SETTINGS] = {**defaults(), **given}
    elif not ss.get(OWNED):  # given before the first run (tests, a benchmark): a copy, completed by the defaults
        ss[SETTINGS] = {**defaults(), **copy.deepcopy(dict(ss[SETTINGS]))}
    ss[OWNED] = True
    return ss[SETTINGS]


def generation() -> int:
    return int(st.session_state.get(GENERATION, 0))


def widget_key(name: str) -> str:
    """The widget key of setting `name` in this generation (`sidebar_budget`, then `sidebar_budget_1`, ...)."""
    g = generation()
    return f"sidebar_{name}" if g == 0 else f"sidebar_{name}_{g}"


# ----------------------------------------------------------------------------- plug-in parameters

def plugin_declared(kind: str, name: str) -> Mapping[str, Constraint]:
    registry = LEARNERS if kind == "learner_params" else STRATEGIES
    return registry[name].parameters if name in registry else {}


def widget_value(constraint: Constraint, value: Any) -> Any:
    """`value` (a config's or a default) in the form its widget holds: floats for a float range, text for Text."""
    if isinstance(constraint, Interval):
        if value is None:
            return constraint.low if constraint.low is not None else 0
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) if constraint.type is float else int(value)
        return value
    if isinstance(constraint, Text):
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return ",".join(str(v) for v in value)
        return str(value)
    return value


def tidy(value: Any) -> Any:
    """Float noise from a slider's or number field's steps (0.6000000000000001 -> 0.6)."""
    if isinstance(value, str):
        return value.strip()
    return float(f"{value:.12g}") if isinstance(value, float) else value


def same(constraint: Constraint, a: Any, b: Any) -> bool:
    """Whether two widget values mean the same setting ("32, 64,128" is the default "32,64,128")."""
    if isinstance(constraint, Text):
        try:
            return constraint.parse(a) == constraint.parse(b)
        except (TypeError, ValueError):
            return a == b
    return tidy(a) == tidy(b)


def plugin_values(s: Mapping, kind: str, name: str) -> dict[str, Any]:
    """Every declared parameter of plug-in `name` as its widget shows it: the user's last value, else the default."""
    remembered = s[kind].get(name, {})
    return {p: remembered.get(p, widget_value(c, c.default)) for p, c in plugin_declared(kind, name).items()}


def changed_params(s: Mapping, kind: str, name: str) -> dict[str, Any]:
    """The values of plug-in `name` that differ from its declared defaults (what a config states)."""
    declared_params = plugin_declared(kind, name)
    values = {p: tidy(v) for p, v in plugin_values(s, kind, name).items()}
    # compared in normalised form ("32, 64,128" is the default "32,64,128"); a value that does not parse is
    # kept, so the config names it as invalid
    normalised = {p: declared_params[p].convert(v) if declared_params[p].valid(v) else v for p, v in values.items()}
    changed = changed_values(declared_params, normalised)
    # No default: the parameter must be stated (a widget always holds some value).
    return {p: v for p, v in values.items() if p in changed or declared_params[p].default is None}


# ----------------------------------------------------------------------------- the config Run starts

def budget_grid(initial: int, batch: int, pool_size: int | None) -> tuple[int, int]:
    """(lowest, highest) budget on the grid initial + batch*k that the pool allows; lowest > highest when
    the pool has no room for one batch after the initial set."""
    low = initial + batch
    if pool_size is None:
        return low, initial + batch * (MAX_ROUNDS - 1)
    rounds = min(MAX_ROUNDS, (pool_size - initial) // batch + 1)
    return low, initial + batch * (rounds - 1)


def snap_budget(budget: int, initial: int, batch: int, low: int, high: int) -> int:
    """`budget` on the grid initial + batch*k, within [low, high] (low when the pool leaves no room)."""
    steps = round((budget - initial) / batch)
    return int(max(low, min(high, initial + batch * steps)))


def shown_budget(s: Mapping, pool_size: int | None) -> int:
    initial, batch = int(s["initial"]), int(s["batch"])
    low, high = budget_grid(initial, batch, pool_size)
    return snap_budget(int(s["budget"]), initial, batch, low, high)


def dataset_options(s: Mapping) -> dict[str, Any]:
    from core.engine.config import absolute_data_dir
    from core.datasets import dataset_option_names

    names = dataset_option_names(s["dataset"]) if s["dataset"] in DATASETS else []
    out = {}
    if "data_dir" in names and str(s["data_dir"]).strip():
        out["data_dir"] = absolute_data_dir(str(s["data_dir"]).strip())  # as the config stores it: loaded once
    if "image_size" in names and int(s["image_size"]) > 0:
        out["image_size"] = int(s["image_size"])
    return out


def config_of(s: Mapping, pool_size: int | None = None) -> RunConfig:
    """The RunConfig that Run would start from settings `s` (ParamError when they do not make one).

    The budget is the user's, put on the grid the pool allows; plug-in parameters are stated
    only where they differ from the declared defaults, so the comparison's key does not depend
    on the widgets.
    """
    initial, batch = int(s["initial"]), int(s["batch"])
    budget = shown_budget(s, pool_size)
    return RunConfig(
        dataset=s["dataset"], **dataset_options(s), learner=s["learner"],
        learner_params=changed_params(s, "learner_params", s["learner"]),
        strategies=tuple(s["strategies"]),
        strategy_params={n: p for n in s["strategies"] if (p := changed_params(s, "strategy_params", n))},
        mode=s["mode"], initial=initial, batch=batch, rounds=(budget - initial) // batch + 1,
        stream_policy=s["stream_policy"], threshold=float(s["threshold"]), repeats=int(s["repeats"]),
        seed=int(s["seed"]), subset=int(s["subset"]) or None, test_size=float(s["test_size"]),
        **{name: tidy(s[name]) for name in extra_options()})


def from_config(config: RunConfig, current: Mapping | None = None) -> dict[str, Any]:
    """Settings that describe `config` (other plug-ins keep the values remembered in `current`)."""
    s = defaults() if current is None else copy.deepcopy(dict(current))
    c = config
    s.update(dataset=c.dataset, data_dir=c.data_dir or "", image_size=c.image_size or 0, learner=c.learner,
             strategies=list(c.strategies), mode=c.mode, initial=c.initial, batch=c.batch, budget=c.budget,
             stream_policy=c.stream_policy, threshold=float(c.threshold), repeats=c.repeats, seed=c.seed,
             subset=c.subset or 0, test_size=float(c.test_size))
    s.update({name: widget_value(RUN_OPTIONS[name], getattr(c, name)) for name in extra_options()})
    s["learner_params"] = {**s["learner_params"], c.learner: {
        p: widget_value(k, c.learner_params.get(p, k.default)) for p, k in plugin_declared("learner_params", c.learner).items()}}
    s["strategy_params"] = {**s["strategy_params"], **{
        n: {p: widget_value(k, c.strategy_params.get(n, {}).get(p, k.default))
            for p, k in plugin_declared("strategy_params", n).items()} for n in c.strategies}}
    return s


def load(config: RunConfig, notice: str) -> None:
    """Put `config` into the sidebar on purpose (a Runs choice, a sweep point) and say so once."""
    ss = st.session_state
    ss[SETTINGS] = from_config(config, settings())
    ss[GENERATION] = generation() + 1  # new widget keys: no widget keeps a value of the old settings
    ss[NOTICE] = (notice, copy.deepcopy(ss[SETTINGS]))


# ----------------------------------------------------------------------------- the URL

def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def to_query(s: Mapping) -> dict[str, str]:
    """The URL's query parameters for `s`: what differs from the defaults, under readable names."""
    d = defaults()
    out = {name: _text(s[name]) for name in scalars() if s[name] != d[name]}
    for kind, names in (("learner_params", [s["learner"]]), ("strategy_params", s["strategies"])):
        for name in names:
            out.update({f"{name}.{p}": _text(v) for p, v in changed_params(s, kind, name).items()})
    return out


def owns(name: str) -> bool:
    """Whether a query parameter is one of the settings' (other pages keep their own in the URL)."""
    return name in scalars() or "." in name


def _parse(name: str, text: str, constraint: Constraint) -> Any:
    """`text` as a valid value of `constraint`, in its widget's form; ValueError naming what is allowed."""
    if isinstance(constraint, Text):
        value = text
    elif isinstance(constraint, Options):
        value = text
    else:
        value = parse_value(text)
        if constraint.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
    if not constraint.valid(value):
        raise ValueError(f"{name} must be {constraint.allowed()}")
    return widget_value(constraint, value)


def url_constraints() -> dict[str, Constraint]:
    return {**{name: RUN_OPTIONS[name] for name in declared()},
            "image_size": Interval(int, 0, IMAGE_SIZE_RANGE[1]), "budget": Interval(int, 1, None),
            "subset": Interval(int, 0, None)}


def from_query(query: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """(settings given by the URL, one problem per value ignored): an invalid value never stops the page."""
    given: dict[str, Any] = {"learner_params": {}, "strategy_params": {}}
    problems = []
    for name, text in query.items():
        if not owns(name):
            continue
        try:
            if name in ("dataset", "learner"):
                registry = DATASETS if name == "dataset" else LEARNERS
                if text not in registry.names():
                    raise ValueError(f"{name} must be one of {registry.names()}")
                given[name] = text
            elif name == "strategies":
                chosen = [t.strip() for t in text.split(",") if t.strip()]
                unknown = [t for t in chosen if t not in STRATEGIES.names()]
                if unknown or len(set(chosen)) != len(chosen):
                    raise ValueError(f"strategies must be distinct names from {STRATEGIES.names()}")
                given[name] = chosen
            elif name == "data_dir":
                given[name] = text
            elif name in (constraints := url_constraints()):
                given[name] = _parse(name, text, constraints[name])
            else:
                plugin, _, param = name.partition(".")
                kind = "learner_params" if plugin in LEARNERS else "strategy_params"
                declared = plugin_declared(kind, plugin)
                if param not in declared:
                    raise ValueError("no such setting")
                given[kind].setdefault(plugin, {})[param] = _parse(name, text, declared[param])
        except ValueError as exc:
            problems.append(f"{name}={text} ({exc})")
    return given, problems
