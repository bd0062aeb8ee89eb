"""Who may use the dashboard: the local machine, unless the user chose where the server listens."""

from __future__ import annotations

import ipaddress

import streamlit as st


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
