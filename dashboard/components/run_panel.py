"""Run / Cancel in the sidebar, and a progress bar per strategy above every page.

The run is a detached `python -m core run` process (core.engine.jobs); this panel only reads its
job record and the cache, so a reload or a second tab shows the same progress. While it
runs, a fragment polls once a second and reruns the page whenever a round lands.
"""

from __future__ import annotations

import streamlit as st

from core.engine import jobs
from core.engine.config import RunConfig
from dashboard.components import results
from dashboard.components.access import check_job_limit
from dashboard.components.widgets import plain

POLL_SECONDS = 1.0


def run_buttons(config: RunConfig | None) -> None:
    """Run (or resume) and Cancel, at the bottom of the sidebar."""
    sb = st.sidebar
    sb.divider()
    # The same two columns whether or not the settings are valid: Run keeps its place in the page, so a
    # rerun updates one button instead of drawing a second one beside the stale first.
    col1, col2 = sb.columns(2)
    if config is None:
        col1.button("Run", type="primary", disabled=True, key="sidebar_run", width="stretch")
        col2.button("Cancel", key="sidebar_cancel", width="stretch", disabled=True)
        return
    state = jobs.status(results.cache_root(), jobs.run_job_id(config)).state
    done = results.rounds_done(config)
    complete = all(n >= config.rounds for n in done.values())
    if col1.button("Run", type="primary", key="sidebar_run", width="stretch", disabled=state == jobs.RUNNING or complete,
                   help="All rounds of these settings are cached" if complete else "Run in the background; resumes "
                                                                                     "from the cache"):
        try:
            check_job_limit(results.cache_root())  # a served dashboard: at most --max-jobs runs and sweeps
            jobs.start_run(config, results.cache_root())
            st.rerun()
        except jobs.JobError as exc:  # shown until the next interaction (a rerun would wipe it at once)
            sb.error(plain(exc))
    if col2.button("Cancel", key="sidebar_cancel", width="stretch", disabled=state != jobs.RUNNING,
                   help="Stop after the round in progress; completed rounds stay cached"):
        jobs.cancel(results.cache_root(), jobs.run_job_id(config))
        st.rerun()
    if complete:
        sb.caption(f"All {config.rounds} rounds of every run are cached.")


def _snapshot(config: RunConfig) -> tuple[jobs.JobStatus, dict, tuple]:
    status = jobs.status(results.cache_root(), jobs.run_job_id(config))
    done = results.rounds_done(config)
    return status, done, (status.state, tuple(sorted(done.items())))


def progress_panel(config: RunConfig | None) -> None:
    """One progress bar per strategy while a run is going (or stopped early), above the page."""
    if config is None:
        return
    status, _, token = _snapshot(config)
    st.session_state["run_token"] = token
    running = status.state == jobs.RUNNING

    @st.fragment(run_every=POLL_SECONDS if running else None)
    def panel() -> None:
        status, done, token = _snapshot(config)
        if token != st.session_state.get("run_token"):
            st.session_state["run_token"] = token
            st.rerun(scope="app")  # a new round: redraw the page's charts from the cache
        total = config.rounds * config.repeats
        per_strategy = {s: sum(n for (name, _), n in done.items() if name == s) for s in config.strategies}
        finished = all(n >= total for n in per_strategy.values())
        if status.state == jobs.RUNNING or (not finished and any(per_strategy.values())):
            title = "Running" if status.state == jobs.RUNNING else "Partly cached (press Run to resume)"
            with st.container(border=True):
                st.markdown(f"**{title}** · {config.dataset}, {config.learner}, budget {config.budget} labels, "
                            f"{config.repeats} repeat(s)")
                cols = st.columns(min(3, len(per_strategy)))
                for i, (strategy, n) in enumerate(per_strategy.items()):
                    cols[i % len(cols)].progress(n / total, text=f"{strategy}: {n}/{total} rounds")
        if status.state == jobs.FAILED:  # the whole message, wrapped (a code block clipped the long ones)
            st.error(plain(f"The last run of these settings failed:\n{status.message}"), icon=":material/error:")
        elif status.state == jobs.CANCELLED and not finished and any(per_strategy.values()):
            # Only while something of it is cached: a deleted comparison has nothing left to resume.
            st.warning(plain(f"Cancelled: {status.message}."))

    panel()
