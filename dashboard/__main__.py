"""`albench-dashboard [STREAMLIT OPTIONS]` (or `python -m dashboard`): start the dashboard from any directory.

`streamlit run` reads `.streamlit/config.toml` only from the working directory, so started
elsewhere it listened on every interface and sent usage statistics. This launcher passes
the project's config file as command-line options instead, so the dashboard (which starts
processes and deletes cache files) binds to localhost wherever it is started. Any option
given on the command line wins, e.g. `--server.address 0.0.0.0` to serve a network on purpose.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
CONFIG = ROOT / ".streamlit" / "config.toml"


def _flag_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def streamlit_argv(argv: Sequence[str]) -> list[str]:
    """`streamlit run APP` with every setting of config.toml the user did not give on the command line."""
    given = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    settings = tomllib.loads(CONFIG.read_text())
    defaults = [f"--{section}.{name}={_flag_value(value)}"
                for section, options in settings.items() for name, value in options.items()
                if f"--{section}.{name}" not in given]
    return ["streamlit", "run", str(APP), *defaults, *argv]


def main(argv: Sequence[str] | None = None) -> int:
    from streamlit.web import cli as streamlit_cli

    sys.argv = streamlit_argv(list(sys.argv[1:] if argv is None else argv))
    return streamlit_cli.main()


if __name__ == "__main__":
    sys.exit(main())
