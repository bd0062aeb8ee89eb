"""Sweep: vary some options of the sidebar's settings over a grid, launch, watch, compare.

The sweep runs as a detached `python -m core sweep` process (core.sweep.start_sweep); this
page reads its status file and the cache only, so a reload or a second tab shows the same
progress and results.
"""

import json
import os

import pandas as pd
import streamlit as st

from core import jobs
from core.cache import Cache
from core.config import RunConfig
from core.figures import sweep_heatmap
from core.learners import learner_param_names
from core.sweep import GridError, load_sweep_results, parse_grid, read_statuses, start_sweep, sweep_job_id
from dashboard.components import results
from dashboard.components.sidebar import apply_config
from dashboard.components.widgets import keep_valid

POLL_SECONDS = 1.0
SUGGESTED = {"alpha": "0.25, 0.5, 0.75, 1.0", "clusters": "1, 2, 3, 5", "batch": "5, 10, 20", "initial": "10, 20, 40",
             "measure": "entropy, least_confidence, smallest_margin", "seed": "0, 100, 200",
             "strategies": "random, entropy, hybrid", "learner": "logistic, label_spreading"}

st.header("Parameter sweep")
root = results.cache_root()
cache = Cache(root)
config: RunConfig | None = st.session_state.get("config")


def _values(text: str) -> list:
    out = []
    for item in (t.strip() for t in text.split(",")):
        if item:
            try:
                out.append(json.loads(item))
            except json.JSONDecodeError:
                out.append(item)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _state(item: dict) -> str:
    job = jobs.status(root, f"sweep-{item['key']}")
    if job.state == jobs.RUNNING:
        return "running"
    if item.get("status") == "running":  # its process is gone without saying so (killed, machine restarted)
        return "running" if _alive(int(item.get("pid", 0))) and job.state is None else "interrupted"
    return item.get("status", "")


# ----------------------------------------------------------------------------- define and launch

with st.expander("New sweep", expanded=not read_statuses(cache)):
    if config is None:
        st.info("Fix the settings in the sidebar first: they are the base every grid point starts from.")
    else:
        st.caption("Every grid point starts from the sidebar's settings; the options chosen here take each listed "
                   "value (comma-separated). Runs shared by several points (random ignores alpha) are computed once.")
        options = [*SUGGESTED] + [f"learner_params.{p}" for p in learner_param_names(config.learner)]
        keep_valid("sweep_options", options, many=True)
        st.session_state.setdefault("sweep_options", ["alpha", "clusters"])
        chosen = st.multiselect("Options to sweep", options, key="sweep_options")
        grid = {}
        cols = st.columns(max(1, min(3, len(chosen))))
        for i, name in enumerate(chosen):
            text = cols[i % len(cols)].text_input(name, value=SUGGESTED.get(name, ""), key=f"sweep_values_{name}")
            grid[name] = _values(text)
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("Name", key="sweep_name", placeholder="e.g. hybrid alpha x clusters")
        executor = c2.radio("Executor", ["local", "ray"], key="sweep_executor", horizontal=True,
                            help="local: worker processes on this machine. ray: tasks on a running Ray cluster "
                                 "(`ray start --head`); the cache directory must be shared by every node.")
        if executor == "local":
            n_jobs = c3.number_input("Worker processes", 1, 256, value=os.cpu_count() or 1, key="sweep_jobs")
            address = "auto"
        else:
            n_jobs = None
            address = c3.text_input("Ray address", value="auto", key="sweep_ray_address")
        skip = st.checkbox("Skip grid points the engine rejects (e.g. clusters > round(alpha x batch))", value=True,
                           key="sweep_skip_invalid")
        base = {k: v for k, v in config.to_dict().items() if k not in grid}
        if any(k.startswith("learner_params.") for k in grid):
            base["learner_params"] = {k: v for k, v in config.learner_params.items() if f"learner_params.{k}" not in grid}
        sweep = None
        try:
            sweep = parse_grid({"name": name, "grid": grid}, base=base, skip_invalid=skip)
        except GridError as exc:
            st.error(str(exc), icon=":material/error:")
        if sweep is not None:
            runs = sum(len(p.config.specs()) for p in sweep.points)
            st.caption(f"{len(sweep.points)} grid points x strategies x repeats = {runs} runs before sharing"
                       + (f"; {len(sweep.skipped)} invalid point(s) skipped" if sweep.skipped else ""))
        running = sweep is not None and jobs.status(root, sweep_job_id(sweep)).state == jobs.RUNNING
        if st.button("Launch sweep", type="primary", key="sweep_launch", disabled=sweep is None or running,
                     help="Runs in the background and resumes from the cache; already cached runs are not recomputed."):
            try:
                start_sweep(sweep, root, executor=executor, jobs=n_jobs, ray_address=address)
            except jobs.JobError as exc:
                st.error(str(exc))
            st.session_state["sweep_choice"] = sweep.key
            st.rerun()

# ----------------------------------------------------------------------------- progress and results

statuses = {item["key"]: item for item in read_statuses(cache)}
if not statuses:
    st.info("No sweep yet: define one above, or run `python -m core sweep --grid FILE` with this cache directory.")
    st.stop()


def _title(item: dict) -> str:
    """The sweep's name, else what it varies (a `--vary` sweep has no name), e.g. 'alpha x clusters'."""
    grid = item.get("definition", {}).get("grid", {})
    return item.get("name") or " x ".join(grid) or item["key"]


labels = {k: f"{_title(item)} · {item['done']}/{item['total']} runs · {_state(item)} · {k[:8]}"
          for k, item in statuses.items()}
keep_valid("sweep_choice", list(labels))
key = st.selectbox("Sweep", list(labels), format_func=labels.get, key="sweep_choice")


@st.fragment(run_every=POLL_SECONDS if _state(statuses[key]) == "running" else None)
def progress() -> None:
    item = next((i for i in read_statuses(cache) if i["key"] == key), statuses[key])
    state = _state(item)
    token = (item["done"], state)
    if st.session_state.get("sweep_token") not in (None, token):
        st.session_state["sweep_token"] = token
        st.rerun(scope="app")  # a run finished: redraw the heatmap and tables
    st.session_state["sweep_token"] = token
    eta = item.get("eta_seconds")
    eta_text = "" if state != "running" or eta is None else f" · ETA {int(eta) // 60}m{int(eta) % 60:02d}s"
    st.progress(item["done"] / max(1, item["total"]),
                text=f"{item['done']}/{item['total']} runs ({item['cached']} from the cache, {item['failed']} failed) "
                     f"· {state}{eta_text}")
    c1, c2 = st.columns([1, 4])
    if c1.button("Cancel", key="sweep_cancel", disabled=state != "running",
                 help="Stop the sweep; completed rounds stay cached and a relaunch resumes."):
        jobs.cancel(root, f"sweep-{key}")
        st.rerun(scope="app")
    if state == "interrupted":
        c2.caption("Interrupted: launch the same sweep again to resume from the cache.")
    for unit, error in item.get("errors", {}).items():
        st.error(f"run {unit}: {error}")


progress()
item = statuses[key]


@st.cache_data(max_entries=4, show_spinner="Reading the sweep's runs from the cache...")
def _results(definition_json: str, cache_dir: str, token: tuple) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    sweep = parse_grid(json.loads(definition_json))
    result = load_sweep_results(sweep, Cache(cache_dir), load=results.dataset_for)
    return result.runs, result.best, result.metric


definition = item["definition"]
runs, best, metric = _results(json.dumps(definition, sort_keys=True), root, (item["done"], item.get("updated")))
axes = [a for a in definition["grid"] if a != "strategies"]
if runs.empty:
    st.info("No run of this sweep has finished yet.")
    st.stop()

st.subheader("AULC heatmap")
if axes:
    default = definition.get("heatmap", {})
    c1, c2, c3 = st.columns(3)
    keep_valid("sweep_x", axes)
    x = c1.selectbox("x axis", axes, index=axes.index(default["x"]) if default.get("x") in axes else 0, key="sweep_x")
    y_options = ["(none)"] + [a for a in axes if a != x]
    keep_valid("sweep_y", y_options)
    y_default = default.get("y") if default.get("y") in y_options else (y_options[1] if len(y_options) > 1 else "(none)")
    y = c2.selectbox("y axis", y_options, index=y_options.index(y_default), key="sweep_y")
    strategies = list(dict.fromkeys(runs.strategy))
    keep_valid("sweep_strategies", strategies, many=True)
    if not st.session_state.get("sweep_strategies"):
        st.session_state["sweep_strategies"] = strategies
    shown = c3.multiselect("Strategies", strategies, key="sweep_strategies")
    st.plotly_chart(sweep_heatmap(runs, x, None if y == "(none)" else y, metric=metric, strategies=shown),
                    key="sweep_heatmap")
else:
    st.caption("Only the strategies were swept: see the tables below.")

st.subheader("Best configuration per strategy")
st.caption(f"Highest mean AULC of {metric.replace('_', ' ')} over repeats; aulc_ci_width is the width of its 95% CI.")
st.dataframe(best[[*axes, "strategy", "repeats", "aulc", "aulc_ci_low", "aulc_ci_high", "aulc_ci_width", "final"]],
             hide_index=True, key="sweep_best")
with st.expander(f"All {len(runs)} runs (grid point x strategy)"):
    st.dataframe(runs.drop(columns=["config_key"]), hide_index=True, key="sweep_runs")
    st.download_button("Download runs.csv", runs.to_csv(index=False), file_name="sweep_runs.csv", key="sweep_download")

st.subheader("Open a grid point")
points = {p["index"]: p for p in item["points"]}
point = st.selectbox("Grid point", list(points), key="sweep_point",
                     format_func=lambda i: ", ".join(f"{k}={v}" for k, v in points[i]["params"].items()) or str(i))


def _open(points: dict) -> None:
    apply_config(points[st.session_state["sweep_point"]]["config"])  # the choice at click time
    st.session_state["open_page"] = "Compare"


st.button("Open in the other pages", key="sweep_open", on_click=_open, args=(points,),
          help="Put this grid point's settings into the sidebar and show it on the Compare page.")
