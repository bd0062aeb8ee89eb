"""`albench-dashboard [STREAMLIT OPTIONS]` (or `python -m dashboard`): start the dashboard from any directory.

`streamlit run` reads `.streamlit/config.toml` only from the working directory, so started
elsewhere it listened on every interface and sent usage statistics. This launcher passes
the project's config file as command-line options instead, so the dashboard (which starts
processes and deletes cache files) binds to localhost wherever it is started. Any option
given on the command line wins, e.g. `--server.address 0.0.0.0` to serve a network on purpose.

Served beyond loopback it admits only the links it prints once at start (issue 24): a full token
(or `--token`, or the password whose hash `--password-file` holds) that may run, sweep and delete,
and a labeller token that opens the Label page only (`--labeller-project`, repeatable; default: any
project under the data roots). `--data-root` (repeatable; default: the working directory and the
cache) bounds every path the UI accepts; `--max-jobs` (default 1) bounds the runs and sweeps it starts.
The Streamlit process learns all this from its environment (ALBENCH_SERVE: hashes, never tokens).
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import Sequence

from core.access import (OutsideRootsError, PasswordFileError, check_inside_roots, new_token, password_hash,
                         read_password_file, resolve_roots, token_hash)
from dashboard.components.access import FULL, LABELLER, SERVE_ENV, ServeSettings

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="albench-dashboard", description="Start the dashboard; any other option "
                                     "goes to `streamlit run` (e.g. --server.address 0.0.0.0 --server.port 8600).")
    parser.add_argument("--token", help="the full-access token when serving a network (default: a random one)")
    parser.add_argument("--password-file", help="full access by password instead: a file (mode 600) holding the "
                        "line `--hash-password` prints")
    parser.add_argument("--labeller-project", action="append", default=[], metavar="PATH",
                        help="a project file the labeller token may open (repeatable; default: any under the roots)")
    parser.add_argument("--data-root", action="append", default=[], metavar="DIR",
                        help="a folder the UI may read and write under (repeatable; default: the working directory "
                             "and the cache)")
    parser.add_argument("--max-jobs", type=int, default=None,
                        help="runs and sweeps at a time when serving a network (default 1)")
    parser.add_argument("--hash-password", action="store_true", help="ask a password, print its hash for "
                        "--password-file, and exit")
    return parser


def _option(argv: Sequence[str], name: str, default: str) -> str:
    """The value of Streamlit option `name` as given (`--name V` or `--name=V`), else `default`."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def is_loopback(address: str) -> bool:
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def serve_settings(options: argparse.Namespace, served: bool, *, cache_dir: str) -> tuple[ServeSettings, dict[str, str]]:
    """What the app enforces, and the tokens to print (role -> token; password roles are not printed)."""
    if options.max_jobs is not None and options.max_jobs < 1:
        raise ValueError(f"--max-jobs must be at least 1; got {options.max_jobs}")
    gated = served or options.token is not None or options.password_file is not None
    tokens, shown = {}, {}
    if gated:
        if options.password_file:
            tokens[FULL] = read_password_file(options.password_file)
        else:
            shown[FULL] = options.token or new_token()
            tokens[FULL] = token_hash(shown[FULL])
        shown[LABELLER] = new_token()
        tokens[LABELLER] = token_hash(shown[LABELLER])
    roots = options.data_root or ([os.getcwd(), cache_dir] if gated else [])
    for root in roots:
        if not Path(root).expanduser().is_dir():
            raise ValueError(f"--data-root {root} is not a directory")
    projects = [str(check_inside_roots(p, roots)) if roots else str(Path(p).expanduser().resolve())
                for p in options.labeller_project]
    max_jobs = options.max_jobs if options.max_jobs is not None else (1 if gated else None)
    return ServeSettings(tokens, tuple(str(r) for r in resolve_roots(roots)), tuple(projects), max_jobs), shown


def main(argv: Sequence[str] | None = None) -> int:
    options, rest = _parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if options.hash_password:
        print(password_hash(getpass.getpass("Password: ")))
        return 0
    address = _option(rest, "--server.address", "localhost")
    port = _option(rest, "--server.port", "8501")
    from core.engine.cache import cache_dir as shared_cache_dir

    cache_dir = str(shared_cache_dir())  # the CLI's rule: $ALBENCH_CACHE_DIR, else the one default
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    try:
        settings, shown = serve_settings(options, not is_loopback(address), cache_dir=cache_dir)
    except (PasswordFileError, ValueError, OutsideRootsError) as exc:
        print(f"albench-dashboard: {exc}", file=sys.stderr)
        return 2
    os.environ[SERVE_ENV] = settings.to_env()  # the environment, not argv: `ps` shows argv to everyone
    if settings.tokens:
        host = socket.gethostname() if address in ("0.0.0.0", "::", "") else address
        print(f"Serving a network. Data roots: {', '.join(settings.roots)}; at most {settings.max_jobs} run(s) or "
              "sweep(s) at a time. Share a link only with the people it is meant for:")
        if FULL in shown:
            print(f"  full access (run, sweep, delete):  http://{host}:{port}/?token={shown[FULL]}")
        else:
            print(f"  full access (run, sweep, delete):  http://{host}:{port}/ with the password of "
                  f"{options.password_file}")
        print(f"  labelling only (the Label page):   http://{host}:{port}/?token={shown[LABELLER]}"
              + (f"  projects: {', '.join(settings.projects)}" if settings.projects else ""), flush=True)
    from streamlit.web import cli as streamlit_cli

    sys.argv = streamlit_argv(rest)
    return streamlit_cli.main()


if __name__ == "__main__":
    sys.exit(main())
