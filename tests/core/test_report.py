"""`python -m core report`: two tiny digits comparisons into one self-contained HTML report."""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

import pytest

from core.present import figures
from core.cli import main as cli_main
from core.present.report import add_report_parser, cmd_report

RUN = ["run", "--dataset", "digits", "--subset", "200", "--initial", "20", "--batch", "10", "--rounds", "3",
       "--repeats", "3", "--quiet"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """(cache dir, out folder of run A, comparison key of run B)."""
    root = tmp_path_factory.mktemp("report")
    cache = root / "cache"
    assert cli_main([*RUN, "--strategies", "random,entropy", "--cache-dir", str(cache), "--out", str(root / "a")]) == 0
    before = {p.stem for p in (cache / "comparisons").glob("*.json")}
    assert cli_main([*RUN, "--strategies", "random,least_confidence,hybrid", "--clusters", "2",
                     "--learner-param", "C=0.5", "--cache-dir", str(cache), "--out", str(root / "b")]) == 0
    (key_b,) = {p.stem for p in (cache / "comparisons").glob("*.json")} - before
    return cache, root / "a", key_b


def report(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    return cmd_report(parser.parse_args(["report", *argv]))


def test_report_combines_an_out_folder_and_a_cache_key(two_runs, tmp_path, monkeypatch, capsys):
    cache, folder_a, key_b = two_runs
    monkeypatch.setattr(figures, "browser_available", lambda: False)  # the PNG/SVG test below renders them
    out = tmp_path / "report"
    assert report(str(folder_a), key_b[:8], "--out", str(out), "--cache-dir", str(cache), "--regimes", "25, 35") == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("R1 digits/logistic, 40 labels: ") and "R2 digits/logistic, 40 labels: " in captured.out
    assert "no PNG/SVG" in captured.err
    page = (out / "report.html").read_text()
    assert not re.search(r"<script[^>]*\ssrc=", page)  # self-contained: plotly.js inline, nothing fetched
    assert len(page) > 1_000_000  # plotly.js inlined once
    for part in ("Settings of every run", "Verdicts", "Budget regimes", "Enough repeats?", "Holm-Bonferroni",
                 "Pairwise penalty matrix over all runs and budget regimes", "least_confidence", "hybrid (alpha 0.5, clusters 2",
                 "logistic (C=0.5)", f"cache key {key_b}", "ceiling (all 200 labels)", "middle: 25–35 labels",
                 "no PNG/SVG"):
        assert part in page, part
    # the folder's settings were found in the cache (its rounds are a cached comparison's)
    settings = (out / "settings_of_every_run.csv").read_text()
    assert "not recorded" not in settings and "200 samples" in settings
    for name in ("verdicts.csv", "budget_regimes.csv", "enough_repeats.csv", "combined_penalty_matrix.csv"):
        assert (out / name).stat().st_size > 0
    assert not (out / "figures").exists()
    assert len(list((cache / "ceilings").glob("*.json"))) == 6  # one all-labels fit per learner setting and seed, kept


def test_report_of_a_folder_without_its_cache_shows_what_rounds_csv_gives(two_runs, tmp_path, monkeypatch):
    _, folder_a, _ = two_runs
    monkeypatch.setattr(figures, "browser_available", lambda: False)
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(folder_a / "rounds.csv", lone / "rounds.csv")
    out = tmp_path / "report"
    assert report(str(lone), "--out", str(out), "--cache-dir", str(tmp_path / "empty-cache"), "--no-images") == 0
    page = (out / "report.html").read_text()
    assert "not recorded in rounds.csv" in page and "seeds 0, 1, 2" in page
    assert "no ceiling: the run&#x27;s settings are unknown" in page or "no ceiling: the run's settings are unknown" in page


def test_unknown_run_is_one_line_naming_valid_keys_exit_2_and_nothing_written(two_runs, tmp_path, capsys):
    cache, folder_a, key_b = two_runs
    out = tmp_path / "report"
    assert report(str(folder_a), "no-such-run", "--out", str(out), "--cache-dir", str(cache)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python -m core report: error: unknown run 'no-such-run'")
    assert key_b in err and "valid comparison keys" in err
    assert not out.exists()
    assert report(str(tmp_path), "--out", str(out), "--cache-dir", str(cache)) == 2  # a folder without rounds.csv
    assert "holds no rounds.csv" in capsys.readouterr().err and not out.exists()


@pytest.mark.slow
@pytest.mark.skipif(not figures.browser_available(), reason="PNG/SVG export needs Chrome or Chromium")
def test_report_writes_png_and_svg_of_every_chart(two_runs, tmp_path):
    cache, _, key_b = two_runs
    out = tmp_path / "report"
    assert report(key_b, "--out", str(out), "--cache-dir", str(cache), "--ceiling", "never") == 0
    pngs, svgs = sorted((out / "figures").glob("*.png")), sorted((out / "figures").glob("*.svg"))
    assert {p.stem for p in pngs} == {p.stem for p in svgs} >= {"combined_matrix", "r1_digits_logistic_40_labels_curves",
                                                                 "r1_digits_logistic_40_labels_matrix"}
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert all(b"<svg" in p.read_bytes()[:2000] for p in svgs)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="Debian chromium is not installed")
def test_the_report_opens_in_a_browser_with_every_chart_drawn(two_runs, tmp_path, monkeypatch):
    playwright = pytest.importorskip("playwright.sync_api")
    cache, folder_a, key_b = two_runs
    monkeypatch.setattr(figures, "browser_available", lambda: False)
    out = tmp_path / "report"
    assert report(str(folder_a), key_b, "--out", str(out), "--cache-dir", str(cache), "--no-images") == 0
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.route("http*://**", lambda route: route.abort())  # offline: everything must be inline
            page.goto(Path(out / "report.html").as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg")
            charts = page.locator(".js-plotly-plot").count()
            assert charts == 1 + 2 * 5  # combined matrix + per run: curves, difference, matrix, regimes, power
            assert page.locator("h1").inner_text().startswith("Active-learning verdicts: 2 runs")
        finally:
            browser.close()
