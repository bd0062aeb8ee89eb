"""The Makefile's set-up is lean and `make test` runs every test, slow ones included (issue 21.16)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_installs_chromium_without_recommends_and_tests_everything():
    # -n prints the recipes without running them; -B as if nothing were installed yet
    printed = subprocess.run(["make", "-n", "-B", "system-deps", "test"], cwd=ROOT, capture_output=True, text=True,
                             check=True, timeout=60).stdout
    installs = [line for line in printed.splitlines() if "apt-get install" in line]
    assert installs and all("--no-install-recommends" in line for line in installs), installs
    pytest_lines = [line for line in printed.splitlines() if "-m pytest" in line]
    assert pytest_lines and not any(" -m " in line.split("-m pytest", 1)[1] for line in pytest_lines), pytest_lines


def test_the_readme_says_how_to_run_the_quick_subset():
    readme = (ROOT / "README.md").read_text()
    assert '.venv/bin/python -m pytest -m "not slow"' in readme
