"""Verdict: which strategy to use on this data and budget, and how sure that is (core.analysis.verdicts)."""

import math

import pandas as pd
import streamlit as st

from core.present import verdict_figures as vf
from core.analysis import verdicts as v
from core.engine.cache import Cache
from core.analysis.metrics import curve_table
from dashboard.components import charts
from dashboard.components.results import cache_root, current_view
from dashboard.components.widgets import keep, keep_valid, plain

st.header("Verdict")
view = current_view()
rounds = view.rounds
strategies = list(dict.fromkeys(rounds["strategy"]))

col1, col2, col3, col4 = st.columns([2, 2, 2, 2])
kind = col1.radio("Metric", ["accuracy", "macro_f1"], key=keep("verdict_metric", "accuracy"), horizontal=True,
                  format_func={"accuracy": "Accuracy", "macro_f1": "Macro-F1"}.get)
keep_valid("verdict_baseline", strategies)
keep("verdict_baseline", "random" if "random" in strategies else strategies[0])
baseline = col2.selectbox("Baseline", strategies, key="verdict_baseline",
                          help="Every other strategy is compared with this one, repeat by repeat (same seed, "
                               "same initial labels).")
cuts_text = col3.text_input("Budget regime cut points (labels)", key=keep("verdict_cuts", ""),
                            placeholder="thirds; e.g. 60, 90",
                            help="Label counts that split the label range into regimes; empty = low / middle / high thirds.")
gain = col4.number_input("AULC gain to detect (0 = the observed one only)", min_value=0.0, max_value=0.5, step=0.005,
                         format="%.3f", key=keep("verdict_gain", 0.0),
                         help="Also say how many repeats a gain of this size needs, at the observed spread.")
metric = charts.metric_name(view, kind)
subtitle = charts.settings_line(view)

try:
    cuts = v.parse_cuts(cuts_text)
    v.regime_scores(rounds, metric, cuts)  # checks the cut points against the label range
except ValueError as exc:
    col3.warning(plain(f"{exc}; showing thirds."), icon=":material/warning:")
    cuts = None

# ---------------------------------------------------------------- the verdict
verdict = v.verdict(rounds, metric, baseline, cuts=cuts)
show = {"recommend": st.success, "none": st.warning}.get(verdict.kind, st.info)
show(plain(verdict.sentence), icon=":material/gavel:")
repeats = v.repeats_table(rounds, metric, baseline, gain=gain or None)
repeats_line = v.repeats_sentence(repeats, baseline)
if len(repeats) and repeats["repeats"].max() < 2:
    st.warning(plain(repeats_line), icon=":material/warning:")
else:
    st.markdown(plain(repeats_line))
if verdict.evidence is not None and len(verdict.evidence):
    with st.expander("Evidence: AULC gain over the baseline per strategy"):
        e = verdict.evidence
        st.dataframe(pd.DataFrame({
            "Strategy": e["strategy"], "Repeats": e["repeats"],
            f"AULC gain vs {baseline}": [f"{g:+.3f}" for g in e["gain"]],
            "95% CI": ["" if not math.isfinite(lo) else f"[{lo:+.3f}, {hi:+.3f}]" for lo, hi in zip(e.ci_low, e.ci_high)],
            "p (paired t-test)": ["" if not math.isfinite(p) else f"{p:.4f}" for p in e["p_value"]],
            f"p ({v.CORRECTION})": ["" if not math.isfinite(p) else f"{p:.4f}" for p in e["p_holm"]],
        }), hide_index=True, key="verdict_evidence")
        st.caption(f"{v.CORRECTION} correction over the {len(e)} strategies compared with {baseline}; "
                   "a strategy is recommended when its corrected p < 0.05 and its gain is positive.")

# ---------------------------------------------------------------- difference view
st.subheader(f"Difference to {baseline}")
diffs = v.difference_table(rounds, metric, baseline)
if len(diffs):
    st.plotly_chart(vf.difference_figure(diffs, metric, baseline, subtitle=subtitle), key="verdict_difference")
    st.caption("Per label count: mean over repeats of (strategy − baseline) in the same repeat (same seed, same initial "
               "labels), with its 95% t interval from 4 repeats up (from 2-3 it spans most of the axis). A band clear of the dashed zero line is a real difference at that "
               "label count (before correcting for the many label counts; the matrix below corrects).")
else:
    st.info(f"Only {baseline} has results: nothing to compare with it yet.")

# ---------------------------------------------------------------- curves and ceiling
st.subheader("Learning curves and the ceiling")
config = view.config
ceiling_frame, ceiling_note = None, None
if metric.startswith("pool"):
    ceiling_note = "No ceiling: without a test split an all-labels fit has nothing left to be evaluated on."
else:
    cheap = v.ceiling_is_cheap(config)
    ceiling_frame = None if cheap else v.cached_ceiling(config, view.dataset, Cache(cache_root()))
    pressed = False
    if not cheap and ceiling_frame is None:
        ceiling_note = (f"The ceiling of the {config.learner} learner fits it on all pool labels of each of the "
                        f"{config.repeats} repeats: press the button to compute it (kept in the cache).")
        pressed = st.button("Compute the ceiling", key="verdict_ceiling", icon=":material/vertical_align_top:")
    if cheap or pressed:
        try:
            with st.spinner(f"Fitting {config.learner} on every pool label, once per repeat (kept in the cache)..."):
                ceiling_frame = v.ceiling(config, view.dataset, Cache(cache_root()))
            ceiling_note = None
        except ValueError as exc:  # a learner setting the whole pool rules out (LearnerError is a ValueError)
            ceiling_note = f"No ceiling: fitting {config.learner} on all pool labels failed ({exc})."
ceiling = v.ceiling_summary(ceiling_frame, metric)
st.plotly_chart(vf.curves_with_ceiling(curve_table(rounds, metric), metric, ceiling,
                                       title=f"{vf.metric_label(metric)} vs labels, with the all-labels ceiling",
                                       subtitle=subtitle, rounds=rounds), key="verdict_curves")
if ceiling is not None:
    st.caption(f"Dashed: the same learner fitted on all {ceiling['n_labeled']} pool labels of each repeat "
               f"({ceiling['mean']:.3f} on the test split, mean of {ceiling['repeats']} repeats). The gap to it is what "
               "labelling the whole pool would still buy.")
elif ceiling_note:
    st.caption(plain(ceiling_note))

# ---------------------------------------------------------------- pairwise matrix and ranks
st.subheader("Pairwise penalty matrix and mean rank")
matrix = v.pairwise_matrix(rounds, metric)
if len(matrix.strategies) >= 2:
    st.plotly_chart(vf.penalty_heatmap(matrix, subtitle=subtitle), key="verdict_matrix")
    st.caption(f"Cell (row, column): the share of label counts at which the row strategy is significantly better than "
               f"the column strategy — {matrix.correction} (Lüth et al. 2023). "
               + " ".join(matrix.notes))
scores = v.aulc_by_repeat(rounds, metric)
ranks, tau, pairs = v.rank_table(scores)
st.dataframe(pd.DataFrame({
    "Strategy": ranks["strategy"], "Mean rank (1 = best)": ranks["mean_rank"].round(2),
    "Rank sd": ranks["rank_sd"].round(2), "Best in": [f"{b}/{n} repeats" for b, n in zip(ranks.best_in, ranks.repeats)],
    "Mean AULC": ranks["aulc"].round(3)}), hide_index=True, key="verdict_ranks")
st.caption("Ranked by AULC within each repeat, then averaged. " + v.tau_sentence(tau, pairs, len(scores.dropna())))

# ---------------------------------------------------------------- budget regimes
st.subheader("Budget regimes")
st.markdown(plain(v.regime_sentence(rounds, metric, cuts)))
regimes = v.regime_table(rounds, metric, cuts, baseline)
if len(regimes):
    st.plotly_chart(vf.regime_figure(regimes, metric, baseline, subtitle=subtitle), key="verdict_regimes")
    st.dataframe(pd.DataFrame({
        "Regime": regimes["regime"], "Strategy": regimes["strategy"],
        "AULC": [f"{a:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) else "")
                 for a, lo, hi in zip(regimes.aulc, regimes.ci_low, regimes.ci_high)],
        "Rank": regimes["rank"],
        f"Gain vs {baseline}": ["" if not math.isfinite(g) else f"{g:+.3f}" + (
            f" [{lo:+.3f}, {hi:+.3f}]" if math.isfinite(lo) else "")
            for g, lo, hi in zip(regimes.gain, regimes.gain_ci_low, regimes.gain_ci_high)],
        "p": ["" if not math.isfinite(p) else f"{p:.3f}" for p in regimes["p_value"]],
    }), hide_index=True, key="verdict_regime_table")
    st.caption("AULC over each regime's label range (the curve between its ends, divided by its width); the p-value "
               "is the paired t-test of the regime AULC against the baseline, uncorrected.")

# ---------------------------------------------------------------- repeats needed
st.subheader("Enough repeats?")
if len(repeats) and repeats["repeats"].max() >= 2:
    st.plotly_chart(vf.power_figure(repeats, baseline, subtitle=subtitle), key="verdict_power")
    table = {"Strategy": repeats["strategy"], "Repeats": repeats["repeats"],
             f"AULC difference to {baseline}": [f"{g:+.3f}" for g in repeats["gain"]],
             "Sd of differences": [f"{s:.4f}" for s in repeats["sd"]],
             "Effect size d": [f"{d:.2f}" for d in repeats["effect_size"]],
             "Repeats needed (observed)": [v.needed_text(n) for n in repeats["needed_observed"]]}
    if gain:
        table[f"Repeats needed (gain {gain:.3f})"] = [v.needed_text(n) for n in repeats["needed_chosen"]]
    st.dataframe(pd.DataFrame(table), hide_index=True, key="verdict_repeats")
    st.caption("Repeats a two-sided paired t-test (alpha 0.05) needs for 80% power, from the spread of the "
               "per-repeat AULC differences (noncentral t). Run more repeats with the sidebar's **Repeats**: "
               "the repeats already cached are reused.")
else:
    st.caption("With a single repeat there is no spread to estimate: raise **Repeats** in the sidebar.")
