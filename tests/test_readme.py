"""Every command the README shows runs as written after the set-up command (issue 9.17)."""

from __future__ import annotations

import re
from pathlib import Path

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
