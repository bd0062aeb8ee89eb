"""Export: each chart as PNG, SVG or self-contained HTML; the tables as CSV; one HTML report."""

import streamlit as st

from core import figures
from core.projection import PIXELS
from dashboard.components import charts, maps
from dashboard.components.results import cache_root, current_view

st.header("Export")
view = current_view()
c = view.config
metric = charts.metric_name(view, "accuracy")
rounds = view.common_rounds()
summary = charts.summary(view, metric, target=float(st.session_state["compare_target"]))
coordinates = maps.coordinates(view.dataset, c.dataset, c.dataset_options, cache_root(), PIXELS)
focus = next((s for s in c.strategies if s != "random"), c.strategies[0])

chart_list = [
    ("Learning curves (accuracy)", "learning_curves", charts.learning_curves(view, metric)),
    ("Learning curves (macro-F1)", "learning_curves_f1", charts.learning_curves(view, charts.metric_name(view, "macro_f1"))),
    (f"Confusion matrices, round {rounds}", "confusion", charts.confusion(view, max(rounds, 1), charts.ALL_REPEATS, False)),
    (f"Query map ({coordinates.method})", "query_map",
     charts.query_map(view, coordinates.coords, coordinates.method, "raw pixels", c.strategies, 0, max(rounds, 1))),
    (f"Most uncertain images ({focus})", "uncertain_images",
     charts.uncertain_images(view, focus, 0, max(rounds, 1), 16)[0]),
]

can_render = figures.browser_available()
if not can_render:
    st.warning("No Chrome or Chromium browser was found, so PNG and SVG export are unavailable "
               "(install Debian's `chromium`: `apt-get install -y chromium`). HTML export below works offline.",
               icon=":material/warning:")

st.subheader("Charts")
st.caption("PNG and SVG are rendered on demand with kaleido (a few seconds each); HTML files are self-contained.")
for title, slug, fig in chart_list:
    cols = st.columns([3, 1, 1, 1])
    cols[0].markdown(title)
    if can_render:
        cols[1].download_button("PNG", data=lambda fig=fig: figures.figure_image(fig, "png"), file_name=f"{slug}.png",
                                mime="image/png", key=f"export_{slug}_png", on_click="ignore", icon=":material/image:")
        cols[2].download_button("SVG", data=lambda fig=fig: figures.figure_image(fig, "svg"), file_name=f"{slug}.svg",
                                mime="image/svg+xml", key=f"export_{slug}_svg", on_click="ignore")
    cols[3].download_button("HTML", data=lambda fig=fig: figures.figure_html(fig), file_name=f"{slug}.html",
                            mime="text/html", key=f"export_{slug}_html", on_click="ignore")

st.subheader("Tables and report")
cols = st.columns(3)
cols[0].download_button("rounds.csv", data=view.rounds.to_csv(index=False), file_name="rounds.csv", mime="text/csv",
                        key="export_rounds_csv", on_click="ignore", help="One row per strategy, repeat and round.")
cols[1].download_button("summary.csv", data=summary.to_csv(index=False), file_name="summary.csv", mime="text/csv",
                        key="export_summary_csv", on_click="ignore", help="Final value, AULC, gain over random.")
report_title = f"Active-learning comparison: {c.dataset}, {c.learner}, budget {c.budget} labels"
cols[2].download_button(
    "report.html", key="export_report", on_click="ignore", mime="text/html", file_name="report.html",
    data=lambda: figures.html_report(report_title, [(t, f) for t, _, f in chart_list], config=c.to_dict(),
                                     tables=[("Summary", charts.summary_display(summary))]),
    help="Every chart above, the summary table and the configuration in one offline HTML file.")
