"""The sidebar shared by every page: the comparison's settings, validated as they change.

Widget values live in `st.session_state` under `sidebar_*` keys (defaults set once in
app.py). An invalid combination is explained right under the widget it concerns, and
`st.session_state["config"]` is then None so no page runs or reads anything.
"""

from __future__ import annotations

import json

import streamlit as st

from core.config import (MODES, STREAM_POLICIES, STREAM_STRATEGIES, ConfigError, RunConfig,
                         absolute_data_dir, format_params, parse_params)
from core.datasets import DATASETS, dataset_option_names
from core.learners import LEARNERS
from core.runner import pool_candidates, prepare
from core.strategies import MEASURES, STRATEGIES
from dashboard.components import results
from dashboard.components.widgets import plain

MAX_ROUNDS = 200  # the budget slider's upper end, in rounds: keeps it usable on 50k-image pools

# The first word of a ConfigError names the option; show it under that widget.
_SLOT_FOR_OPTION = {"dataset": "dataset", "data_dir": "dataset", "image_size": "dataset", "learner": "learner",
                    "learner_params": "learner", "unknown": "strategies", "strategies": "strategies",
                    "initial": "initial", "batch": "batch", "rounds": "budget", "budget": "budget", "alpha": "alpha",
                    "clusters": "clusters", "measure": "measure", "threshold": "mode", "stream_policy": "mode",
                    "repeats": "repeats", "seed": "repeats", "subset": "advanced", "test_size": "advanced"}


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
    sb.selectbox("Dataset", DATASETS.names(), key="sidebar_dataset", help="Registered datasets; digits works offline.")
    options = dataset_option_names(ss["sidebar_dataset"])
    if "data_dir" in options:
        sb.text_input("Data directory", key="sidebar_data_dir", placeholder="folder holding the dataset files",
                      help="Where the dataset's files (or class folders) are; empty = the dataset's default.")
    if "image_size" in options:
        sb.number_input("Image size (pixels, 0 = native)", min_value=0, max_value=512, step=8, key="sidebar_image_size")
    slots["dataset"] = sb.empty()
    sb.selectbox("Learner", LEARNERS.names(), key="sidebar_learner")
    sb.text_input("Learner settings", key="sidebar_learner_params", placeholder="e.g. epochs=5, lr=0.001",
                  help="NAME=VALUE pairs separated by commas, as `--learner-param` on the command line; "
                       "empty = the learner's defaults.")
    slots["learner"] = sb.empty()
    sb.multiselect("Strategies", STRATEGIES.names(), key="sidebar_strategies",
                   help="Every selected strategy starts from the same initial labels and model.")
    slots["strategies"] = sb.empty()
    sb.radio("Mode", MODES, key="sidebar_mode", horizontal=True,
             format_func={"pool": "pool (batches)", "stream": "stream (per sample)"}.get,
             help="Pool: pick the best batch from all unlabelled samples. Stream: decide as each sample arrives.")
    if ss["sidebar_mode"] == "stream":
        sb.selectbox("Stream policy", STREAM_POLICIES, key="sidebar_stream_policy")
        if ss["sidebar_stream_policy"] == "threshold":
            sb.slider("Uncertainty threshold", 0.0, 1.0, step=0.05, key="sidebar_threshold")
        sb.caption(f"Stream mode supports: {', '.join(STREAM_STRATEGIES)}")
    slots["mode"] = sb.empty()

    sb.subheader("Budget")
    sb.number_input("Initial labelled samples", min_value=1, max_value=100_000, step=1, key="sidebar_initial")
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

    if "hybrid" in ss["sidebar_strategies"]:
        sb.subheader("Hybrid")
        sb.slider("Alpha (share of the batch chosen by uncertainty)", 0.05, 1.0, step=0.05, key="sidebar_alpha",
                  help="The top round(alpha*batch) uncertain samples are clustered; the rest of the batch is "
                       "filled with samples nearest the cluster centres. Alpha 1 = plain uncertainty sampling.")
        slots["alpha"] = sb.empty()
        sb.number_input("Number of clusters", min_value=1, max_value=1000, step=1, key="sidebar_clusters")
        slots["clusters"] = sb.empty()
        sb.selectbox("Uncertainty measure", sorted(MEASURES), key="sidebar_measure")
        slots["measure"] = sb.empty()

    sb.subheader("Repeats")
    col1, col2 = sb.columns(2)
    col1.number_input("Repeats", min_value=1, max_value=50, step=1, key="sidebar_repeats",
                      help="Each repeat uses seed + r for its split, initial labels and model.")
    col2.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="sidebar_seed")
    slots["repeats"] = sb.empty()
    with sb.expander("Advanced"):
        st.number_input("Pool subset (0 = whole pool)", min_value=0, step=100, key="sidebar_subset")
        st.slider("Test fraction (0 = pool accuracy only)", 0.0, 0.9, step=0.05, key="sidebar_test_size")
    slots["advanced"] = sb.empty()

    config = None
    try:
        config = RunConfig(
            dataset=ss["sidebar_dataset"], **_dataset_options(options), learner=ss["sidebar_learner"],
            learner_params=parse_params(ss["sidebar_learner_params"]),
            strategies=tuple(ss["sidebar_strategies"]), mode=ss["sidebar_mode"], initial=initial, batch=batch,
            rounds=rounds, alpha=float(ss["sidebar_alpha"]), clusters=int(ss["sidebar_clusters"]),
            measure=ss["sidebar_measure"], stream_policy=ss["sidebar_stream_policy"],
            threshold=float(ss["sidebar_threshold"]), repeats=int(ss["sidebar_repeats"]), seed=int(ss["sidebar_seed"]),
            subset=subset, test_size=float(ss["sidebar_test_size"]))
        if n_classes is None:
            raise ConfigError(f"dataset {ss['sidebar_dataset']!r} could not be loaded: " + _load_error(config))
        if available is not None:  # the same checks as the command line: pool size, classes, learner settings
            prepare(config, results.dataset_for(config))
    except ConfigError as exc:
        message = str(exc)
        slot = slots.get(_SLOT_FOR_OPTION.get(message.split()[0].strip(":"), ""), None) or slots["advanced"]
        slot.error(plain(message), icon=":material/error:")
        config = None
    ss["config"] = config
    return config


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
    except (ConfigError, TypeError) as exc:
        ss["sidebar_open_error"] = f"Cannot open this comparison: {exc}"
        return False
    ss.update(sidebar_dataset=c.dataset, sidebar_data_dir=c.data_dir or "", sidebar_image_size=c.image_size or 0,
              sidebar_learner=c.learner, sidebar_learner_params=format_params(c.learner_params),
              sidebar_strategies=list(c.strategies), sidebar_mode=c.mode,
              sidebar_initial=c.initial, sidebar_batch=c.batch, sidebar_budget=c.budget, sidebar_alpha=float(c.alpha),
              sidebar_clusters=c.clusters, sidebar_measure=c.measure, sidebar_stream_policy=c.stream_policy,
              sidebar_threshold=float(c.threshold), sidebar_repeats=c.repeats, sidebar_seed=c.seed,
              sidebar_subset=c.subset or 0, sidebar_test_size=float(c.test_size))
    return True
