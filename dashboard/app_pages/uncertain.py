"""Uncertain images: the most and least uncertain unlabelled pool images of one round."""

import streamlit as st

from dashboard.components import charts
from dashboard.components.results import current_view
from dashboard.components.widgets import keep, keep_valid, round_slider

st.header("Most and least uncertain images")
view = current_view()
strategies = list(view.config.strategies)

col1, col2, col3, col4 = st.columns([2, 2, 1, 1])
keep_valid("uncertain_strategy", strategies)
keep("uncertain_strategy", charts.default_uncertain_strategy(strategies))  # random scores nothing it uses
keep_valid("uncertain_repeat", range(view.config.repeats))
strategy = col1.selectbox("Strategy", strategies, key="uncertain_strategy",
                          help="Random scores nothing it uses: its images are ranked by the entropy of its model.")
repeat = col3.selectbox("Repeat", range(view.config.repeats), key="uncertain_repeat")
rounds = len(view.results(strategy, repeat))
if rounds == 0:
    st.info("No completed round for this strategy and repeat yet.")
    st.stop()
round_shown = round_slider(col2, "Round", "uncertain_round", rounds)
count = col4.selectbox("Images", [8, 16, 24, 32], key=keep("uncertain_count", 16))

most, least = charts.uncertain_images(view, strategy, repeat, round_shown, count)
st.plotly_chart(most, key="uncertain_most")
st.plotly_chart(least, key="uncertain_least")
if strategy == "random":
    st.caption("Random ignores uncertainty; the scores shown are the entropy of its model's predictions.")
st.caption("Scores have three significant digits (1.2e-05 is tiny, not zero). Hover an image for its sample "
           "index and full class names.")
