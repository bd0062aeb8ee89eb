"""The sidebar shared by every page: the comparison's settings, validated as they change.

Widget values live in `st.session_state` under `sidebar_*` keys (defaults set once in
app.py). The selected strategies' and the learner's settings are widgets generated from the
parameters they declare (`param_widgets`). An invalid combination is explained right under the
widget its error's `option` names, and `st.session_state["config"]` is then None so no page
runs or reads anything.
"""

from __future__ import annotations

import json
from functools import partial

import streamlit as st

from core.config import (MODES, RUN_OPTIONS, STREAM_POLICIES, ConfigError, RunConfig, absolute_data_dir,
                         stream_strategies)
from core.datasets import DATASETS, dataset_option_names
from core.figures import format_setting
from core.learners import LEARNERS
from core.params import ParamError
from core.runner import pool_candidates, prepare
from core.strategies import STRATEGIES
from dashboard.components import results
from dashboard.components.access import refuse_outside_roots
from dashboard.components.param_widgets import (changed_values, learner_key, param_widget, set_values,
                                                strategy_key)
from dashboard.components.widgets import plain

MAX_ROUNDS = 200  # the budget slider's upper end, in rounds: keeps it usable on 50k-image pools

# A ParamError's `option` -> the slot under the run option's widget. A strategy parameter
# ("hybrid.clusters") has a slot of its own; a learner parameter ("learner_params.C") goes under
# the learner's settings (its widget may sit in a closed expander); anything else to the top.
_SLOT_FOR_OPTION = {"dataset": "dataset", "data_dir": "dataset", "image_size": "dataset", "learner": "learner",
                    "learner_params": "learner_params", "strategies": "strategies", "strategy": "strategies",
                    "strategy_params": "strategies", "initial": "initial", "batch": "batch", "rounds": "budget",
                    "threshold": "mode", "stream_policy": "mode", "mode": "mode", "repeats": "repeats",
                    "seed": "repeats", "subset": "advanced", "test_size": "advanced"}


def error_slot(option: str | None, slots: dict):
    """Where an error about `option` shows: under its widget, else its section, else at the top."""
    if option in slots:  # a strategy parameter's own widget ("hybrid.clusters")
        return slots[option]
    head = (option or "").partition(".")[0]  # "learner_params.C" -> the learner's settings
    return next((slots[k] for k in (("strategy", head), _SLOT_FOR_OPTION.get(head)) if k in slots), slots["general"])


def budget_grid(initial: int, batch: int, pool_size: int | None) -> tuple[int, int]:
    """(lowest, highest) budget on the grid initial + batch*k that the pool allows."""
    low = initial + batch
    rounds = MAX_ROUNDS if pool_size is None else min(MAX_ROUNDS, max(2, (pool_size - initial) // batch + 1))
    return low, max(low, initial + batch * (rounds - 1))


def budget_caption(initial: int, batch: int, rounds: int) -> str:
    """How the budget splits: rounds count the fit on the initial set, so it buys rounds - 1 batches."""
    batches = rounds - 1
    return (f"{initial} initial + {batches} batch{'es' if batches != 1 else ''} of {batch} = "
            f"{initial + batch * batches} labels · {rounds} rounds, the first on the initial set")


def snap_budget(budget: int, initial: int, batch: int, low: int, high: int) -> int:
    steps = round((budget - initial) / batch)
    return int(min(high, max(low, initial + batch * steps)))


def _available(name: str, options_json: str, seed: int, test_size: float) -> tuple[int | None, int | None]:
    """(samples available for the pool, classes) or (None, None) when the data cannot be loaded."""
    try:
        data = results.dataset(name, options_json)
    except (FileNotFoundError, ValueError, OSError):
        return None, None
    try:
        return pool_candidates(data, test_size), data.n_classes
    except ConfigError:
        return None, data.n_classes


def run_form() -> RunConfig | None:
    """Draw the settings; store and return the RunConfig, or None with the problem shown in place."""
    sb = st.sidebar
    ss = st.session_state
    slots = {}
    sb.header("Comparison settings")
    if problem := ss.pop("sidebar_open_error", None):
        sb.error(plain(problem))
    slots["general"] = sb.empty()
    sb.selectbox("Dataset", DATASETS.names(), key="sidebar_dataset", help="Registered datasets; digits works offline.")
    options = dataset_option_names(ss["sidebar_dataset"])
    if "data_dir" in options:
        refuse_outside_roots("sidebar_data_dir", sb)  # a served dashboard reads data only under its --data-root
        sb.text_input("Data directory", key="sidebar_data_dir", placeholder="folder holding the dataset files",
                      help="Where the dataset's files (or class folders) are; empty = the dataset's default.")
    if "image_size" in options:
        sb.number_input("Image size (pixels, 0 = native)", min_value=0, max_value=512, step=8, key="sidebar_image_size")
    slots["dataset"] = sb.empty()
    sb.selectbox("Learner", LEARNERS.names(), key="sidebar_learner")
    slots["learner"] = sb.empty()
    learner = ss["sidebar_learner"]
    learner_params = _learner_settings(sb, learner)
    slots["learner_params"] = sb.empty()
    sb.multiselect("Strategies", STRATEGIES.names(), key="sidebar_strategies",
                   help="Every selected strategy starts from the same initial labels and model.")
    slots["strategies"] = sb.empty()
    sb.radio("Mode", MODES, key="sidebar_mode", horizontal=True,
             format_func={"pool": "pool (batches)", "stream": "stream (per sample)"}.get,
             help="Pool: pick the best batch from all unlabelled samples. Stream: decide as each sample arrives.")
    if ss["sidebar_mode"] == "stream":
        sb.selectbox("Stream policy", STREAM_POLICIES, key="sidebar_stream_policy",
                     help=_option_help("stream_policy"))
        if ss["sidebar_stream_policy"] == "threshold":
            sb.slider("Uncertainty threshold", 0.0, 1.0, step=0.05, key="sidebar_threshold",
                      help=_option_help("threshold"))
        sb.caption(f"Stream mode supports: {', '.join(stream_strategies())}")
    slots["mode"] = sb.empty()

    sb.subheader("Budget")
    sb.number_input("Initial labelled samples", min_value=1, max_value=100_000, step=1, key="sidebar_initial",
                    help=_option_help("initial"))
    slots["initial"] = sb.empty()
    sb.number_input("Batch size (labels per round)", min_value=1, max_value=10_000, step=1, key="sidebar_batch")
    slots["batch"] = sb.empty()
    initial, batch = int(ss["sidebar_initial"]), int(ss["sidebar_batch"])
    subset = int(ss["sidebar_subset"]) or None
    options_json = json.dumps(_dataset_options(options), sort_keys=True)
    available, n_classes = _available(ss["sidebar_dataset"], options_json, int(ss["sidebar_seed"]),
                                      float(ss["sidebar_test_size"]))
    pool_size = None if available is None else (available if subset is None else min(subset, available))
    low, high = budget_grid(initial, batch, pool_size)
    budget = snap_budget(int(ss["sidebar_budget"]), initial, batch, low, high)
    # Write only a real change (before the widget exists): any write to a widget's key is sent
    # to the browser as a new value and would undo slider moves made while this rerun ran.
    if budget != ss["sidebar_budget"]:
        ss["sidebar_budget"] = budget
    sb.slider("Budget (total labels, initial set included)", min_value=low, max_value=high, step=batch,
              key="sidebar_budget", help="Rounds = (budget - initial) / batch + 1")
    rounds = (int(ss["sidebar_budget"]) - initial) // batch + 1
    sb.caption(budget_caption(initial, batch, rounds) + (f" · pool of {pool_size} samples" if pool_size else ""))
    slots["budget"] = sb.empty()

    strategy_params = {name: _strategy_settings(sb, name, slots) for name in ss["sidebar_strategies"]
                       if name in STRATEGIES and STRATEGIES[name].parameters}

    sb.subheader("Repeats")
    col1, col2 = sb.columns(2)
    col1.number_input("Repeats", min_value=1, max_value=50, step=1, key="sidebar_repeats",
                      help="Each repeat uses seed + r for its split, initial labels and model.")
    col2.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="sidebar_seed",
                      help=_option_help("seed"))
    slots["repeats"] = sb.empty()
    with sb.expander("Advanced"):
        st.number_input("Pool subset (0 = whole pool)", min_value=0, step=100, key="sidebar_subset")
        st.slider("Test fraction (0 = pool accuracy only)", 0.0, 0.9, step=0.05, key="sidebar_test_size",
                  help=_option_help("test_size"))
    slots["advanced"] = sb.empty()

    config = None
    try:
        config = RunConfig(
            dataset=ss["sidebar_dataset"], **_dataset_options(options), learner=learner, learner_params=learner_params,
            strategies=tuple(ss["sidebar_strategies"]), strategy_params={k: v for k, v in strategy_params.items() if v},
            mode=ss["sidebar_mode"], initial=initial, batch=batch, rounds=rounds,
            stream_policy=ss["sidebar_stream_policy"], threshold=float(ss["sidebar_threshold"]),
            repeats=int(ss["sidebar_repeats"]), seed=int(ss["sidebar_seed"]), subset=subset,
            test_size=float(ss["sidebar_test_size"]))
        if n_classes is None:
            raise ConfigError(f"dataset {ss['sidebar_dataset']!r} could not be loaded: " + _load_error(config), "dataset")
        if available is not None:  # the same checks as the command line: pool size, classes, learner settings
            prepare(config, results.dataset_for(config))
    except ParamError as exc:  # ConfigError, and a plug-in's own: `option` says which widget it is about
        error_slot(exc.option, slots).error(plain(str(exc)), icon=":material/error:")
        config = None
    ss["config"] = config
    return config


def _option_help(option: str) -> str:
    """A run option's help as declared in `RUN_OPTIONS`, as a sentence."""
    text = RUN_OPTIONS[option].help
    return plain(text[:1].upper() + text[1:] + ".")


def _learner_settings(sb, learner: str) -> dict:
    """The learner's declared parameters as widgets in an expander; returns the values changed from the defaults."""
    declared = LEARNERS[learner].parameters
    if not declared:
        return {}
    with sb.expander("Learner settings"):
        for name, constraint in declared.items():
            param_widget(st, name, constraint, learner_key(learner, name))
    changed = changed_values(declared, partial(learner_key, learner))
    if changed:  # the expander may be closed: say what is not at its default
        sb.caption(plain("Changed: " + ", ".join(f"{k}={format_setting(v)}" for k, v in changed.items())))
    return changed


def _strategy_settings(sb, strategy: str, slots: dict) -> dict:
    """A selected strategy's declared parameters as widgets, each with an error slot under it; returns
    the values changed from the declared defaults (what the config states)."""
    cls = STRATEGIES[strategy]
    sb.subheader(strategy, help=plain((cls.__doc__ or "").strip().split("\n")[0]) or None)
    for name, constraint in cls.parameters.items():
        param_widget(sb, name, constraint, strategy_key(strategy, name))
        slots[f"{strategy}.{name}"] = sb.empty()
    slots[("strategy", strategy)] = sb.empty()
    return changed_values(cls.parameters, partial(strategy_key, strategy))


def _dataset_options(names: list[str]) -> dict:
    ss = st.session_state
    out = {}
    if "data_dir" in names and ss["sidebar_data_dir"].strip():
        out["data_dir"] = absolute_data_dir(ss["sidebar_data_dir"].strip())  # as the config stores it: loaded once
    if "image_size" in names and int(ss["sidebar_image_size"]) > 0:
        out["image_size"] = int(ss["sidebar_image_size"])
    return out


def _load_error(config: RunConfig) -> str:
    try:
        results.dataset(config.dataset, json.dumps(config.dataset_options, sort_keys=True))
    except (FileNotFoundError, ValueError, OSError) as exc:
        return str(exc)
    return "unknown error"


def apply_config(config: dict) -> bool:
    """Put a saved config into the sidebar widgets (call from a button callback, before they draw).

    False, with the reason shown at the top of the sidebar, when the saved config is no longer
    valid (saved by an older version that accepted it, or edited by hand).
    """
    ss = st.session_state
    try:
        c = RunConfig.from_dict(config)
    except (ParamError, TypeError) as exc:
        ss["sidebar_open_error"] = f"Cannot open this comparison: {exc}"
        return False
    ss.update(sidebar_dataset=c.dataset, sidebar_data_dir=c.data_dir or "", sidebar_image_size=c.image_size or 0,
              sidebar_learner=c.learner, sidebar_strategies=list(c.strategies), sidebar_mode=c.mode,
              sidebar_initial=c.initial, sidebar_batch=c.batch, sidebar_budget=c.budget,
              sidebar_stream_policy=c.stream_policy, sidebar_threshold=float(c.threshold), sidebar_repeats=c.repeats,
              sidebar_seed=c.seed, sidebar_subset=c.subset or 0, sidebar_test_size=float(c.test_size))
    set_values(LEARNERS[c.learner].parameters, partial(learner_key, c.learner), c.learner_params)
    for strategy, cls in STRATEGIES.items():  # the saved values, and the declared defaults for the rest
        set_values(cls.parameters, partial(strategy_key, strategy), c.strategy_params.get(strategy, {}))
    return True
