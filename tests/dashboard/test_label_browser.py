"""The Label page in a real browser, keyboard only: two batches, one undo, `kill -9` of the server,
a restart, and every label found again. Screenshots go to test-artifacts/label/ for a person to look at."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.labels.store import LabelStore
from tests.dashboard.server import BROWSER_MARKS, CHROMIUM, start_dashboard

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "label"
CLASSES = ["zero", "one", "two"]
GRID = 'iframe[title*="label_grid"]'

pytestmark = BROWSER_MARKS


@pytest.fixture
def project(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits(n_class=3)
    root = tmp_path / "images"
    root.mkdir()
    truth = {}
    for i in range(40):
        name = f"d{i:02d}.png"
        Image.fromarray((digits.images[i] * 15).astype(np.uint8)).resize((64, 64), Image.NEAREST).save(root / name)
        truth[name] = CLASSES[digits.target[i]]
    done = subprocess.run([sys.executable, "-m", "core", "label", "init", str(root), "--classes", ",".join(CLASSES)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return root / "labels.albench.db", truth


def _start(tmp_path, db) -> tuple[subprocess.Popen, str]:
    return start_dashboard({"ALBENCH_CACHE_DIR": str(tmp_path / "cache"), "ALBENCH_LABEL_DB": str(db)})


def _open(page, url, query="?annotator=ann"):
    page.goto(f"{url}/label{query}")
    grid = page.frame_locator(GRID)
    grid.locator(".card").first.wait_for(timeout=90_000)
    return grid


def _label_batch(page, grid, truth) -> tuple[str, dict[str, str]]:
    """Label every card of the batch on screen with the keyboard; returns (batch id, what was labelled)."""
    body = grid.locator("body")
    batch = body.get_attribute("data-batch")
    names = grid.locator(".card .name").all_inner_texts()
    done = {}
    for _ in names:
        current = grid.locator(".card.current .name").inner_text().replace("audit", "").strip()
        label = truth[current]
        page.keyboard.press(str(CLASSES.index(label) + 1))
        page.keyboard.press("Enter")
        done[current] = label
    return batch, done


@pytest.mark.slow
def test_two_batches_with_the_keyboard_an_undo_and_a_killed_server_lose_nothing(project, tmp_path):
    from playwright.sync_api import sync_playwright

    db, truth = project
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    process, url = _start(tmp_path, db)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            grid = _open(page, url)
            page.locator("h1").first.click()  # keys go to the page; the grid listens there too
            page.screenshot(path=str(ARTIFACTS / "1-first-batch.png"), full_page=True)
            other_tab = browser.new_page(viewport={"width": 1400, "height": 1300})
            other = _open(other_tab, url).locator(".card .name").all_inner_texts()
            mine = grid.locator(".card .name").all_inner_texts()
            assert len(other) == len(mine) == 8 and not set(other) & set(mine)  # two tabs, never the same image
            other_tab.close()
            first, labelled = _label_batch(page, grid, truth)
            grid.locator(f'body:not([data-batch="{first}"])[data-open="8"]').wait_for(timeout=90_000)
            page.screenshot(path=str(ARTIFACTS / "2-second-batch.png"), full_page=True)
            second, more = _label_batch(page, grid, truth)
            labelled.update(more)
            page.keyboard.press("Backspace")  # undo the last decision
            undone = grid.locator(".card.current .name").inner_text().strip()
            del labelled[undone]
            grid.locator('body[data-pending="0"]').wait_for(timeout=90_000)
            page.screenshot(path=str(ARTIFACTS / "3-after-undo.png"), full_page=True)
            query = "?" + page.url.split("?", 1)[1]  # this tab's token: a reload gets its batch back
            browser.close()
        process.kill()  # kill -9: no shutdown, no flush beyond what each decision committed
        process.wait(timeout=10)

        store = LabelStore(db)
        assert store.labels() == labelled and len(labelled) == 15
        assert store.current().get(store.item_id(undone)) is None

        process, url = _start(tmp_path, db)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            grid = _open(page, url, query)
            metrics = page.locator('[data-testid="stMetric"]').filter(has_text="Labelled")
            assert "15" in metrics.inner_text()
            # the undone image is back, undecided, in the batch: the person continues where they were
            card = grid.locator(".card").filter(has_text=undone)
            assert card.get_attribute("data-decision") == ""
            page.screenshot(path=str(ARTIFACTS / "4-after-restart.png"), full_page=True)
            browser.close()
    finally:
        process.kill()
        process.wait(timeout=10)


def _wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    """Poll the project file (another process writes it) until `predicate()` holds."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_two_browsers_under_one_name_each_undo_only_their_own_decision_and_a_reload_reopens_the_project(
        project, tmp_path):
    from playwright.sync_api import sync_playwright

    db, truth = project
    # no ALBENCH_LABEL_DB: the project comes from the link alone
    process, url = start_dashboard({"ALBENCH_CACHE_DIR": str(tmp_path / "cache")})
    link = f"?project={db}&annotator=sam"
    store = LabelStore(db)

    def label_current(page, grid) -> str:
        name = grid.locator(".card.current .name").inner_text().replace("audit", "").strip()
        page.keyboard.press(str(CLASSES.index(truth[name]) + 1))
        page.keyboard.press("Enter")
        _wait_for(lambda: store.labels().get(name) == truth[name], f"{name} to be saved")
        return name

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            pages = [browser.new_context().new_page() for _ in range(2)]  # two browsers: separate sessions
            grids = [_open(page, url, link) for page in pages]
            for page in pages:
                page.locator("h1").first.click()
            a = label_current(pages[0], grids[0])
            b = label_current(pages[1], grids[1])
            pages[0].keyboard.press("Backspace")  # a's Backspace: undoes a's label, not b's later one
            _wait_for(lambda: a not in store.labels(), f"{a} to be undone")
            assert store.labels() == {b: truth[b]}
            pages[1].keyboard.press("Backspace")
            _wait_for(lambda: not store.labels(), f"{b} to be undone")
            pages[0].reload()  # the project (and the name) come back from the URL
            pages[0].frame_locator(GRID).locator(".card").first.wait_for(timeout=90_000)
            assert "sam" in pages[0].url and "project=" in pages[0].url
            pages[0].screenshot(path=str(ARTIFACTS / "5-reloaded-from-link.png"), full_page=True)
            browser.close()
    finally:
        process.kill()
        process.wait(timeout=10)
