"""Sweep: vary some options of the sidebar's settings over a grid, launch, watch, compare.

The sweep runs as a detached `python -m core sweep` process (core.sweep.start_sweep); this
page reads its status file and the cache only, so a reload or a second tab shows the same
progress and results. A sweep launched here is listed at once (from its grid file and job,
"starting") until its process writes the status file, and followed once a second while it runs.
"""

import json
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from core.analysis.paradigm import paradigm_sentence, paradigm_table, summary_columns
from core.engine import jobs
from core.engine.cache import Cache
from core.engine.config import RunConfig
from core.present.figures import sweep_heatmap
from core.learners import LEARNERS
from core.params import Interval, Options
from core.strategies import STRATEGIES
from core.sweep import GridError, load_sweep_results, parse_grid, read_statuses, start_sweep, sweep_job_id
from dashboard.components import results
from dashboard.components.access import check_job_limit
from dashboard.components.sidebar import apply_config
from dashboard.components.widgets import keep, keep_valid, plain

POLL_SECONDS = 1.0
RUN_SUGGESTED = {"batch": "5, 10, 20", "initial": "10, 20, 40", "seed": "0, 100, 200",
                 "strategies": "random, entropy, hybrid", "learner": "logistic, label_spreading"}


def suggested(constraint) -> str:
    """A starting list of values for a declared parameter: some choices, or points across its range."""
    if isinstance(constraint, Options):
        return ", ".join(constraint.choices[:3])
    if not isinstance(constraint, Interval):
        return str(constraint.default)
    if constraint.type is float and constraint.low is not None and constraint.high is not None:
        import numpy as np

        points = np.linspace(constraint.low, constraint.high, 5)
        points = [p for p in points if constraint.valid(float(p))][-4:]
        return ", ".join(f"{p:g}" for p in points)
    default = constraint.default
    values = sorted({v for v in (1, default // 2, default, 2 * default) if constraint.valid(v)} if constraint.type is int
                    else {default / 2, default, 2 * default})
    return ", ".join(f"{v:g}" for v in values)

st.header("Parameter sweep")
root = results.cache_root()
cache = Cache(root)
config: RunConfig | None = st.session_state.get("config")
ss = st.session_state


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
    """running, starting (launched, no status file yet), done, failed, cancelled or interrupted.

    Asking for the job's status also reaps its process once it has ended (core.engine.jobs).
    """
    job = jobs.status(root, f"sweep-{item['key']}")
    if job.state == jobs.RUNNING:
        return "starting" if item.get("status") == "starting" else "running"
    if item.get("status") == "running":  # its process is gone without saying so (killed, machine restarted)
        return "running" if _alive(int(item.get("pid", 0))) and job.state is None else "interrupted"
    return item.get("status", "")


def _sweeps() -> dict[str, dict]:
    """Every sweep, newest first: its status file, or for one launched from this page that has not
    written it yet (or failed before it could), a stand-in made of its grid file and job record."""
    items = {item["key"]: item for item in read_statuses(cache)}
    for grid_file in (Path(root) / "sweeps" / "grids").glob("*.json"):
        if grid_file.stem in items:
            continue
        job = jobs.status(root, f"sweep-{grid_file.stem}")
        if job.job is None:
            continue
        try:
            definition = json.loads(grid_file.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            continue
        items[grid_file.stem] = {
            "key": grid_file.stem, "name": definition.get("name", ""), "definition": definition,
            "status": "starting" if job.state == jobs.RUNNING else job.state, "message": job.message,
            "updated": job.job.started, "done": 0, "total": 0, "cached": 0, "failed": 0, "points": [], "errors": {}}
    return dict(sorted(items.items(), key=lambda kv: kv[1].get("updated", 0), reverse=True))


sweeps = _sweeps()


# ----------------------------------------------------------------------------- define and launch

with st.expander("New sweep", expanded=not sweeps):
    if config is None:
        st.info("Fix the settings in the sidebar first: they are the base every grid point starts from.")
    else:
        st.caption("Every grid point starts from the sidebar's settings; the options chosen here take each listed "
                   "value (comma-separated). Runs shared by several points (random ignores alpha) are computed once.")
        # Every declared parameter of the chosen strategies and learner can be swept (core.params declarations).
        suggestions = {
            **{f"{s}.{p}": suggested(c) for s in config.strategies for p, c in STRATEGIES[s].parameters.items()},
            **RUN_SUGGESTED,
            **{f"learner_params.{p}": suggested(c) for p, c in LEARNERS[config.learner].parameters.items()}}
        options = list(suggestions)
        chosen = st.multiselect("Options to sweep", options, key=keep_valid(
            "sweep_options", options, many=True, default=[o for o in ("hybrid.alpha", "hybrid.clusters") if o in options]))
        grid = {}
        cols = st.columns(max(1, min(3, len(chosen))))
        for i, name in enumerate(chosen):
            text = cols[i % len(cols)].text_input(name, key=keep(f"sweep_values_{name}", suggestions.get(name, "")))
            grid[name] = _values(text)
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("Name", key=keep("sweep_name", ""), placeholder="e.g. hybrid alpha x clusters")
        executor = c2.radio("Executor", ["local", "ray"], key=keep("sweep_executor"), horizontal=True,
                            help="local: worker processes on this machine. ray: tasks on a running Ray cluster "
                                 "(`ray start --head`); the cache directory must be shared by every node.")
        if executor == "local":
            n_jobs = c3.number_input("Worker processes", 1, 256, key=keep("sweep_jobs", os.cpu_count() or 1))
            address = "auto"
        else:
            n_jobs = None
            address = c3.text_input("Ray address", key=keep("sweep_ray_address", "auto"))
        skip = st.checkbox("Skip grid points the engine rejects (e.g. clusters > round(alpha x batch))",
                           key=keep("sweep_skip_invalid", True))
        base = {k: v for k, v in config.to_dict().items() if k not in grid}
        base["learner_params"] = {k: v for k, v in config.learner_params.items() if f"learner_params.{k}" not in grid}
        base["strategy_params"] = {s: {p: v for p, v in params.items() if f"{s}.{p}" not in grid}
                                   for s, params in config.strategy_params.items()}
        sweep = None
        try:
            sweep = parse_grid({"name": name, "grid": grid}, base=base, skip_invalid=skip)
        except GridError as exc:
            st.error(plain(exc), icon=":material/error:")
        if sweep is not None:
            runs = sum(len(p.config.specs()) for p in sweep.points)
            st.caption(f"{len(sweep.points)} grid points x strategies x repeats = {runs} runs before sharing"
                       + (f"; {len(sweep.skipped)} invalid point(s) skipped" if sweep.skipped else ""))
        running = sweep is not None and jobs.status(root, sweep_job_id(sweep)).state == jobs.RUNNING
        if st.button("Launch sweep", type="primary", key="sweep_launch", disabled=sweep is None or running,
                     help="Runs in the background and resumes from the cache; already cached runs are not recomputed."):
            try:
                check_job_limit(root)  # a served dashboard: at most --max-jobs runs and sweeps
                start_sweep(sweep, root, executor=executor, jobs=n_jobs, ray_address=address)
            except (jobs.JobError, OSError) as exc:
                st.error(plain(f"The sweep could not be started: {exc}"), icon=":material/error:")
            else:
                ss["sweep_choice"] = sweep.key  # listed at once ("starting") and followed below
                st.rerun()

# ----------------------------------------------------------------------------- progress and results

if not sweeps:
    st.info("No sweep yet: define one above, or run `python -m core sweep --grid FILE` with this cache directory.")
    st.stop()


states = {k: _state(item) for k, item in sweeps.items()}
LIVE = ("running", "starting")


def _label(k: str) -> str:
    """Fixed for the sweep's life (its progress is below): a label that changes would go stale in the
    closed selectbox, which keeps the text it was given."""
    grid = sweeps[k].get("definition", {}).get("grid", {})
    values = " · ".join(f"{name} {', '.join(map(str, v)) if isinstance(v, list) else v}" for name, v in grid.items())
    return " · ".join(part for part in (sweeps[k].get("name"), values, k[:8]) if part)


key = st.selectbox("Sweep", list(sweeps), format_func=_label, key=keep_valid("sweep_choice", list(sweeps)))
ss["sweep_token"] = (key, sweeps[key]["done"], states[key])


@st.fragment(run_every=POLL_SECONDS if states[key] in LIVE else None)
def progress() -> None:
    """The chosen sweep's progress, read again every second while it starts or runs."""
    item = _sweeps().get(key, sweeps[key])
    state = _state(item)
    token = (key, item["done"], state)
    if token != ss.get("sweep_token"):
        ss["sweep_token"] = token
        st.rerun(scope="app")  # it started, a run finished or it ended: redraw the list, heatmap and tables
    if state == "starting":
        st.progress(0.0, text="starting: loading the data and planning the runs...")
        return
    if not item.get("points"):  # its process ended before writing a status file
        st.error(f"The sweep ended before its first run ({state}):\n\n```\n{item.get('message', '')}\n```")
        return
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
        st.error(plain(f"run {unit}: {error}"))


progress()
item = sweeps[key]
if not item.get("points"):  # no status file yet (or never): nothing to tabulate
    st.stop()


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
    x_default = default["x"] if default.get("x") in axes else axes[0]
    x = c1.selectbox("x axis", axes, key=keep_valid("sweep_x", axes, default=x_default))
    y_options = ["(none)"] + [a for a in axes if a != x]
    y_default = default.get("y") if default.get("y") in y_options else (y_options[1] if len(y_options) > 1 else "(none)")
    y = c2.selectbox("y axis", y_options, key=keep_valid("sweep_y", y_options, default=y_default))
    strategies = list(dict.fromkeys(runs.strategy))
    # Remember what the user hid, not what was shown: a strategy whose first result lands while the
    # sweep is watched appears (a kept list of shown strategies locked out every later one).
    hidden = ss.setdefault("sweep_hidden", {}).get(key, [])
    widget = f"sweep_strategies_{key[:8]}_{'_'.join(strategies)}"  # new strategies: a new widget, drawn from `hidden`

    def _hide(available: tuple = tuple(strategies), widget: str = widget, sweep: str = key) -> None:
        earlier = [s for s in ss["sweep_hidden"].get(sweep, []) if s not in available]
        ss["sweep_hidden"][sweep] = earlier + [s for s in available if s not in ss[widget]]

    shown = c3.multiselect("Strategies", strategies, default=[s for s in strategies if s not in hidden], key=widget,
                           on_change=_hide)
    skipped = [s["params"] for s in item.get("skipped", []) if isinstance(s, dict) and "params" in s]
    st.plotly_chart(sweep_heatmap(runs, x, None if y == "(none)" else y, metric=metric, strategies=shown,
                                  skipped=skipped),
                    key="sweep_heatmap")
else:
    st.caption("Only the strategies were swept: see the tables below.")

st.subheader("Best configuration per strategy")
st.caption(f"Highest mean AULC of {metric.replace('_', ' ')} over repeats; aulc_ci_width is the width of its 95% CI.")
st.dataframe(best[[*axes, "strategy", "repeats", "aulc", "aulc_ci_low", "aulc_ci_high", "aulc_ci_width", "final"]],
             hide_index=True, key="sweep_best")
paradigm = paradigm_table(runs)
if not paradigm.empty:  # the learner or its head was swept: the paradigm's gain next to the strategy's
    st.subheader("What the paradigm buys, and what the strategy buys")
    st.markdown(paradigm_sentence(paradigm))
    st.caption("Per strategy: each learner setting's AULC gain over the baseline setting, and the strategy's gain "
               "over random under that setting; both paired over repeats with the same seed (the same initial "
               "labels), with 95% t intervals and Holm-corrected paired t-test p-values, as on the Verdict page.")
    st.dataframe(paradigm[summary_columns(paradigm)], hide_index=True, key="sweep_paradigm")
with st.expander(f"All {len(runs)} runs (grid point x strategy)"):
    st.dataframe(runs.drop(columns=["config_key"]), hide_index=True, key="sweep_runs")
    st.download_button("Download runs.csv", runs.to_csv(index=False), file_name="sweep_runs.csv", key="sweep_download")

st.subheader("Open a grid point")
points = {p["index"]: p for p in item["points"]}
point = st.selectbox("Grid point", list(points), key=keep_valid("sweep_point", list(points)),
                     format_func=lambda i: ", ".join(f"{k}={v}" for k, v in points[i]["params"].items()) or str(i))


def _open(points: dict) -> None:
    point = ss["sweep_point"]  # the choice at click time
    if apply_config(points[point]["config"], f"Loaded the settings of sweep grid point {point}"):
        st.session_state["open_page"] = "Compare"


st.button("Open in the other pages", key="sweep_open", on_click=_open, args=(points,),
          help="Put this grid point's settings into the sidebar and show it on the Compare page.")
