"""Runs: every comparison in the cache; open one into the other pages, or delete it."""

from datetime import datetime

import pandas as pd
import streamlit as st

from core import jobs
from core.cache import Cache
from core.config import format_params
from dashboard.components.results import cache_root
from dashboard.components.sidebar import apply_config
from dashboard.components.widgets import keep_valid

st.header("Cached runs")
cache = Cache(cache_root())
items = {item["key"]: item for item in cache.comparisons()}
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


rows = []
for key, item in items.items():
    c = item["config"]
    done, total = rounds_done(item)
    budget = c["initial"] + c["batch"] * (c["rounds"] - 1)
    rows.append({"dataset": c["dataset"], "learner": c["learner"],
                 "learner settings": format_params(c.get("learner_params") or {}), "strategies": ", ".join(c["strategies"]),
                 "mode": c["mode"], "initial": c["initial"], "batch": c["batch"], "budget": budget,
                 "alpha": c["alpha"] if "hybrid" in c["strategies"] else None,
                 "clusters": c["clusters"] if "hybrid" in c["strategies"] else None,
                 "repeats": c["repeats"], "seed": c["seed"], "rounds done": f"{done}/{total}",
                 "status": status(key, item), "updated": datetime.fromtimestamp(item.get("updated", 0)),
                 "key": key})
table = pd.DataFrame(rows)
st.dataframe(table.drop(columns="key"), hide_index=True, key="runs_table",
             column_config={"updated": st.column_config.DatetimeColumn("updated", format="YYYY-MM-DD HH:mm")})

labels = {r["key"]: f"{r['updated']:%Y-%m-%d %H:%M} · {r['dataset']} · {r['strategies']} · budget {r['budget']} "
                    f"· {r['repeats']} repeat(s) · {r['status']}" for r in rows}
keep_valid("runs_choice", list(labels))
key = st.selectbox("Run", list(labels), format_func=labels.get, key="runs_choice")
running = status(key, items[key]) == "running"


def open_run(item: dict) -> None:
    apply_config(item["config"])
    st.session_state["open_page"] = "Compare"


col1, col2, col3 = st.columns([1, 1, 2])
col1.button("Open in the other pages", key="runs_open", type="primary", on_click=open_run, args=(items[key],),
            help="Put this run's settings into the sidebar and show it on the Compare page.")
confirm = col3.checkbox("Yes, delete this run's cached rounds", key="runs_confirm", disabled=running)
if col2.button("Delete", key="runs_delete", disabled=running or not confirm,
               help="Removes the comparison and the rounds no other comparison uses."):
    cache.delete_comparison(key)
    st.session_state.pop("runs_confirm", None)
    st.rerun()
if running:
    st.caption("This run is still computing: cancel it from the sidebar before deleting it.")
