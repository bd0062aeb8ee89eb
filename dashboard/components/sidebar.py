"""The sidebar shared by every page: the comparison's settings, validated as they change.

The values live in one settings object (`settings.py`), not in widget keys: each widget is drawn
from it and writes the user's change back, so a widget Streamlit cleaned up (a learner switched
away, a strategy removed, another page, a run cut short) comes back with the user's value. The
run options' widgets come from their `RUN_OPTIONS` declarations and the plug-ins' from their
`parameters` (`param_widgets`). An invalid combination is explained right under the widget its
error's `option` names, and `st.session_state["config"]` is then None so no page runs or reads
anything. The URL holds the settings that differ from the defaults, so a link reproduces them.
"""

from __future__ import annotations

import json

import streamlit as st

from core.access import OutsideRootsError
from core.engine.config import IMAGE_SIZE_RANGE, RUN_OPTIONS, ConfigError, RunConfig, stream_strategies
from core.datasets import DATASETS, dataset_option_names
from core.present.figures import format_setting
from core.learners import LEARNERS
from core.params import ParamError, defaults as declared_defaults
from core.engine.runner import pool_candidates, prepare
from core.strategies import STRATEGIES
from dashboard.components import results
from dashboard.components.access import allowed_path
from dashboard.components.param_widgets import learner_key, param_widget, strategy_key
from dashboard.components.settings import (NOTICE, URL_PROBLEMS, budget_grid, changed_params, config_of,
                                           dataset_options, extra_options, load, owns, plugin_values, settings,
                                           shown_budget, tidy,
                                           to_query, widget_key)
from dashboard.components.widgets import plain

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


def budget_caption(initial: int, batch: int, rounds: int) -> str:
    """How the budget splits: rounds count the fit on the initial set, so it buys rounds - 1 batches."""
    batches = rounds - 1
    return (f"{initial} initial + {batches} batch{'es' if batches != 1 else ''} of {batch} = "
            f"{initial + batch * batches} labels · {rounds} rounds, the first on the initial set")


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


def _set(name: str):
    """on_change for setting `name`: the user's new value into the settings object (read at call time)."""
    def write(value) -> None:
        settings()[name] = list(value) if isinstance(value, (list, tuple)) else tidy(value)
    return write


def refuse_data_dir_outside_roots(container) -> None:
    """A served dashboard: a data directory typed or linked outside its --data-root is cleared, with one line."""
    s = settings()
    if not str(s.get("data_dir") or "").strip():
        return
    try:
        allowed_path(s["data_dir"])
    except OutsideRootsError as exc:
        s["data_dir"] = ""
        st.session_state[widget_key("data_dir")] = ""
        container.error(str(exc), icon=":material/block:")


def _from_widget(name: str, key: str):
    """on_change of widget `key`: its new value into setting `name`."""
    return lambda: _set(name)(st.session_state[key])


def _set_param(kind: str, plugin: str, param: str):
    def write(value) -> None:
        settings()[kind].setdefault(plugin, {})[param] = tidy(value)
    return write


def _choice(container, label: str, name: str, options: list, **kwargs) -> None:
    """A selectbox over `options` showing setting `name`."""
    value = settings()[name]
    key = widget_key(name)
    container.selectbox(label, options, index=options.index(value) if value in options else 0, key=key,
                        on_change=lambda: _set(name)(st.session_state[key]), **kwargs)


def _option(container, name: str, label: str, **kwargs) -> None:
    """A run option's widget from its RUN_OPTIONS declaration (limits, default, help)."""
    param_widget(container, name, RUN_OPTIONS[name], widget_key(name), settings()[name], _set(name), label=label,
                 help=_option_help(name), **kwargs)


def missing_weights(config: RunConfig) -> str | None:
    """Why a run of `config` cannot get its backbone's weights here, or None: weights=default needs torchvision's
    file in the hub folder (offline nothing downloads it). A look at the file's presence, no extraction."""
    if config.learner != "pretrained":
        return None
    from core.learners.pretrained import BACKBONES, offline_message, torch_hub_dir

    params = {**declared_defaults(LEARNERS[config.learner].parameters), **config.learner_params}
    if params["weights"] != "default" or (torch_hub_dir() / "checkpoints" / BACKBONES[params["backbone"]][2]).is_file():
        return None
    return offline_message(params["backbone"], "checked before Run; this machine may be offline")


def refuse_weights_outside_roots(config: RunConfig) -> None:
    """A served dashboard: a weights file (learner setting weights=PATH) is read only under its --data-root."""
    weights = config.learner_params.get("weights") if config.learner == "pretrained" else None
    if weights in (None, "default", "none"):
        return
    try:
        allowed_path(weights)
    except OutsideRootsError as exc:
        raise ConfigError(str(exc), "learner_params.weights") from None


def run_form() -> RunConfig | None:
    """Draw the settings; store and return the RunConfig, or None with the problem shown in place."""
    sb = st.sidebar
    ss = st.session_state
    s = settings()
    slots = {}
    sb.header("Comparison settings")
    if problems := ss.pop(URL_PROBLEMS, None):
        sb.warning(plain("Ignored in the link: " + "; ".join(problems)), icon=":material/link_off:")
    if problem := ss.pop("sidebar_open_error", None):
        sb.error(plain(problem))
    if (notice := ss.get(NOTICE)) is not None:
        if notice[1] == s:  # said while the loaded settings stand
            sb.info(plain(notice[0]), icon=":material/history:")
        else:
            del ss[NOTICE]
    slots["general"] = sb.empty()
    _choice(sb, "Dataset", "dataset", DATASETS.names(), help="Registered datasets; digits works offline.")
    options = dataset_option_names(s["dataset"])
    if "data_dir" in options:
        refuse_data_dir_outside_roots(sb)  # a served dashboard reads data only under its --data-root
        key = widget_key("data_dir")
        sb.text_input("Data directory", value=s["data_dir"], key=key, placeholder="folder holding the dataset files",
                      help="Where the dataset's files (or class folders) are; empty = the dataset's default.",
                      on_change=_from_widget("data_dir", key))
    if "image_size" in options:
        key = widget_key("image_size")
        sb.number_input("Image size (pixels, 0 = native)", min_value=0, max_value=IMAGE_SIZE_RANGE[1], step=8,
                        value=int(s["image_size"]), key=key,
                        on_change=_from_widget("image_size", key))
    slots["dataset"] = sb.empty()
    _choice(sb, "Learner", "learner", LEARNERS.names())
    slots["learner"] = sb.empty()
    _learner_settings(sb, s["learner"])
    slots["learner_params"] = sb.empty()
    key = widget_key("strategies")
    sb.multiselect("Strategies", STRATEGIES.names(), default=[n for n in s["strategies"] if n in STRATEGIES],
                   key=key, help="Every selected strategy starts from the same initial labels and model.",
                   on_change=_from_widget("strategies", key))
    slots["strategies"] = sb.empty()
    _option(sb, "mode", "Mode", radio={"pool": "pool (batches)", "stream": "stream (per sample)"})
    if s["mode"] == "stream":
        _option(sb, "stream_policy", "Stream policy")
        if s["stream_policy"] == "threshold":
            _option(sb, "threshold", "Uncertainty threshold")
        sb.caption(f"Stream mode supports: {', '.join(stream_strategies())}")
    slots["mode"] = sb.empty()

    sb.subheader("Budget")
    _option(sb, "initial", "Initial labelled samples")
    slots["initial"] = sb.empty()
    _option(sb, "batch", "Batch size (labels per round)")
    slots["batch"] = sb.empty()
    initial, batch = int(s["initial"]), int(s["batch"])
    subset = int(s["subset"]) or None
    options_json = json.dumps(dataset_options(s), sort_keys=True)
    available, n_classes = _available(s["dataset"], options_json, int(s["seed"]), float(s["test_size"]))
    pool_size = None if available is None else (available if subset is None else min(subset, available))
    low, high = budget_grid(initial, batch, pool_size)
    budget = shown_budget(s, pool_size)
    if low < high:
        key = f"{widget_key('budget')}_{low}_{high}_{batch}"  # new bounds: a new slider drawn at the user's budget
        sb.slider("Budget (total labels, initial set included)", min_value=low, max_value=high, step=batch,
                  value=budget, key=key, help="Rounds = (budget - initial) / batch + 1",
                  on_change=_from_widget("budget", key))
    elif low == high:  # a slider needs min < max
        sb.caption(f"Budget: {budget} labels, the only budget the pool allows")
    else:
        sb.caption(plain(f"Budget: the pool of {pool_size} samples has no room for a batch of {batch} after {initial} "
                         "initial labels: lower the initial labelled samples or the batch size."))
    rounds = (budget - initial) // batch + 1
    if low <= high:
        sb.caption(budget_caption(initial, batch, rounds) + (f" · pool of {pool_size} samples" if pool_size else ""))
    slots["budget"] = sb.empty()

    for name in s["strategies"]:
        if name in STRATEGIES and STRATEGIES[name].parameters:
            _strategy_settings(sb, name, slots)

    sb.subheader("Repeats")
    col1, col2 = sb.columns(2)
    _option(col1, "repeats", "Repeats")
    _option(col2, "seed", "Seed")
    slots["repeats"] = sb.empty()
    with sb.expander("Advanced"):
        key = widget_key("subset")
        st.number_input("Pool subset (0 = whole pool)", min_value=0, step=100, value=int(s["subset"]), key=key,
                        on_change=_from_widget("subset", key))
        _option(st, "test_size", "Test fraction (0 = pool accuracy only)")
        for name in extra_options():  # any other declared run option, from its declaration
            _option(st, name, RUN_OPTIONS[name].label or name.replace("_", " ").capitalize())
    slots["advanced"] = sb.empty()

    config = None
    try:
        config = config_of(s, pool_size)
        if n_classes is None:
            raise ConfigError(f"dataset {s['dataset']!r} could not be loaded: " + _load_error(config), "dataset")
        if available is not None:  # the same checks as the command line: pool size, classes, learner settings
            prepare(config, results.dataset_for(config))
        if problem := missing_weights(config):
            raise ConfigError(problem, "learner_params.weights")
        refuse_weights_outside_roots(config)
    except ParamError as exc:  # ConfigError, and a plug-in's own: `option` says which widget it is about
        error_slot(exc.option, slots).error(plain(str(exc)), icon=":material/error:")
        config = None
    if config is not None:  # what Run would start, readable by a person and a browser test
        with sb.expander(f"Run starts comparison {config.key()}"):
            st.json(config.to_dict())
    ss["config"] = config
    _sync_url(s)
    return config


def _sync_url(s: dict) -> None:
    """The URL's settings parameters to what differs from the defaults (a link or reload reproduces them);
    other parameters (a page's own) are left alone. Only changes are written."""
    wanted = to_query(s)
    current = st.query_params.to_dict()
    for name in current:
        if owns(name) and name not in wanted:
            del st.query_params[name]
    for name, value in wanted.items():
        if current.get(name) != value:
            st.query_params[name] = value


def _option_help(option: str) -> str:
    """A run option's help as declared in `RUN_OPTIONS`, as a sentence, with what is allowed."""
    c = RUN_OPTIONS[option]
    text = c.help[:1].upper() + c.help[1:] + "."
    return plain(f"{text}\n\nAllowed: {c.allowed()}. Default: {format_setting(c.default)}.")


def _learner_settings(sb, learner: str) -> None:
    """The learner's declared parameters as widgets in an expander, with what is not at its default."""
    declared = LEARNERS[learner].parameters
    if not declared:
        return
    values = plugin_values(settings(), "learner_params", learner)
    with sb.expander("Learner settings"):
        for name, constraint in declared.items():
            param_widget(st, name, constraint, learner_key(learner, name), values[name],
                         _set_param("learner_params", learner, name))
    changed = changed_params(settings(), "learner_params", learner)
    if changed:  # the expander may be closed: say what is not at its default
        sb.caption(plain("Changed: " + ", ".join(f"{k}={format_setting(v)}" for k, v in changed.items())))


def _strategy_settings(sb, strategy: str, slots: dict) -> None:
    """A selected strategy's declared parameters as widgets, each with an error slot under it."""
    cls = STRATEGIES[strategy]
    values = plugin_values(settings(), "strategy_params", strategy)
    sb.subheader(strategy, help=plain((cls.__doc__ or "").strip().split("\n")[0]) or None)
    for name, constraint in cls.parameters.items():
        param_widget(sb, name, constraint, strategy_key(strategy, name), values[name],
                     _set_param("strategy_params", strategy, name))
        slots[f"{strategy}.{name}"] = sb.empty()
    slots[("strategy", strategy)] = sb.empty()


def _load_error(config: RunConfig) -> str:
    try:
        results.dataset(config.dataset, json.dumps(config.dataset_options, sort_keys=True))
    except (FileNotFoundError, ValueError, OSError) as exc:
        return str(exc)
    return "unknown error"


def apply_config(config: dict, notice: str | None = None) -> bool:
    """Load a saved config into the sidebar on purpose (call from a callback, before the widgets draw).

    False, with the reason shown at the top of the sidebar, when the saved config is no longer
    valid (saved by an older version that accepted it, or edited by hand).
    """
    try:
        c = RunConfig.from_dict(config)
    except (ParamError, TypeError) as exc:
        st.session_state["sidebar_open_error"] = f"Cannot open this comparison: {exc}"
        return False
    load(c, notice or f"Loaded the settings of run {c.key()[:8]}")
    return True
