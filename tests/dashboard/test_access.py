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
