"""The dashboard binds to localhost wherever it is started (issue 15.3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.__main__ import streamlit_argv
from dashboard.components.access import refusal
from tests.dashboard.server import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]


def test_launcher_passes_the_project_settings_and_lets_the_user_override_them():
    argv = streamlit_argv(["--server.port", "9000"])
    assert argv[:3] == ["streamlit", "run", str(ROOT / "dashboard" / "app.py")]
    assert "--server.address=localhost" in argv and "--browser.gatherUsageStats=false" in argv
    chosen = streamlit_argv(["--server.address", "0.0.0.0"])
    assert not any(a.startswith("--server.address=") for a in chosen) and chosen[-2:] == ["--server.address", "0.0.0.0"]


@pytest.mark.parametrize("address, client, refused", [
    (None, "192.168.1.20", True), ("", "10.0.0.5", True), (None, "127.0.0.1", False), (None, "::1", False),
    (None, "::ffff:127.0.0.1", False), ("0.0.0.0", "192.168.1.20", False), ("localhost", "127.0.0.1", False),
    (None, None, False),
])
def test_an_unchosen_all_interfaces_server_serves_only_this_machine(address, client, refused):
    assert (refusal(address, client) is not None) is refused


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on `port`, from /proc/net/tcp{,6} (state 0A = LISTEN)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as /proc writes them


@pytest.mark.slow
def test_started_from_another_directory_it_listens_on_localhost_only(tmp_path):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "dashboard", "--server.port", str(port)], cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", server)
        addresses = _listening_addresses(port)
        assert addresses and addresses <= LOOPBACK, addresses
    finally:
        server.terminate()
        server.wait(timeout=20)


# ----------------------------------------------------------------------------- a served dashboard (issue 24)
from streamlit.testing.v1 import AppTest  # noqa: E402

from core.access import matches, token_hash  # noqa: E402
from dashboard.__main__ import _parser, serve_settings  # noqa: E402
from dashboard.components.access import FULL, LABELLER, SERVE_ENV, ServeSettings  # noqa: E402

APP = str(ROOT / "dashboard" / "app.py")
FULL_TOKEN, LABELLER_TOKEN = "full-token-for-tests", "labeller-token-for-tests"


def _served_app(monkeypatch, tmp_path, token: str | None = None, **settings) -> AppTest:
    served = ServeSettings({FULL: token_hash(FULL_TOKEN), LABELLER: token_hash(LABELLER_TOKEN)},
                           roots=(str(tmp_path),), **settings)
    monkeypatch.setenv(SERVE_ENV, served.to_env())
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["cache_dir"] = str(tmp_path / "cache")
    if token is not None:
        at.query_params["token"] = token
    return at.run()


def _page_titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


@pytest.mark.parametrize("token", [None, "", "wrong", FULL_TOKEN[:-1]])
def test_a_served_dashboard_without_its_token_shows_one_screen_and_nothing_else(monkeypatch, tmp_path, token):
    at = _served_app(monkeypatch, tmp_path, token)
    assert not at.exception
    assert [e.value for e in at.error] == ["This dashboard is served to a network and needs its link with the token. "
                                           "Ask whoever started the server for the link."]
    assert not at.sidebar.children and not at.button and not at.get("plotly_chart")


def test_the_labeller_token_opens_the_label_page_only(monkeypatch, tmp_path):
    at = _served_app(monkeypatch, tmp_path, LABELLER_TOKEN)
    assert not at.exception, [e.value for e in at.exception]
    assert _page_titles(at) == ["Label"] and "token" not in at.query_params
    assert not [b for b in at.button if b.key in ("sidebar_run", "sidebar_cancel")]
    with pytest.raises(ValueError, match=r"Known pages: \['.*label\.py'\]"):  # Runs is not in its navigation
        at.switch_page("app_pages/runs.py")


def test_the_full_token_opens_everything_and_is_kept_by_the_session_not_the_url(monkeypatch, tmp_path):
    at = _served_app(monkeypatch, tmp_path, FULL_TOKEN)
    assert not at.exception, [e.value for e in at.exception]
    assert "token" not in at.query_params and at.button(key="sidebar_run")
    at.switch_page("app_pages/runs.py").run()  # a later run of the session, without the token in the URL
    assert not at.exception and "Sign-in needed" not in _page_titles(at)


def test_a_labeller_given_projects_cannot_open_another(monkeypatch, tmp_path):
    mine, other = tmp_path / "mine" / "labels.albench.db", tmp_path / "other" / "labels.albench.db"
    at = _served_app(monkeypatch, tmp_path, LABELLER_TOKEN, projects=(str(mine),))
    assert at.text_input(key="label_db").value == str(mine)  # opens on the labeller's first project
    at.text_input(key="label_db").set_value(str(other)).run()
    assert at.text_input(key="label_db").value == ""
    assert any("not a project of the labeller token" in e.value for e in at.error)


def test_the_sidebar_refuses_a_data_directory_outside_the_roots(monkeypatch, tmp_path):
    at = _served_app(monkeypatch, tmp_path, FULL_TOKEN)
    at.selectbox(key="sidebar_dataset").set_value("folder").run()
    at.text_input(key="sidebar_data_dir").set_value("/etc").run()
    assert at.text_input(key="sidebar_data_dir").value == ""
    assert [e.value for e in at.sidebar.error if "outside the data roots" in e.value] == [
        f"/etc is outside the data roots this server allows: {tmp_path.resolve()} (--data-root)"]


def test_the_sidebar_refuses_a_weights_file_outside_the_roots(monkeypatch, tmp_path):
    at = _served_app(monkeypatch, tmp_path, FULL_TOKEN)
    at.session_state["settings"] = {**at.session_state["settings"], "learner": "pretrained",
                                    "learner_params": {"pretrained": {"weights": "/etc/passwd"}}}
    at.run()
    assert any("/etc/passwd is outside the data roots" in e.value for e in at.sidebar.error)
    assert at.session_state["config"] is None  # Run stays disabled


def _options(*argv: str):
    return _parser().parse_known_args(list(argv))[0]


def test_loopback_has_no_token_roots_or_limit_unless_asked(tmp_path):
    settings, shown = serve_settings(_options(), served=False, cache_dir=str(tmp_path))
    assert settings == ServeSettings() and shown == {}
    settings, _ = serve_settings(_options("--data-root", str(tmp_path)), served=False, cache_dir=str(tmp_path))
    assert settings.roots == (str(tmp_path.resolve()),) and not settings.tokens


def test_serving_a_network_makes_two_tokens_and_passes_only_their_hashes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    settings, shown = serve_settings(_options(), served=True, cache_dir=str(cache))
    assert set(shown) == {FULL, LABELLER} and shown[FULL] != shown[LABELLER]
    env = settings.to_env()
    assert shown[FULL] not in env and shown[LABELLER] not in env
    assert all(matches(shown[role], ServeSettings.from_env({SERVE_ENV: env}).tokens[role]) for role in shown)
    assert settings.roots == (str(tmp_path.resolve()), str(cache.resolve())) and settings.max_jobs == 1
    chosen, shown = serve_settings(_options("--token", "mine", "--max-jobs", "3"), served=True, cache_dir=str(cache))
    assert shown[FULL] == "mine" and chosen.max_jobs == 3


def test_the_launcher_refuses_bad_serving_options_with_one_line(tmp_path):
    password = tmp_path / "password"
    password.write_text("not a hash")
    password.chmod(0o644)
    for argv, expected in [(["--password-file", str(password)], "readable by others"),
                           (["--max-jobs", "0"], "--max-jobs must be at least 1"),
                           (["--data-root", str(tmp_path / "nope")], "is not a directory"),
                           (["--data-root", str(tmp_path), "--labeller-project", "/etc/x.db"], "outside the data roots")]:
        done = subprocess.run([sys.executable, "-m", "dashboard", "--server.address", "0.0.0.0", *argv], cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "ALBENCH_CACHE_DIR": str(tmp_path)},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and expected in done.stderr and len(done.stderr.strip().splitlines()) == 1, done


def test_a_password_server_asks_for_it_on_the_sign_in_screen(monkeypatch, tmp_path):
    from core.access import password_hash

    served = ServeSettings({FULL: password_hash("open sesame"), LABELLER: token_hash(LABELLER_TOKEN)})
    monkeypatch.setenv(SERVE_ENV, served.to_env())
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["cache_dir"] = str(tmp_path / "cache")
    at.run()
    at.text_input(key="access_password").set_value("open sesam").run()
    assert "Sign-in needed" in _page_titles(at) and not at.button
    at.text_input(key="access_password").set_value("open sesame").run()
    assert not at.exception and "Sign-in needed" not in _page_titles(at) and at.button(key="sidebar_run")
