"""Compare: every strategy's learning curve, and the summary table."""

import streamlit as st

from core.analysis.labelling_time import has_times, minutes_sentence, minutes_summary
from core.analysis.metrics import partial_note
from core.analysis.verdicts import verdict_sentence
from dashboard.components import charts
from dashboard.components.results import current_view
from dashboard.components.widgets import keep, plain

st.header("Compare strategies")
view = current_view()

col1, col2 = st.columns([2, 1])
kind = col1.radio("Metric", ["accuracy", "macro_f1"], key=keep("compare_metric"), horizontal=True,
                  format_func={"accuracy": "Accuracy", "macro_f1": "Macro-F1"}.get)
target = col2.number_input("Target accuracy (labels or minutes to reach it)", min_value=0.0, max_value=1.0, step=0.01,
                           key=keep("compare_target"), format="%.2f")
metric = charts.metric_name(view, kind)
if metric.startswith("pool"):
    st.caption("No test split (test fraction 0): curves show the accuracy on the still-unlabelled pool.")

# Only a comparison on a labelling project has recorded times; elsewhere no minutes axis is faked.
axis = "labels"
if has_times(view.rounds):
    axis = st.radio("x axis", ["labels", "minutes"], key=keep("compare_axis", "labels"), horizontal=True,
                    format_func={"labels": "labels", "minutes": "labelling minutes"}.get,
                    help="Labelling minutes: the recorded decision times of the labels each strategy picked "
                         "(one decision counts at most the project's 99th percentile of decision times).")

if axis == "minutes":
    st.plotly_chart(charts.minutes_curves(view, metric), key="compare_minutes_curves")
    table = minutes_summary(view.rounds, metric, target)
    if sentence := minutes_sentence(table):
        st.info(plain(sentence[0].upper() + sentence[1:]), icon=":material/timer:")
    st.subheader("Summary in labelling minutes")
    st.dataframe(charts.minutes_display(table), hide_index=True, key="compare_minutes_summary")
    st.caption("AULC over minutes: area under each run's curve against labelling minutes on the range every run "
               "reached (interpolated between rounds, never extrapolated), normalised by that range; 95% t interval "
               "over repeats.")
else:
    st.plotly_chart(charts.learning_curves(view, metric), key="compare_curves")
    st.info(plain(verdict_sentence(view.rounds, metric)), icon=":material/gavel:")  # the evidence: Verdict page

    st.subheader("Summary")
    if note := partial_note(view.rounds):
        st.caption(plain(note))
    # Interval columns get room for "0.912 [0.905, 0.918]" (the default width cut it).
    st.dataframe(charts.summary_display(charts.summary(view, metric, target)), hide_index=True, key="compare_summary",
                 column_config={name: st.column_config.TextColumn(width="medium")
                                for name in ("Final (at labels)", "AULC", "AULC gain vs random")})
    st.caption("AULC: area under the learning curve, normalised by the label range. The gain over random pairs "
               "repeats with the same seed (same initial labels); 95% t intervals and a paired t-test p-value need "
               "2+ repeats.")
