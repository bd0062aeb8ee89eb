"""The Verdict page through streamlit's AppTest, against the small cached comparison."""

from __future__ import annotations

import shutil
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.learners import LEARNERS
from tests.dashboard.conftest import SMALL_SETTINGS, SMALL_STATE

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"
PAGE = ROOT / "dashboard" / "app_pages" / "verdict.py"


def _source() -> str:
    """app.py, with the Verdict page in its list when app.py does not list it yet."""
    source = APP.read_text()
    if "verdict.py" not in source:
        source = source.replace('    st.Page(PAGES / "export.py"',
                                '    st.Page(PAGES / "verdict.py", title="Verdict", icon=":material/gavel:"),\n'
                                '    st.Page(PAGES / "export.py"', 1)
    return source.replace("Path(__file__).resolve().parents[1]", f"Path({str(ROOT)!r})")


def _verdict_page(cache_root, **state) -> AppTest:
    at = AppTest.from_string(_source(), default_timeout=60)
    at.session_state["cache_dir"] = str(cache_root)
    for key, value in {**SMALL_STATE, **state}.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(str(PAGE))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _texts(at: AppTest) -> str:
    return "\n".join(e.value for kind in ("success", "warning", "info", "markdown", "caption") for e in getattr(at, kind))


def test_verdict_page_shows_every_part_of_the_verdict(small_cache):
    at = _verdict_page(small_cache)
    assert at.get("plotly_chart")  # difference, curves + ceiling, matrix, regimes, power
    assert len(at.get("plotly_chart")) == 5
    text = _texts(at).replace("\\", "")
    for part in ("random here", "Enough repeats?", "Holm-Bonferroni", "budget regime", "Dashed: the same learner",
                 "Rank stability over seeds"):
        assert part in text, part
    specs = [chart.proto.spec for chart in at.get("plotly_chart")]
    assert any("difference to random" in s for s in specs) and any("ceiling (all 300 labels)" in s for s in specs)
    assert list((Path(small_cache) / "ceilings").glob("*.json"))  # fitted once, kept on disk


def test_baseline_cut_points_and_gain_widgets(small_cache):
    at = _verdict_page(small_cache)
    at.selectbox(key="verdict_baseline").set_value("entropy").run()
    at.text_input(key="verdict_cuts").set_value("25, 35").run()
    at.number_input(key="verdict_gain").set_value(0.02).run()
    assert not at.exception and not at.error
    text = _texts(at).replace("\\", "")
    assert "entropy" in text and "middle: 25–35" in text.replace("\\", "")
    assert any("Repeats needed (gain 0.020)" in str(df.value.columns.tolist()) for df in at.dataframe)
    at.radio(key="verdict_metric").set_value("macro_f1").run()
    assert not at.exception and not at.error
    assert "(test macro f1," in _texts(at).replace("\\", "")  # the verdict names the metric it rests on
    assert any("ceiling (all 300 labels)" in chart.proto.spec and "macro-F1" in chart.proto.spec
               for chart in at.get("plotly_chart"))
    at.text_input(key="verdict_cuts").set_value("500").run()  # outside the label range: explained, thirds shown
    assert any("strictly between 20 and 40" in w.value.replace("\\", "") for w in at.warning)


def test_one_repeat_says_plainly_that_no_verdict_is_possible(small_cache):
    at = _verdict_page(small_cache, settings={**SMALL_SETTINGS, "repeats": 1})  # repeat 0's runs are cached: a 1-repeat comparison
    text = _texts(at).replace("\\", "")
    assert "No verdict: 1 repeat allows no test" in text
    assert any("no test is possible" in w.value.replace("\\", "") for w in at.warning)


def test_an_expensive_learners_ceiling_waits_for_the_button(small_cache, tmp_path, monkeypatch):
    root = tmp_path / "cache"
    shutil.copytree(small_cache, root, ignore=shutil.ignore_patterns("ceilings"))
    monkeypatch.setattr(LEARNERS["logistic"], "expensive_fit", True)
    at = _verdict_page(root)
    assert not (root / "ceilings").exists()
    assert "press the button" in _texts(at)
    at.button(key="verdict_ceiling").click().run()
    assert not at.exception and not at.error
    assert len(list((root / "ceilings").glob("*.json"))) == 2
    assert any("ceiling (all 300 labels)" in chart.proto.spec for chart in at.get("plotly_chart"))
