"""Export: each chart as the pages show it (their current settings), as PNG, SVG or
self-contained HTML; the tables as CSV; one HTML report with the settings as a table."""

import streamlit as st

from core.present import figures
from core.engine.features import NoStoredState
from dashboard.components import charts, maps
from dashboard.components.results import cache_root, current_view

KEPT = "widgets_kept"  # widgets.keep's memory of the values of widgets not on this page
# A deferred download button shows a spinner in place of its icon while the file renders.
RENDER_HELP = "Rendered with Chromium when clicked: 4-8 seconds, the button spins meanwhile."

st.header("Export")
view = current_view()
c = view.config
shown = charts.shown_settings(view, charts.page_state(st.session_state, st.session_state.get(KEPT)))
compare, confusion, query, uncertain, verdict = (shown[p] for p in ("compare", "confusion", "map", "uncertain",
                                                                   "verdict"))
metric = charts.metric_name(view, compare["metric"])
summary = charts.summary(view, metric, target=compare["target"])

choice = maps.choice_for(view, query["repeat"], query["space"], query["feature_round"], cache_root())
try:
    features, features_file = maps.features_of(choice, view.dataset, cache_root())
except (NoStoredState, ValueError):
    choice = maps.PIXEL_CHOICE
    features, features_file = maps.features_of(choice, view.dataset, cache_root())
coordinates = maps.coordinates(view.dataset, c.dataset, c.dataset_options, cache_root(), choice.space,
                               features=features, features_file=features_file)
metric_label = figures.METRIC_LABELS.get(metric, metric).split(" (")[0]

chart_list = [
    (f"Learning curves ({metric_label})", "learning_curves", charts.learning_curves(view, metric), compare),
    ("Confusion matrices", "confusion",
     charts.confusion(view, confusion["round"], confusion["repeat"], confusion["normalize"], confusion["strategies"]),
     confusion),
    (f"Query map ({coordinates.method}, {choice.label})", "query_map",
     maps.labelled_axes(charts.query_map(view, coordinates.coords, coordinates.method, choice.label,
                                         query["strategies"], query["repeat"], query["round"]),
                        coordinates.method, choice.label), query),
]
if view.results(uncertain["strategy"], uncertain["repeat"]):
    most, least = charts.uncertain_images(view, uncertain["strategy"], uncertain["repeat"], uncertain["round"],
                                          uncertain["count"])
    chart_list += [(f"Most uncertain images ({uncertain['strategy']})", "uncertain_most", most, uncertain),
                   (f"Least uncertain images ({uncertain['strategy']})", "uncertain_least", least, uncertain)]
verdict_sentence, verdict_charts = charts.verdict_section(view, verdict, cache_root())
chart_list += [(f"Verdict: {title}", slug, fig, verdict) for title, slug, fig in verdict_charts]

can_render = figures.browser_available()
if not can_render:
    st.warning("No Chrome or Chromium browser was found, so PNG and SVG export are unavailable "
               "(install Debian's `chromium`: `apt-get install -y chromium`). HTML export below works offline.",
               icon=":material/warning:")

st.subheader("Charts")
st.caption("Each chart as its page shows it now (change a page's settings there, then export here). PNG and SVG "
           "are rendered on demand with kaleido (a few seconds each); HTML files are self-contained.")
for title, slug, fig, page in chart_list:
    cols = st.columns([3, 1, 1, 1])
    cols[0].markdown(f"**{title}**")
    cols[0].caption(f"{page.page}: " + " · ".join(f"{k} {v}" for k, v in charts.describe(page, view).items()))
    if can_render:
        cols[1].download_button("PNG", data=lambda fig=fig: figures.figure_image(fig, "png"), file_name=f"{slug}.png",
                                mime="image/png", key=f"export_{slug}_png", on_click="ignore", icon=":material/image:",
                                help=RENDER_HELP)
        cols[2].download_button("SVG", data=lambda fig=fig: figures.figure_image(fig, "svg"), file_name=f"{slug}.svg",
                                mime="image/svg+xml", key=f"export_{slug}_svg", on_click="ignore",
                                icon=":material/draw:", help=RENDER_HELP)
    cols[3].download_button("HTML", data=lambda fig=fig: figures.figure_html(fig), file_name=f"{slug}.html",
                            mime="text/html", key=f"export_{slug}_html", on_click="ignore", icon=":material/code:")

st.subheader("Tables and report")
cols = st.columns(3)
cols[0].download_button("rounds.csv", data=view.rounds.to_csv(index=False), file_name="rounds.csv", mime="text/csv",
                        key="export_rounds_csv", on_click="ignore", help="One row per strategy, repeat and round.")
cols[1].download_button("summary.csv", data=summary.to_csv(index=False), file_name="summary.csv", mime="text/csv",
                        key="export_summary_csv", on_click="ignore",
                        help=f"Final value, AULC, gain over random ({metric_label}, target {compare['target']:.2f}).")
report_title = f"Active-learning comparison: {charts.settings_line(view)}"
cols[2].download_button(
    "report.html", key="export_report", on_click="ignore", mime="text/html", file_name="report.html",
    data=lambda: figures.html_report(
        report_title, [(t, f, charts.describe(p, view)) for t, _, f, p in chart_list], config=charts.settings_table(view),
        tables=[(f"Summary ({metric_label}, target {compare['target']:.2f})", charts.summary_display(summary))],
        paragraphs=[(f"Verdict (against {verdict['baseline']})", verdict_sentence)]),
    help="Every chart above, the verdict, the summary table and the settings in one offline HTML file.")
