"""Query map: the pool in 2-D, with each strategy's queried samples coloured by round.

The map's feature space is the raw pixels, or (runs whose learner stores its weights, the
CNN) the features one run's network gives every image in a chosen round.
"""

import streamlit as st

from core.features import NoStoredState
from dashboard.components import charts, maps
from dashboard.components.results import cache_root, current_view
from dashboard.components.widgets import keep_valid, round_slider

st.header("Query map")
view = current_view()
config = view.config

col1, col2, col3 = st.columns([2, 2, 1])
keep_valid("map_strategies", config.strategies, many=True)
st.session_state.setdefault("map_strategies", list(config.strategies))
strategies = col1.multiselect("Strategies", config.strategies, key="map_strategies")
up_to = round_slider(col2, "Show picks up to round", "map_round", view.common_rounds())
keep_valid("map_repeat", range(config.repeats))
repeat = col3.selectbox("Repeat", range(config.repeats), key="map_repeat",
                        help="Each repeat has its own pool (split seed = seed + repeat).")

# Learner feature spaces: one per strategy whose run (this repeat) stored its learner's state.
run_keys = {s.strategy: s.key(view.dataset.fingerprint) for s in config.specs() if s.repeat == repeat}
with_state = {s: rounds for s in config.strategies
              if (rounds := maps.learner_rounds(cache_root(), run_keys[s], view.done.get((s, repeat), 0)))}
learner_name = "CNN" if config.learner == "cnn" else config.learner
space_options = ["Raw pixels"] + [f"{learner_name} features of the {s} run" for s in with_state]
col4, col5 = st.columns([3, 2])
keep_valid("map_space", space_options)
space_label = col4.selectbox(
    "Feature space", space_options, key="map_space",
    help="Raw pixels, or the penultimate-layer features the network of one run gives every image "
         "after that round's training (computed once from the stored weights, then cached)."
    if with_state else "Only raw pixels: this run's learner stores no weights (CNN runs do).")
choice = maps.PIXEL_CHOICE
if space_label != "Raw pixels":
    strategy = list(with_state)[space_options.index(space_label) - 1]
    rounds = [r + 1 for r in with_state[strategy]]
    keep_valid("map_feature_round", rounds)
    st.session_state.setdefault("map_feature_round", rounds[-1])
    shown = col5.selectbox("Features from round", rounds, key="map_feature_round",
                           help="The network fitted in round N, i.e. the one that chose round N's picks.")
    choice = maps.learner_choice(run_keys[strategy], shown - 1, strategy, config.learner)

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

fig = charts.query_map(view, coordinates.coords, coordinates.method, choice.label, strategies or [], repeat, up_to)
# The vertical axis title names the feature space too (one per row, room for it; x titles would collide).
short = choice.label.split(" (")[0]
fig.for_each_xaxis(lambda axis: axis.update(title_text=f"{coordinates.method} 1") if axis.title.text else None)
fig.for_each_yaxis(lambda axis: axis.update(title_text=f"{coordinates.method} 2 of {short}")
                   if axis.title.text else None)
st.plotly_chart(fig, key="map_chart")
st.caption(f"Feature space: **{choice.label}**. Faint points: the unlabelled pool, coloured by true class. "
           "Diamonds: samples a strategy queried, coloured by the round that picked them. "
           "Hover for the sample index, true label and round."
           + (" Every panel uses the same map: one run's network, so the other strategies' picks are shown "
              "in that network's feature space." if choice.run_key else ""))
