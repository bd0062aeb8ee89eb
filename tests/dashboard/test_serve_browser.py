"""A dashboard served to a network (`--server.address 0.0.0.0`, reached over 127.0.0.1) in a real browser:
no token, no app; the labeller token opens the Label page only; the full token opens everything; a path
outside the data roots is refused; a second job past --max-jobs is refused. Screenshots: test-artifacts/serve/."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.engine import jobs
from tests.dashboard.server import BROWSER_MARKS, CHROMIUM, LAUNCH_ARGS, free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "serve"
REFUSED = "Ask whoever started the server for the link."

pytestmark = BROWSER_MARKS


@pytest.fixture
def served(tmp_path):
    """`albench-dashboard --server.address 0.0.0.0 --data-root DATA` (max-jobs: the default 1);
    yields (url over 127.0.0.1, {role: token} as printed, cache dir, server output file, pid)."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    cache.mkdir()
    port = free_port()
    output = tmp_path / "server.log"
    with open(output, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard", "--server.address", "0.0.0.0", "--server.port", str(port),
             "--data-root", str(data)],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), "ALBENCH_CACHE_DIR": str(cache)},
            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        printed = output.read_text()
        tokens = {role: re.search(rf"{role}.*\?token=(\S+)", printed).group(1) for role in ("full access", "labelling")}
        yield url, tokens, cache, output, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


def _settle(page) -> None:
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)


def test_tokens_roles_roots_and_the_job_limit_of_a_served_dashboard(served):
    from playwright.sync_api import sync_playwright

    url, tokens, cache, output, pid = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    busy = None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            # No token (or a wrong one): one screen, no navigation, no settings.
            for query in ("", "?token=wrong"):
                page = browser.new_context().new_page()
                page.goto(url + query)
                page.get_by_text(REFUSED).wait_for(timeout=60_000)
                _settle(page)
                assert page.locator('[data-testid="stSidebarNav"]').count() == 0
                assert page.get_by_text("Comparison settings").count() == 0
            page.screenshot(path=str(ARTIFACTS / "1-no-token.png"), full_page=True)

            # The labeller token: the Label page and nothing else; the token leaves the address bar.
            page = browser.new_context().new_page()
            page.goto(f"{url}/?token={tokens['labelling']}")
            page.get_by_role("heading", name="Label").wait_for(timeout=60_000)
            page.wait_for_url(lambda u: "token=" not in u)
            _settle(page)
            assert page.locator('[data-testid="stSidebarNav"]').count() == 0
            assert page.get_by_text("Comparison settings").count() == 0
            assert page.get_by_role("button", name="Run", exact=True).count() == 0
            page.screenshot(path=str(ARTIFACTS / "2-labeller.png"), full_page=True)
            # The page sets its session cookie from a script it renders: reload once the browser holds it.
            page.wait_for_function("document.cookie.includes('albench_access_')", timeout=60_000)
            page.reload()  # the address bar has no token now: the browser session keeps the role
            page.get_by_role("heading", name="Label").wait_for(timeout=60_000)
            _settle(page)
            assert page.get_by_text(REFUSED).count() == 0 and page.get_by_text("Comparison settings").count() == 0

            # The full token: every page, the settings and Run.
            page = browser.new_context().new_page()
            page.goto(f"{url}/?token={tokens['full access']}")
            page.get_by_text("Comparison settings").wait_for(timeout=60_000)
            page.wait_for_url(lambda u: "token=" not in u)
            _settle(page)
            nav = page.locator('[data-testid="stSidebarNav"]')
            for title in ("Compare", "Sweep", "Label", "Runs", "Export"):
                nav.get_by_text(title, exact=True).wait_for()

            # A job already runs: Run is refused with the limit stated.
            busy = jobs.start(cache, "run-busy", [sys.executable, "-c", "import time; time.sleep(300)"], kind="run")
            page.get_by_role("button", name="Run", exact=True).click()
            page.get_by_text("this server runs at most 1 job(s) at a time").wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "3-full-job-refused.png"), full_page=True)

            # A project path outside the data roots: refused with one line naming the roots.
            nav.get_by_text("Label", exact=True).click()
            page.get_by_role("heading", name="Label").wait_for(timeout=60_000)
            _settle(page)
            project = page.get_by_role("textbox", name="Project file")
            project.fill("/etc/labels.albench.db")
            project.press("Enter")
            page.get_by_text("/etc/labels.albench.db is outside the data roots this server allows").wait_for(
                timeout=60_000)
            assert project.input_value() == ""
            page.screenshot(path=str(ARTIFACTS / "4-outside-roots.png"), full_page=True)
        finally:
            browser.close()
            if busy is not None:
                os.killpg(busy.pid, signal.SIGKILL)

    # Printed once at start, never logged afterwards, and never in the server's command line or environment.
    printed = output.read_text()
    for token in tokens.values():
        assert printed.count(token) == 1
        assert token not in Path(f"/proc/{pid}/cmdline").read_text()
        assert token not in Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
