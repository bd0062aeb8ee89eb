"""Every command the README shows runs as written after the set-up command (issue 9.17)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()

# A command that needs the project's environment, written so that it uses the system's
# python/pip/streamlit: after `make`, only `.venv/bin/...` has the dependencies.
BARE = re.compile(r"(?<![\w/.-])(python3?|pip3?|streamlit|albench(?:-dashboard)?|ray)\s+(-m\s+\w|run\b|install\b|start\b|sweep\b|report\b)")


def commands() -> list[str]:
    """Fenced shell blocks and inline code spans."""
    blocks = re.findall(r"```(?:bash|sh|console)?\n(.*?)```", README, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", README, flags=re.S))
    return [line for block in blocks for line in block.splitlines()] + spans


def test_readme_commands_use_the_virtual_environment():
    bare = [c for c in commands() if BARE.search(c) and not c.lstrip().startswith("#")]
    assert not bare, f"commands that would run outside .venv: {bare}"


def test_readme_opens_with_the_two_commands():
    first_blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)[:2]
    assert [b.strip() for b in first_blocks] == ["make dashboard", "make test"]


# --------------------------------------------------------------------------- the commands run (issue 21.11)

VENV_BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin"
# Skipped, by rule: a `run` of more than this many fits (strategies x repeats x rounds) on the full
# digits pool; the rest, the report of two small comparisons included, takes about a minute.
MAX_FITS = 60
STANDIN = "path/to/images"  # the README's name for the reader's own image folder: a stand-in of 120 images


def albench_commands() -> list[str]:
    """The README's fenced bash commands that start with `.venv/bin/albench`, in order, continuation
    lines joined and comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    lines = [line.split(" #")[0].strip() for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return [" ".join(line.split()) for line in lines if line.startswith(".venv/bin/albench")]


def fits(command: str) -> int:
    """Fits a `run` command asks for (its strategies x repeats x rounds, the CLI's defaults otherwise)."""
    def option(name: str, default: str) -> str:
        found = re.search(rf"--{name}[ =](\S+)", command)
        return found.group(1) if found else default

    return len(option("strategies", "random,entropy,hybrid").split(",")) * int(option("repeats", "1")) * int(
        option("rounds", "10"))


def test_readme_albench_commands_have_no_placeholders():
    commands = albench_commands()
    assert len(commands) >= 10
    bad = [c for c in commands if re.search(r"[\[\]<>]|\.\.\.|\b[0-9a-f]{8}\b", c)]
    assert not bad, f"commands that cannot run as pasted (brackets, placeholders, a made-up key): {bad}"


@pytest.mark.slow
def test_readme_albench_commands_run_as_pasted(tmp_path):
    """Every cheap `.venv/bin/albench` command of the README, in the README's order, in one fresh
    directory (a later command reads what an earlier one wrote), exits 0."""
    import os
    import subprocess

    import numpy as np
    from PIL import Image

    folder = tmp_path / STANDIN
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(120):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"img{i:02d}.png")
    env = {**os.environ, "ALBENCH_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "BROWSER_PATH": str(tmp_path / "no-chromium")}  # PNG/SVG export: 4-8 s a chart, the browser test's part
    ran = []
    for command in albench_commands():
        if " run " in f" {command} " and fits(command) > MAX_FITS:
            continue
        if "--dataset labels" in command:  # the README's "labelled on the Label page": a person's decisions, timed
            _label_everything(tmp_path / STANDIN / "labels.albench.db")
        args = command.split()
        args[0] = str(VENV_BIN / "albench")
        done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
        ran.append(command)
    assert any(" report " in c for c in ran) and any(" label export " in c for c in ran)
    assert (tmp_path / "out" / "report" / "report.html").is_file()


def _label_everything(db) -> None:
    """What the README leaves to a person: every undecided image of the stand-in project labelled, with its time."""
    from core.labels.store import LabelStore

    store = LabelStore(db)
    decided = set(store.current())
    for i, row in enumerate(store.items()):
        if row["id"] not in decided:
            store.decide(row["id"], "label", annotator="reader", label=("cat", "dog")[i % 2], ms=1500 + 100 * (i % 7))
    store.close()
