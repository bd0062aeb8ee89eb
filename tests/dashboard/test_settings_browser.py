"""Issue 19 in a real browser: the sidebar keeps what the user set, and a link reproduces a comparison.

One session does what lost settings before: a page click before the first load ends, the learner
switched away and back, every strategy removed and re-added, a run chosen on the Runs page.
After each, the values shown and the config Run would start (its key, shown in the sidebar) must
equal what the user set; the expected keys are computed here from RunConfig. Every wait is on page
state, never a sleep. Sidebar screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from core.engine.cache import Cache
from core.engine.config import RunConfig
from core.engine.runner import run_comparison
from tests.dashboard.server import BROWSER_MARKS, CHROMIUM, LAUNCH_ARGS, start_dashboard

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT = 60_000

pytestmark = BROWSER_MARKS

# The sidebar's defaults as a RunConfig (dashboard/components/settings.py): 3 repeats, budget 110.
DEFAULT = dict(strategies=("random", "entropy", "hybrid"), rounds=10, repeats=3)
# A cached comparison that differs from the defaults in many settings, to be chosen on the Runs page.
SAVED = RunConfig(dataset="digits", learner="logistic", learner_params={"C": 0.25}, strategies=("random", "entropy"),
                  initial=20, batch=10, rounds=3, repeats=1, subset=200)


# Loaded into the server only: its first load of each dataset takes 3 s more, so a page link can be
# clicked while the first run is still going, every time (on a warm machine the run takes well under 1 s).
SLOW_FIRST_LOAD = """
import importlib.abc, importlib.util, sys, time

class _SlowFirstLoad(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "dashboard.components.results":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            load = module.load_dataset

            def slow_load(*args, **kwargs):
                time.sleep(3)
                return load(*args, **kwargs)
            module.load_dataset = slow_load
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _SlowFirstLoad())
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cache = tmp_path_factory.mktemp("settings_browser") / "cache"
    run_comparison(SAVED, cache=Cache(cache))
    hook = tmp_path_factory.mktemp("slow_first_load")
    (hook / "sitecustomize.py").write_text(SLOW_FIRST_LOAD)
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p)
    process, url = start_dashboard({"ALBENCH_CACHE_DIR": str(cache), "BROWSER_PATH": CHROMIUM, "PYTHONPATH": path})
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def _expect():
    from playwright.sync_api import expect

    return expect


def _sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def _wait_for_config(page, config: RunConfig | None) -> None:
    """Until the sidebar says Run would start `config` (None: that Run is disabled) and no rerun is in flight."""
    expect = _expect()
    summary = _sidebar(page).locator('[data-testid="stExpander"] summary').filter(has_text="Run starts comparison")
    if config is None:
        expect(summary).to_have_count(0, timeout=TIMEOUT)
        run = _sidebar(page).get_by_role("button", name="Run", exact=True)
        expect(run).to_have_count(1, timeout=TIMEOUT)
        expect(run).to_be_disabled(timeout=TIMEOUT)
    else:
        # Exactly one, the expected one: a rerun in flight still shows the last run's (stale) caption too.
        expect(summary.filter(has_text=f"Run starts comparison {config.key()}")).to_have_count(1, timeout=TIMEOUT)
        expect(summary).to_have_count(1, timeout=TIMEOUT)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=TIMEOUT)


def _slider(page, label: str):
    return _sidebar(page).locator('[data-testid="stSlider"]').filter(has_text=label)


def _shown(page) -> dict:
    """What the sidebar shows (the learner settings expander is opened to read them)."""
    sb = _sidebar(page)
    expander = sb.locator('[data-testid="stExpander"]').filter(has_text="Learner settings")
    if not sb.get_by_label("C", exact=True).is_visible():
        expander.locator("summary").click()
    out = {"learner": sb.get_by_label("Learner", exact=True).input_value(),
           "strategies": [b.get_attribute("aria-label").removeprefix("Remove ") for b in
                          sb.locator('[data-testid="stMultiSelect"] button[aria-label^="Remove "]').all()],
           "budget": _slider(page, "Budget").locator('[data-testid="stSliderThumbValue"]').inner_text(),
           "initial": sb.get_by_label("Initial labelled samples", exact=True).input_value(),
           "batch": sb.get_by_label("Batch size (labels per round)", exact=True).input_value(),
           "repeats": sb.get_by_label("Repeats", exact=True).input_value(),
           "C": sb.get_by_label("C", exact=True).input_value()}
    alpha = _slider(page, "Alpha")
    if alpha.count():
        out["alpha"] = alpha.locator('[data-testid="stSliderThumbValue"]').inner_text()
    return out


def _nudge(page, label: str, key: str, times: int) -> None:
    thumb = _slider(page, label).get_by_role("slider")
    thumb.focus()
    for _ in range(times):
        thumb.press(key)


def _choose(page, label: str, option: str) -> None:
    _sidebar(page).get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    _sidebar(page).screenshot(path=ARTIFACTS / f"settings-{name}.png")


def test_the_sidebar_keeps_what_the_user_set(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 3000})
    page.goto(server)
    link = page.get_by_role("link", name="Query map")
    link.wait_for(timeout=TIMEOUT)
    # 1. A page click before the first load has finished (the first run imports the engine: seconds).
    link.click()
    assert _sidebar(page).get_by_text("Run starts comparison").count() == 0  # the first run had not ended
    page.get_by_role("heading", name="Query map").wait_for(timeout=TIMEOUT)
    _wait_for_config(page, RunConfig(**DEFAULT))
    assert _shown(page) == {"learner": "logistic", "strategies": ["random", "entropy", "hybrid"], "budget": "110",
                            "initial": "20", "batch": "10", "repeats": "3", "C": "1", "alpha": "0.50"}
    _shot(page, "1-early-click")

    # The user's settings: budget 70, alpha 0.6, C 0.5.
    _nudge(page, "Budget", "ArrowLeft", 4)
    _wait_for_config(page, RunConfig(**{**DEFAULT, "rounds": 6}))
    _nudge(page, "Alpha", "ArrowRight", 2)
    _wait_for_config(page, RunConfig(**{**DEFAULT, "rounds": 6}, strategy_params={"hybrid": {"alpha": 0.6}}))
    c_field = _sidebar(page).get_by_label("C", exact=True)
    c_field.fill("0.5")
    c_field.press("Enter")
    users = RunConfig(**{**DEFAULT, "rounds": 6}, strategy_params={"hybrid": {"alpha": 0.6}}, learner_params={"C": 0.5})
    _wait_for_config(page, users)
    set_by_user = {"learner": "logistic", "strategies": ["random", "entropy", "hybrid"], "budget": "70",
                   "initial": "20", "batch": "10", "repeats": "3", "C": "0.5", "alpha": "0.60"}
    assert _shown(page) == set_by_user

    # 2. The learner away and back.
    _choose(page, "Learner", "label_spreading")
    _wait_for_config(page, RunConfig(**{**DEFAULT, "rounds": 6}, strategy_params={"hybrid": {"alpha": 0.6}},
                                     learner="label_spreading"))
    _choose(page, "Learner", "logistic")
    _wait_for_config(page, users)
    assert _shown(page) == set_by_user
    _shot(page, "2-learner-back")

    # 3. Every strategy removed, then re-added.
    for name, left in (("hybrid", ("random", "entropy")), ("entropy", ("random",)), ("random", ())):
        _sidebar(page).get_by_role("button", name=f"Remove {name}").click()
        _wait_for_config(page, RunConfig(**{**DEFAULT, "rounds": 6, "strategies": left}, learner_params={"C": 0.5})
                         if left else None)
    for name, chosen in (("random", ("random",)), ("entropy", ("random", "entropy")),
                         ("hybrid", ("random", "entropy", "hybrid"))):
        field = _sidebar(page).locator('[data-testid="stMultiSelect"] input[role="combobox"]')
        field.click()
        field.press_sequentially(name)
        page.get_by_role("option", name=name, exact=True).click()
        page.keyboard.press("Escape")
        params = {"hybrid": {"alpha": 0.6}} if "hybrid" in chosen else {}
        _wait_for_config(page, RunConfig(**{**DEFAULT, "rounds": 6, "strategies": chosen}, learner_params={"C": 0.5},
                                         strategy_params=params))
    assert _shown(page) == set_by_user
    _shot(page, "3-strategies-re-added")

    # 4. A run chosen on the Runs page: its settings, on purpose, and the sidebar says so.
    page.get_by_role("link", name="Runs").click()
    page.get_by_role("heading", name="Cached runs").wait_for(timeout=TIMEOUT)
    _wait_for_config(page, users)
    assert _shown(page) == set_by_user  # visiting Runs loads nothing
    page.get_by_label("Run", exact=True).click()
    page.get_by_role("option").first.click()
    _wait_for_config(page, SAVED)
    _sidebar(page).get_by_text(f"Loaded the settings of run {SAVED.key()[:8]}").wait_for(timeout=TIMEOUT)
    loaded = {"learner": "logistic", "strategies": ["random", "entropy"], "budget": "40", "initial": "20",
              "batch": "10", "repeats": "1", "C": "0.25"}
    assert _shown(page) == loaded
    _shot(page, "4-runs-choice")
    page.get_by_role("link", name="Compare").click()  # and it stays through a page switch
    page.get_by_role("heading", name="Compare strategies").wait_for(timeout=TIMEOUT)
    _wait_for_config(page, SAVED)
    assert _shown(page) == loaded
    page.close()


def test_a_pasted_link_opens_the_same_comparison_in_a_fresh_context(server, browser):
    first = browser.new_context(viewport={"width": 1400, "height": 3000})
    page = first.new_page()
    page.goto(server)
    _wait_for_config(page, RunConfig(**DEFAULT))
    _nudge(page, "Budget", "ArrowLeft", 2)
    _wait_for_config(page, RunConfig(**{**DEFAULT, "rounds": 8}))
    _nudge(page, "Alpha", "ArrowRight", 2)
    wanted = RunConfig(**{**DEFAULT, "rounds": 8}, strategy_params={"hybrid": {"alpha": 0.6}})
    _wait_for_config(page, wanted)
    page.get_by_role("link", name="Verdict").click()
    page.get_by_role("heading", name="Verdict", exact=True).wait_for(timeout=TIMEOUT)
    _wait_for_config(page, wanted)
    page.wait_for_url(re.compile(r"budget=90"), timeout=TIMEOUT)
    link = page.url
    assert "hybrid.alpha=0.6" in link and "verdict" in link
    first.close()

    fresh = browser.new_context(viewport={"width": 1400, "height": 3000})  # no cookies, no session: only the link
    page = fresh.new_page()
    page.goto(link)
    page.get_by_role("heading", name="Verdict", exact=True).wait_for(timeout=TIMEOUT)
    _wait_for_config(page, wanted)
    shown = _shown(page)
    assert (shown["budget"], shown["alpha"]) == ("90", "0.60")
    _shot(page, "5-pasted-link")
    page.goto(link.replace("budget=90", "budget=lots"))  # a bad value: ignored, named once, never a crash
    warning = _sidebar(page).locator('[data-testid="stAlert"]').filter(has_text="Ignored in the link")
    warning.wait_for(timeout=TIMEOUT)
    assert "budget=lots" in warning.inner_text()
    _wait_for_config(page, RunConfig(**DEFAULT, strategy_params={"hybrid": {"alpha": 0.6}}))
    _shot(page, "6-bad-link")
    fresh.close()
