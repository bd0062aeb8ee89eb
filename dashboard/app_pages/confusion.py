"""Confusion matrices: one heatmap per strategy at a chosen round, counts or row-normalised."""

import streamlit as st

from dashboard.components import charts
from dashboard.components.results import current_view
from dashboard.components.widgets import keep_valid, round_slider

st.header("Confusion matrices")
view = current_view()

rounds = view.common_rounds()
col1, col2, col3 = st.columns([2, 1, 1])
round_shown = round_slider(col1, "Round", "confusion_round", rounds,
                           help="Round 1 is the model fitted on the initial labelled set.")
repeats = [charts.ALL_REPEATS, *range(view.config.repeats)]
keep_valid("confusion_repeat", repeats)
repeat = col2.selectbox("Repeat", repeats, key="confusion_repeat",
                        format_func=lambda r: "all (summed)" if r == charts.ALL_REPEATS else f"repeat {r}")
normalize = col3.radio("Show", [False, True], key="confusion_normalize",
                       format_func={False: "counts", True: "row-normalised"}.get)

st.plotly_chart(charts.confusion(view, round_shown, repeat, normalize), key="confusion_chart")
