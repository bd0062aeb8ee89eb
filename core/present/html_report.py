"""One self-contained HTML page of settings, text, tables and charts (the Export page's report)."""

from __future__ import annotations

import html
from typing import Mapping, Sequence

import pandas as pd

from core.present.chart_labels import format_setting

def _settings_table(settings: Mapping, css: str) -> str:
    return (f"<table class='{css}'>" + "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(format_setting(v))}</td></tr>" for k, v in settings.items())
        + "</table>")


def html_report(title: str, figures: Sequence[tuple], *, config: Mapping,
                tables: Sequence[tuple[str, pd.DataFrame]] = (), paragraphs: Sequence[tuple[str, str]] = ()) -> str:
    """One self-contained HTML page: the settings as a readable table, `paragraphs` ((heading,
    text): the verdict), the tables and every chart.

    `figures` holds (name, figure) or (name, figure, shown): `shown` (a mapping) is what the
    chart was drawn with (round, repeat, normalisation...), printed above it. Values read as
    a person writes them (`format_setting`): no None, {} or Python lists.
    """
    parts = [f"<h1>{html.escape(title)}</h1>", "<h2>Settings</h2>", _settings_table(config, "config")]
    for heading, text in paragraphs:
        parts += [f"<h2>{html.escape(heading)}</h2>", f"<p class='verdict'>{html.escape(text)}</p>"]
    for name, table in tables:
        parts += [f"<h2>{html.escape(name)}</h2>", table.to_html(index=False, float_format=lambda x: f"{x:.3f}", na_rep="")]
    for i, (name, fig, *rest) in enumerate(figures):
        parts.append(f"<h2>{html.escape(name)}</h2>")
        if rest and rest[0]:
            parts.append(_settings_table(rest[0], "shown"))
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "table.config th,table.shown th,table.config td,table.shown td{text-align:left}"
             "table.shown{font-size:90%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
