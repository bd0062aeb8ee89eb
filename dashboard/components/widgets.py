"""Small widget helpers: values that survive pages and reruns, options that change with the
data (rounds arrive, strategies change), and engine messages shown as plain text.

Kept widgets. Streamlit forgets a widget's value once a run ends without drawing it (another
page, or a page stopped early with "nothing cached"), and when a run stopped by `st.stop()`
skips that clean-up the browser still redraws the widget at its default (a target of 0.00)
while the server holds the old value. So every page-local widget is declared with `keep`
(or `keep_valid`, `round_slider`) right before it draws; `restore_kept`, called by app.py at
the top of every run, remembers the value while the widget is on screen and writes it back
(which also sends it to the browser) in any run after one that did not draw it. Its key stays
readable from every page (Export reads `compare_target`).
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import streamlit as st

_VALUES = "widgets_kept"  # widget key -> its last value
_DRAWN = "widgets_drawn"  # widget key -> number of the run that last drew it
_RUN = "widgets_run"  # full runs of this session so far
_MISSING = object()


def restore_kept() -> None:
    """Once per run, before any widget draws (app.py): bring back kept values the last run did not draw."""
    ss = st.session_state
    run = ss.get(_RUN, 0) + 1
    ss[_RUN] = run
    values: dict = ss.setdefault(_VALUES, {})
    drawn: dict = ss.setdefault(_DRAWN, {})
    for key in list(values):
        on_screen = drawn.get(key) == run - 1
        current = ss.get(key, _MISSING)
        # A value that differs from the remembered one is the user's (a run cut short by the next
        # interaction never reached the widget): keep it rather than undo the edit.
        if current is not _MISSING and (on_screen or current != values[key]):
            values[key] = current
        if not on_screen or current is _MISSING:  # a page switch drops the old page's widgets at once
            ss[key] = values[key]


def keep(key: str, default: Any = _MISSING) -> str:
    """Declare widget `key` kept (call right before it draws; pass `default` instead of value=/index=)."""
    ss = st.session_state
    if default is not _MISSING:
        ss.setdefault(key, default)
    values: dict = ss.setdefault(_VALUES, {})
    if key in ss:
        values[key] = ss[key]
    else:
        values.pop(key, None)
    ss.setdefault(_DRAWN, {})[key] = ss.get(_RUN, 0)
    return key


def keep_valid(key: str, options: Sequence, *, many: bool = False, default: Any = _MISSING) -> str:
    """Keep widget `key` (see `keep`) and drop its value once no longer among its options (before it draws)."""
    ss = st.session_state
    if key in ss:
        value = ss[key]
        # Write only a real change: a write is sent to the browser and would undo an edit made
        # while this rerun ran.
        if many:
            kept = [v for v in value if v in options]
            if kept != list(value):
                ss[key] = kept
        elif value not in options:
            del ss[key]
    return keep(key, default)


def round_slider(container, label: str, key: str, rounds: int, help: str | None = None) -> int:
    """A kept 1-based round slider that follows the newest round until the user moves it back."""
    ss = st.session_state
    if rounds <= 1:
        container.caption(f"{label}: 1 (more appear as rounds complete)")
        return 1
    last_max = ss.get(f"{key}_max")
    if key not in ss or (ss[key] != rounds and (ss[key] == last_max or ss[key] > rounds)):
        ss[key] = rounds
    ss[f"{key}_max"] = rounds
    return container.slider(label, 1, rounds, key=keep(key), help=help)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def plain(text: object) -> str:
    """`text` for st.error / st.warning / st.caption exactly as written: Markdown, LaTeX ($) and
    emoji/colour directives (:) escaped, line breaks kept (engine messages hold `alpha*batch`, paths)."""
    return "  \n".join(_MARKDOWN.sub(r"\\\1", line) for line in str(text).splitlines() or [""])

