"""Who may use the dashboard: the local machine, unless the user chose where the server listens."""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import streamlit as st

from core.engine import jobs
from core.access import OutsideRootsError, check_inside_roots, matches, resolve_roots, session_proof


def refusal(address_option: str | None, client_ip: str | None) -> str | None:
    """Why a client must be turned away, or None.

    A server started by plain `streamlit run` from another directory listens on every
    interface without anybody asking for it (`server.address` unset). Its pages start
    processes and delete cache files, so then only loopback clients are served. A
    `server.address` the user set (launcher default `localhost`, or `0.0.0.0` on purpose)
    is their choice and is respected.
    """
    if address_option or not client_ip:
        return None
    try:
        ip = ipaddress.ip_address(client_ip.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    if ip.is_loopback or (mapped is not None and mapped.is_loopback):
        return None
    return ("This dashboard was started without a server address, so it listens on every network interface. "
            "It only serves this machine then. Start it with `albench-dashboard` (or `make dashboard`), which "
            "binds to localhost, or choose the address on purpose: `--server.address 0.0.0.0`.")


def local_only() -> None:
    """Stop the page for a remote client of a server nobody meant to expose."""
    message = refusal(st.get_option("server.address"), st.context.ip_address)
    if message:
        st.error(message)
        st.stop()


# ----------------------------------------------------------------------------- a served dashboard (issue 24)
# `albench-dashboard` bound beyond loopback writes ALBENCH_SERVE (JSON) into its own environment before
# Streamlit starts: token hashes by role, the data roots, the labeller's projects and the job limit. Hashes
# only: the tokens themselves are printed once and never stored. Unset (loopback, `streamlit run`): no gate.
SERVE_ENV = "ALBENCH_SERVE"
FULL, LABELLER = "full", "labeller"
_ROLE = "access_role"  # session key: the role this browser session signed in with


@dataclass(frozen=True)
class ServeSettings:
    tokens: dict[str, str] = field(default_factory=dict)  # role -> stored hash (core.access)
    roots: tuple[str, ...] = ()  # empty: paths are not bounded
    projects: tuple[str, ...] = ()  # the labeller's projects; empty: any project under the roots
    max_jobs: int | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "ServeSettings":
        raw = json.loads(environ.get(SERVE_ENV) or "{}")
        return cls(dict(raw.get("tokens", {})), tuple(raw.get("roots", ())), tuple(raw.get("projects", ())),
                   raw.get("max_jobs"))

    def to_env(self) -> str:
        return json.dumps({"tokens": self.tokens, "roots": list(self.roots), "projects": list(self.projects),
                           "max_jobs": self.max_jobs})


def settings() -> ServeSettings:
    return ServeSettings.from_env()


def role_for(candidate: str, tokens: Mapping[str, str]) -> str | None:
    """The role whose token (or password) `candidate` is; every role is tried, so timing says nothing."""
    found = [role for role, stored in tokens.items() if matches(candidate, stored)]
    return found[0] if found else None


def _cookie_name() -> str:
    return f"albench_access_{st.get_option('server.port')}"  # cookies ignore ports: one per server


def _role_from_cookie(tokens: Mapping[str, str]) -> str | None:
    proof = st.context.cookies.get(_cookie_name())
    if not isinstance(proof, str):  # no cookie (AppTest has no browser: a stand-in object)
        return None
    found = [role for role, stored in tokens.items() if hmac.compare_digest(session_proof(stored), proof)]
    return found[0] if found else None


def _keep_in_browser(role: str, stored: str) -> None:
    """A session cookie (gone when the browser closes) so a reload of the token-less URL stays signed in."""
    st.html(f"<script>document.cookie = '{_cookie_name()}={session_proof(stored)}; path=/; SameSite=Strict';</script>",
            unsafe_allow_javascript=True)


def gate() -> str | None:
    """The session's role; without the served dashboard's token, one screen and nothing else (st.stop)."""
    tokens = settings().tokens
    if not tokens:
        return None  # loopback: everything, as before
    ss = st.session_state
    if ss.get(_ROLE) in tokens:
        return ss[_ROLE]
    offered = st.query_params.get("token") or ss.pop("access_password", "")
    if offered and (role := role_for(offered, tokens)):
        ss[_ROLE] = role
        if "token" in st.query_params:
            del st.query_params["token"]  # the address bar can be shared now; this session keeps the role
        _keep_in_browser(role, tokens[role])
        return role
    if role := _role_from_cookie(tokens):
        ss[_ROLE] = role
        return role
    st.title("Sign-in needed")
    st.error("This dashboard is served to a network and needs its link with the token. "
             "Ask whoever started the server for the link.")
    if any(stored.startswith("scrypt$") for stored in tokens.values()):
        st.text_input("Password", type="password", key="access_password")
    st.stop()


def only_label_page(role: str | None, label_page: Path) -> None:
    """The labeller token's app: the Label page alone (no sidebar, no run, sweep or delete)."""
    if role != LABELLER:
        return
    projects = settings().projects
    if projects:
        st.session_state.setdefault("label_db", projects[0])
    st.navigation([st.Page(label_page, title="Label", icon=":material/label:", default=True)]).run()
    st.stop()


def allowed_path(path: str | os.PathLike[str]) -> Path:
    """`path` resolved, if the served dashboard's data roots hold it; OutsideRootsError otherwise."""
    roots = settings().roots
    return check_inside_roots(path, roots) if roots else Path(path).expanduser()


def allowed_project(path: str | os.PathLike[str]) -> Path:
    """A project file this session may open or create: under the roots and, for the labeller, one it was given."""
    resolved = allowed_path(path)
    projects = settings().projects
    if st.session_state.get(_ROLE) == LABELLER and projects and resolved.resolve() not in resolve_roots(projects):
        raise OutsideRootsError(f"{path} is not a project of the labeller token; it may open: {', '.join(projects)}")
    return resolved


def refuse_outside_roots(key: str, container=st, *, project: bool = False) -> None:
    """Before the widget `key` is drawn: a path typed, linked or opened outside what is allowed is
    cleared, with one line saying why (so nothing reads it)."""
    value = str(st.session_state.get(key) or "").strip()
    if not value:
        return
    try:
        (allowed_project if project else allowed_path)(value)
    except OutsideRootsError as exc:
        st.session_state[key] = ""
        container.error(str(exc), icon=":material/block:")


def check_job_limit(cache_root: str | os.PathLike[str]) -> None:
    """JobLimitError when the served dashboard already runs its --max-jobs jobs."""
    jobs.check_job_limit(cache_root, settings().max_jobs)
