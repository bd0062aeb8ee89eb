"""Query map: the pool in 2-D, with each strategy's queried samples coloured by round."""

import streamlit as st

from core.projection import PIXELS
from dashboard.components import charts, maps
from dashboard.components.results import cache_root, current_view
from dashboard.components.widgets import keep_valid, round_slider

st.header("Query map")
view = current_view()

coordinates = maps.coordinates(view.dataset, view.config.dataset, view.config.dataset_options, cache_root(), PIXELS)
if coordinates.pending:
    st.info("Showing a PCA map while the UMAP map is computed in the background "
            "(once per dataset; the first time in a fresh environment takes up to ~30 s).", icon=":material/hourglass:")

    @st.fragment(run_every=1.0)
    def wait_for_umap() -> None:
        if not maps.coordinates(view.dataset, view.config.dataset, view.config.dataset_options, cache_root(),
                                PIXELS).pending:
            st.rerun(scope="app")

    wait_for_umap()
elif coordinates.error:
    st.warning(f"UMAP failed, showing PCA instead:\n\n```\n{coordinates.error}\n```")

col1, col2, col3 = st.columns([2, 2, 1])
keep_valid("map_strategies", view.config.strategies, many=True)
st.session_state.setdefault("map_strategies", list(view.config.strategies))
strategies = col1.multiselect("Strategies", view.config.strategies, key="map_strategies")
up_to = round_slider(col2, "Show picks up to round", "map_round", view.common_rounds())
keep_valid("map_repeat", range(view.config.repeats))
repeat = col3.selectbox("Repeat", range(view.config.repeats), key="map_repeat",
                        help="Each repeat has its own pool (split seed = seed + repeat).")

st.plotly_chart(charts.query_map(view, coordinates.coords, coordinates.method, "raw pixels", strategies or [],
                                 repeat, up_to), key="map_chart")
st.caption("Faint points: the unlabelled pool, coloured by true class. Diamonds: samples a strategy queried, "
           "coloured by the round that picked them. Hover for the sample index, true label and round.")
