"""Compare strategies on my labels, in a real browser: the Label page's button starts the comparison on the
project, Compare shows it against labelling minutes, and the Label page says when to stop. Screenshots go to
test-artifacts/labels-compare/ for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboard.labels_project import build_project, record_model_rounds
from tests.dashboard.server import BROWSER_MARKS, CHROMIUM, start_dashboard

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "labels-compare"

pytestmark = BROWSER_MARKS


@pytest.mark.slow
def test_the_label_page_button_compares_strategies_on_my_labels_in_minutes(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    db = build_project(tmp_path / "photos", undecided=30)
    record_model_rounds(db, 4)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    process, url = start_dashboard({"ALBENCH_CACHE_DIR": str(tmp_path / "cache"), "ALBENCH_LABEL_DB": str(db)})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.set_default_timeout(90_000)
            page.goto(f"{url}/label?annotator=ann")
            stop = page.get_by_role("heading", name="When to stop")
            stop.wait_for()
            stop.scroll_into_view_if_needed()
            expect(page.get_by_text("kappa", exact=False).first).to_be_visible()
            expect(page.get_by_text("95% interval (Wilson)").or_(page.locator('[data-testid="stDataFrame"]')).first
                   ).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "1-label-stop-panel.png"), full_page=True)

            button = page.get_by_role("button", name="Compare strategies on my labels")
            expect(button).to_be_enabled()
            button.click()
            # Compare is the app's default page (its address is the root): the heading says where we landed
            page.get_by_role("heading", name="Compare strategies").wait_for()
            # the background job finishes: the sidebar says every round is cached
            page.get_by_text("rounds of every run are cached").wait_for(timeout=120_000)
            minutes = page.get_by_text("labelling minutes", exact=True)
            minutes.wait_for()
            page.screenshot(path=str(ARTIFACTS / "2-compare-labels-axis.png"), full_page=True)
            minutes.click()
            page.locator(".gtitle", has_text="labelling minutes").wait_for()
            expect(page.get_by_text("Summary in labelling minutes")).to_be_visible()
            expect(page.get_by_text("To reach 0.90:", exact=False)).to_be_visible()  # the verdict in minutes
            page.screenshot(path=str(ARTIFACTS / "3-compare-minutes-axis.png"), full_page=True)
            browser.close()
    finally:
        process.kill()
        process.wait(timeout=10)
