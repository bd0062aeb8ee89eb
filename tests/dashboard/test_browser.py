"""The whole flow in a real browser: a `streamlit run` server driven by Debian's chromium.

Changes the budget and alpha sliders, presses Run on digits, waits for the learning curves
to reach the last round, visits the map and uncertain-images pages, downloads a PNG export.
Screenshots go to test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.dashboard.server import BROWSER_MARKS, CHROMIUM, LAUNCH_ARGS, start_dashboard

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = BROWSER_MARKS


@pytest.fixture
def server(tmp_path):
    process, url = start_dashboard({"ALBENCH_CACHE_DIR": str(tmp_path / "cache"), "BROWSER_PATH": CHROMIUM})
    yield url
    process.terminate()
    process.wait(timeout=10)


def _settle(page) -> None:
    """Wait until the rerun in flight (if any) has finished."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=30_000)


def _nudge(page, label: str, key: str, times: int) -> str:
    """Move a slider with the keyboard; returns the value it then shows."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text=label)
    thumb = slider.get_by_role("slider")
    thumb.focus()
    for _ in range(times):
        thumb.press(key)
    _settle(page)
    return slider.locator('[data-testid="stSliderThumbValue"]').inner_text()


def _chart_max_x(page) -> float:
    # _fullData: plotly.js's decoded traces (`data` keeps numpy arrays as base64 {dtype, bdata} objects)
    return page.evaluate("""() => Math.max(...Array.from(document.querySelectorAll('.js-plotly-plot'))
        .flatMap(p => (p._fullData || p.data || []).flatMap(t => Array.from(t.x || []))).map(Number)
        .filter(Number.isFinite))""")


@pytest.mark.slow
def test_run_watch_and_export(server):
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
        page.goto(server)
        page.get_by_text("Comparison settings").wait_for(timeout=60_000)
        _settle(page)

        assert _nudge(page, "Budget", "ArrowLeft", 4) == "70"  # 110 -> 70 labels: 6 rounds
        assert float(_nudge(page, "Alpha", "ArrowRight", 2)) == 0.6
        page.get_by_text("20 initial + 5 batches of 10 = 70 labels").wait_for()
        page.get_by_text("Nothing cached for these settings yet").wait_for()

        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_text("Running").first.wait_for(timeout=30_000)
        page.get_by_text("hybrid:").wait_for(timeout=30_000)  # one progress bar per strategy
        page.screenshot(path=ARTIFACTS / "1-running.png", full_page=True)
        page.get_by_text("All 6 rounds of every run are cached").wait_for(timeout=120_000)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length > 0")
        deadline = time.monotonic() + 20
        while _chart_max_x(page) < 70 and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        assert _chart_max_x(page) == 70  # the curves reach the budget: the last round is drawn
        page.locator('[data-testid="stProgress"]').first.wait_for(state="detached", timeout=30_000)  # panel closes
        _settle(page)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length > 0")
        page.screenshot(path=ARTIFACTS / "2-compare.png", full_page=True)

        page.get_by_role("link", name="Query map").click()
        page.get_by_role("heading", name="Query map").wait_for()
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length > 0")
        _settle(page)
        page.screenshot(path=ARTIFACTS / "3-query-map.png", full_page=True)

        page.get_by_role("link", name="Uncertain images").click()
        page.get_by_role("heading", name="Most and least uncertain images").wait_for()
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2")
        _settle(page)
        page.screenshot(path=ARTIFACTS / "4-uncertain.png", full_page=True)

        page.get_by_role("link", name="Verdict").click()
        page.get_by_role("heading", name="Verdict", exact=True).wait_for()
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=60_000)
        _settle(page)
        page.screenshot(path=ARTIFACTS / "4b-verdict.png", full_page=True)

        page.get_by_role("link", name="Export").click()
        page.get_by_role("heading", name="Export").wait_for()
        page.get_by_role("button", name="report.html").wait_for(timeout=60_000)  # the page's last widget
        _settle(page)
        page.screenshot(path=ARTIFACTS / "5-export.png", full_page=True)
        buttons = page.locator('[data-testid="stDownloadButton"]')
        for label, icon in (("PNG", "image"), ("SVG", "draw"), ("HTML", "code")):  # every format has an icon
            button = buttons.filter(has_text=label).first
            assert button.locator('[data-testid="stIconMaterial"]', has_text=icon).count() >= 1, label
        png = buttons.filter(has_text="PNG").first
        with page.expect_download(timeout=60_000) as download:
            png.get_by_role("button").click()
            # rendering takes seconds: the button shows a spinner and stays disabled until the file is there
            playwright.expect(png.get_by_role("button")).to_be_disabled(timeout=5_000)
            page.screenshot(path=ARTIFACTS / "5b-export-rendering.png")
        target = ARTIFACTS / "export-learning_curves.png"
        download.value.save_as(target)
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        browser.close()
