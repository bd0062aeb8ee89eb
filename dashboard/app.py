"""Entry point: `streamlit run dashboard/app.py`. Shared sidebar, session defaults, pages."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # `streamlit run` puts dashboard/ first on the path, not the repository
    sys.path.insert(0, str(_ROOT))

import streamlit as st  # noqa: E402

from dashboard.components import results  # noqa: E402
from dashboard.components.access import gate, local_only, only_label_page  # noqa: E402
from dashboard.components.run_panel import progress_panel, run_buttons  # noqa: E402
from dashboard.components.sidebar import run_form  # noqa: E402
from dashboard.components.widgets import restore_kept  # noqa: E402

st.set_page_config(page_title="Active-learning strategy comparison", page_icon=":material/query_stats:", layout="wide")

DEFAULTS = {"cache_dir": results.default_cache_dir(), "compare_target": 0.9}  # the sidebar's: settings.py
local_only()  # a server nobody chose to expose serves only this machine
role = gate()  # a served dashboard: no app for a session without its link's token
restore_kept()  # first: page widgets get back the values a run that did not draw them dropped
for key, value in DEFAULTS.items():
    st.session_state.setdefault(key, value)

PAGES = _ROOT / "dashboard" / "app_pages"
only_label_page(role, PAGES / "label.py")  # the labeller token opens the Label page and nothing else
pages = [
    st.Page(PAGES / "compare.py", title="Compare", icon=":material/show_chart:", default=True),
    st.Page(PAGES / "confusion.py", title="Confusion matrices", icon=":material/grid_on:"),
    st.Page(PAGES / "query_map.py", title="Query map", icon=":material/scatter_plot:"),
    st.Page(PAGES / "uncertain.py", title="Uncertain images", icon=":material/image_search:"),
    st.Page(PAGES / "verdict.py", title="Verdict", icon=":material/gavel:"),
    st.Page(PAGES / "sweep.py", title="Sweep", icon=":material/tune:"),
    st.Page(PAGES / "label.py", title="Label", icon=":material/label:"),
    st.Page(PAGES / "runs.py", title="Runs", icon=":material/history:"),
    st.Page(PAGES / "export.py", title="Export", icon=":material/download:"),
]
page = st.navigation(pages)

if target := st.session_state.pop("open_page", None):  # set by the Runs page's Open button
    st.switch_page(next(p for p in pages if p.title == target))

config = run_form()
run_buttons(config)
progress_panel(config)
page.run()
