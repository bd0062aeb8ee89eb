"""CSV fields a spreadsheet will not run: the OWASP CSV-injection rule, and its exact inverse.

A field that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (a class named `=cmd|' -C calc'!A0` runs a command).
OWASP's guidance: prefix such a field with a single quote, which spreadsheets show as text.
`restore` undoes exactly that, so albench reads its own CSVs back to the same values: a field
that already starts with quotes before a trigger character gets one more quote, so
`restore(neutralise(x)) == x` for every text `x`.
"""

from __future__ import annotations

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _quoted_trigger(text: str) -> bool:
    """True for text that is zero or more single quotes, then a trigger character."""
    return text.lstrip("'").startswith(TRIGGERS)


def neutralise(text: str) -> str:
    """`text` as a CSV field no spreadsheet evaluates: a leading `'` where it starts like a formula."""
    return "'" + text if _quoted_trigger(text) else text


def restore(text: str) -> str:
    """The text `neutralise` was given (fields it left alone come back unchanged)."""
    return text[1:] if text.startswith("'") and _quoted_trigger(text) else text
