"""Query map: the pool in 2-D, the initial labelled set, and each strategy's labelled picks coloured by round.

The map's feature space is the raw pixels, or (runs whose learner stores its weights, the
CNN) the features one run's network gives every image in a chosen round.
"""

import streamlit as st

from core.engine.features import NoStoredState
from dashboard.components import charts, maps
from dashboard.components.results import cache_root, current_view
from dashboard.components.widgets import keep_valid, round_slider

st.header("Query map")
with st.spinner("Reading the comparison...", show_time=True):
    view = current_view()
config = view.config

col1, col2, col3 = st.columns([2, 2, 1])
st.session_state.setdefault("map_strategies", list(config.strategies))
keep_valid("map_strategies", config.strategies, many=True)
strategies = col1.multiselect("Strategies", config.strategies, key="map_strategies")
keep_valid("map_repeat", range(config.repeats))
repeat = col3.selectbox("Repeat", range(config.repeats), key="map_repeat",
                        help="Each repeat has its own pool (split seed = seed + repeat).")
labelled = charts.labelled_rounds(view, strategies, repeat)
if labelled < 1:
    col2.caption("Picks: none labelled yet (round 1 fits on the initial set; its picks are labelled for round 2).")
    up_to = 0
else:
    up_to = round_slider(col2, "Show picks of rounds 1 to", "map_round", labelled,
                         help="Picks that a later round fitted on. The last round's picks are not shown: the budget "
                              "is spent, so no round ever labels them.")

# Feature spaces: pixels, a frozen backbone's, and one per strategy whose run (this repeat) stored its learner's state.
# The first visit computes pixel features and a PCA map (UMAP goes to the background): a spinner at once, not
# a page that stays blank while it works.
with st.spinner("Preparing the map: features and a first PCA projection...", show_time=True):
    spaces = maps.feature_spaces(view, repeat, cache_root())
    col4, col5 = st.columns([3, 2])
    keep_valid("map_space", list(spaces))
    space_label = col4.selectbox(
        "Feature space", list(spaces), key="map_space",
        help="Raw pixels, a pretrained backbone's features (the same in every round; from the feature store), "
             "or the penultimate-layer features the network of one run gives every image after that round's "
             "training (computed once from the stored weights, then cached)."
        if len(spaces) > 1 else "Only raw pixels: this run's learner stores no weights (CNN runs do).")
    feature_round = None
    if spaces[space_label][1]:  # per-round features (a network's); raw pixels and a frozen backbone have none
        rounds = spaces[space_label][1]
        keep_valid("map_feature_round", rounds)
        st.session_state.setdefault("map_feature_round", rounds[-1])
        feature_round = col5.selectbox("Features from round", rounds, key="map_feature_round",
                                       help="The network fitted in round N, i.e. the one that chose round N's picks.")
    choice = maps.choice_for(view, repeat, space_label, feature_round, cache_root())

    try:
        with st.spinner(f"Computing {choice.label} (once; cached on disk)..."):
            features, features_file = maps.features_of(choice, view.dataset, cache_root())
    except (NoStoredState, ValueError) as exc:
        st.warning(f"Cannot show {choice.label}: {exc}. Showing raw pixels.")
        choice = maps.PIXEL_CHOICE
        features, features_file = maps.features_of(choice, view.dataset, cache_root())

    coordinates = maps.coordinates(view.dataset, config.dataset, config.dataset_options, cache_root(), choice.space,
                                   features=features, features_file=features_file)

if coordinates.pending:
    st.info(f"Showing a PCA map of the {choice.label} while the UMAP map is computed in the background "
            "(once per feature space; the first time in a fresh environment takes up to ~30 s).",
            icon=":material/hourglass:")

    @st.fragment(run_every=1.0)
    def wait_for_umap() -> None:
        if not maps.pending(view.dataset, cache_root(), choice.space):
            st.rerun(scope="app")

    wait_for_umap()
elif coordinates.error:
    st.warning(f"UMAP failed, showing PCA instead:\n\n```\n{coordinates.error}\n```")

with st.spinner("Drawing the map...", show_time=True):
    fig = maps.labelled_axes(charts.query_map(view, coordinates.coords, coordinates.method, choice.label, strategies or [],
                                              repeat, up_to), coordinates.method, choice.label)
st.plotly_chart(fig, key="map_chart")
st.caption(f"Feature space: **{choice.label}**. Faint points: the pool, coloured by true class (click a class in the "
           "legend to hide it). Open black circles: the initial labelled set. Diamonds: picks that were labelled, "
           "coloured by the round that picked them; the last round's picks are left out (never labelled). "
           "Hover for the sample index, true label and round."
           + (" Every panel uses the same map: one run's network, so the other strategies' picks are shown "
              "in that network's feature space." if choice.run_key else ""))
