"""Small widget helpers whose options change with the data (rounds arrive, strategies change)."""

from __future__ import annotations

from typing import Sequence

import streamlit as st


def keep_valid(key: str, options: Sequence, *, many: bool = False) -> None:
    """Drop a stored widget value that is no longer among its options (before the widget draws)."""
    if key not in st.session_state:
        return
    value = st.session_state[key]
    # Write only a real change: a write is sent to the browser and would undo an edit made
    # while this rerun ran.
    if many:
        kept = [v for v in value if v in options]
        if kept != list(value):
            st.session_state[key] = kept
    elif value not in options:
        del st.session_state[key]


def round_slider(container, label: str, key: str, rounds: int, help: str | None = None) -> int:
    """A 1-based round slider that follows the newest round until the user moves it back."""
    ss = st.session_state
    if rounds <= 1:
        container.caption(f"{label}: 1 (more appear as rounds complete)")
        return 1
    last_max = ss.get(f"{key}_max")
    if key not in ss or (ss[key] != rounds and (ss[key] == last_max or ss[key] > rounds)):
        ss[key] = rounds
    ss[f"{key}_max"] = rounds
    return container.slider(label, 1, rounds, key=key, help=help)
