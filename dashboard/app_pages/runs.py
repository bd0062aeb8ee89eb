"""Runs: every comparison in the cache; open one into the other pages, or delete it."""

from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from core.engine import jobs
from core.engine.cache import Cache
from core.engine.config import ALIASES, RunConfig, format_params
from core.present.figures import format_setting, strategy_label
from dashboard.components.results import cache_root
from dashboard.components.sidebar import apply_config
from dashboard.components.widgets import plain

st.header("Cached runs")
cache = Cache(cache_root())
items = {item["key"]: item for item in cache.comparisons()}
for path, problem in cache.skipped.items():  # a damaged record is named, not silently missing from the list
    st.warning(plain(f"Skipped comparison record {path}: {problem}"), icon=":material/warning:")
if not items:
    st.info("The cache is empty: choose settings in the sidebar and press **Run**.")
    st.stop()


def rounds_done(item: dict) -> tuple[int, int]:
    rounds = int(item["config"].get("rounds", 0))
    done = sum(min(len(cache.run(unit["key"]).round_indices()), rounds) for unit in item.get("units", []))
    return done, rounds * len(item.get("units", []))


def status(key: str, item: dict) -> str:
    job = jobs.status(cache_root(), f"run-{key}")
    if job.state == jobs.RUNNING:
        return "running"
    saved = item.get("status", "")
    return "interrupted" if saved == "running" else saved


def saved_config(c: dict) -> RunConfig | None:
    """A saved config as today's RunConfig (older records' alpha/clusters/measure included), or None
    when it no longer validates: such a record is still listed, from its saved text."""
    try:
        return RunConfig.from_dict(c)
    except (ValueError, TypeError):  # ConfigError is a ValueError
        return None


def _saved_settings(c: dict) -> dict[str, dict]:
    """The strategy settings a record states, as saved (for a record that no longer validates)."""
    params = {k: dict(v) for k, v in (c.get("strategy_params") or {}).items() if isinstance(v, dict)}
    for alias, qualified in ALIASES.items():
        if alias in c:
            strategy, _, name = qualified.partition(".")
            params.setdefault(strategy, {}).setdefault(name, c[alias])
    return {s: p for s, p in params.items() if s in c.get("strategies", ()) and p}


def strategy_labels(c: dict) -> dict[str, str]:
    """Strategy -> its label: 'hybrid (alpha 0.5, clusters 5, measure entropy)', or the name when it has no parameters."""
    config = saved_config(c)
    if config is not None:
        return {s: strategy_label(config, s) for s in config.strategies}
    saved = _saved_settings(c)
    return {s: s + (f" ({', '.join(f'{k} {format_setting(v)}' for k, v in saved[s].items())})" if s in saved else "")
            for s in c.get("strategies", ())}


def stream_text(c: dict) -> str:
    """' · stream (threshold 0.7)' for a stream comparison, '' for a pool one."""
    if c.get("mode", "pool") == "pool":
        return ""
    policy = c.get("stream_policy", "")
    threshold = f" {c.get('threshold', 0):g}" if policy == "threshold" else ""
    return f" · stream ({policy}{threshold})"


def describe(c: dict) -> dict[str, str]:
    """What tells one comparison from another, one short text per column (settings at their default left out).

    Read from the saved dict, not a RunConfig: a record that no longer validates is listed too."""
    data = c["dataset"]
    if c.get("data_dir"):
        data += f" {Path(c['data_dir']).name}/"
    if c.get("image_size"):
        data += f" {c['image_size']}px"
    if c.get("subset"):
        data += f" · subset {c['subset']}"
    if c.get("test_size", 0.25) != 0.25:
        data += f" · test {c['test_size']:g}"
    params = format_params(c.get("learner_params") or {})
    labels = strategy_labels(c)
    batches = c["rounds"] - 1
    return {"data": data, "learner": c["learner"] + (f" ({params})" if params else ""),
            "strategies": ", ".join(c["strategies"]) + stream_text(c),
            "strategy settings": "; ".join(label for s, label in labels.items() if label != s),
            "strategies with settings": ", ".join(labels.values()) + stream_text(c),  # the Run choice's text
            "labels": f"{c['initial']} + {batches}×{c['batch']} = {c['initial'] + c['batch'] * batches}",
            "repeats": f"{c['repeats']} × seed {c['seed']}"}


rows = []
for key, item in items.items():
    done, total = rounds_done(item)
    state = status(key, item)
    rows.append({"updated": datetime.fromtimestamp(item.get("updated", 0)), **describe(item["config"]),
                 "status": state if done == total and state == "done" else f"{state} · {done}/{total} rounds",
                 "key": key})
table = pd.DataFrame(rows)[["updated", "data", "learner", "strategies", "strategy settings", "labels", "status",
                           "repeats", "key"]]


def _width(column: str, chars: int = 28) -> str | None:
    """Fit the content, but cap a long text (learner settings, many strategies) at 200 px; hover shows it all."""
    return "medium" if table[column].str.len().max() > chars else None


st.dataframe(table.drop(columns="key"), hide_index=True, key="runs_table", column_config={
    "updated": st.column_config.DatetimeColumn("updated", format="YYYY-MM-DD HH:mm",
                                               help="Last time a round of this comparison was written"),
    "data": st.column_config.TextColumn("data", width=_width("data"),
                                        help="Dataset, its folder, pool subset, test fraction"),
    "learner": st.column_config.TextColumn("learner", width=_width("learner"), help="Learner and its settings"),
    "strategies": st.column_config.TextColumn("strategies", width=_width("strategies")),
    "strategy settings": st.column_config.TextColumn("strategy settings", width=_width("strategy settings"),
                                                     help="The parameters of every strategy that has some"),
    "labels": st.column_config.TextColumn("labels", help="initial + batches × batch size = budget"),
    "status": st.column_config.TextColumn("status", help="Rounds cached / rounds of every run, unless done"),
    "repeats": st.column_config.TextColumn("repeats", help="Repeats (repeat r uses seed + r)"),
})


# Fixed for a comparison's life (no status, the creation date): the closed selectbox keeps the text it was given.
labels = {r["key"]: " · ".join([f"{datetime.fromtimestamp(items[r['key']].get('created', 0)):%Y-%m-%d %H:%M}",
                                r["data"], r["learner"], r["strategies with settings"],
                                f"{r['labels']} labels", r["repeats"], r["key"][:8]])
          for r in rows}
def choose() -> None:
    """Choosing a run loads its settings into the sidebar, on purpose, and the sidebar says so."""
    chosen = st.session_state.get("runs_choice")
    if chosen in items:
        apply_config(items[chosen]["config"], f"Loaded the settings of run {chosen[:8]}")


def open_run(key: str) -> None:
    if apply_config(items[key]["config"], f"Loaded the settings of run {key[:8]}"):
        st.session_state["open_page"] = "Compare"


def delete_run(key: str) -> None:
    """Delete, then forget the choice and the confirmation: neither may outlive the run."""
    try:
        cache.delete_comparison(key)
    except (ValueError, RuntimeError, OSError) as exc:  # core.engine.cache refuses while a process writes its runs
        st.session_state["runs_delete_error"] = f"Not deleted: {exc}"
        return
    for name in ("runs_choice", "runs_confirm"):
        st.session_state.pop(name, None)
    st.session_state["runs_deleted"] = key


config = st.session_state.get("config")
current = config.key() if config is not None and config.key() in labels else None  # the sidebar's, when listed
if "runs_choice" in st.session_state and st.session_state["runs_choice"] not in labels:
    del st.session_state["runs_choice"]
if deleted := st.session_state.pop("runs_deleted", None):
    st.success(f"Deleted run {deleted[:8]} and the rounds no other comparison uses.", icon=":material/delete:")
if problem := st.session_state.pop("runs_delete_error", None):
    st.error(plain(problem), icon=":material/error:")
key = st.selectbox("Run", list(labels), index=None if current is None else list(labels).index(current),
                   format_func=labels.get, key="runs_choice", on_change=choose,
                   placeholder="Choose a run to load its settings into the sidebar")
running = key is not None and status(key, items[key]) == "running"
col1, col2, col3 = st.columns([1, 1, 2])
col1.button("Open in the other pages", key="runs_open", type="primary", on_click=open_run, args=(key,),
            disabled=key is None, help="Put this run's settings into the sidebar and show it on the Compare page.")
confirm = col3.checkbox("Yes, delete this run's cached rounds", key="runs_confirm", disabled=running or key is None)
col2.button("Delete", key="runs_delete", disabled=running or not confirm or key is None, on_click=delete_run,
            args=(key,), help="Removes the comparison and the rounds no other comparison uses.")
if running:
    st.caption("This run is still computing: cancel it from the sidebar before deleting it.")
