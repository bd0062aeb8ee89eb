"""Confusion matrices: one heatmap per strategy at a chosen round, counts or row-normalised."""

import streamlit as st

from core.present.figures import MANY_CLASSES
from dashboard.components import charts
from dashboard.components.results import current_view
from dashboard.components.widgets import keep, keep_valid, round_slider

st.header("Confusion matrices")
view = current_view()
strategies = list(view.config.strategies)

rounds = view.common_rounds()
col1, col2, col3 = st.columns([2, 1, 1])
round_shown = round_slider(col1, "Round", "confusion_round", rounds,
                           help="Round 1 is the model fitted on the initial labelled set.")
repeats = [charts.ALL_REPEATS, *range(view.config.repeats)]
keep_valid("confusion_repeat", repeats)
repeat = col2.selectbox("Repeat", repeats, key="confusion_repeat",
                        format_func=lambda r: "all (summed)" if r == charts.ALL_REPEATS else f"repeat {r}")
normalize = col3.radio("Show", [False, True], key=keep("confusion_normalize"),
                       format_func={False: "counts", True: "row-normalised"}.get)
many = view.dataset.n_classes > MANY_CLASSES
st.session_state.setdefault("confusion_strategies", strategies)
keep_valid("confusion_strategies", strategies, many=True)
shown = st.multiselect(
    "Strategies", strategies, key="confusion_strategies",
    help=f"With {view.dataset.n_classes} classes each matrix gets a row of its own: leave out the strategies "
         "you do not need." if many else None)

st.plotly_chart(charts.confusion(view, round_shown, repeat, normalize, shown), key="confusion_chart")
if many:
    st.caption(f"{view.dataset.n_classes} classes: one row per class, every class named (long names are cut "
               "on the axes; hover a cell for the full true and predicted class and the count).")
