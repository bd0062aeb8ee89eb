"""PNG and SVG of a plotly figure through kaleido and a Chrome/Chromium browser; HTML without one."""

from __future__ import annotations

import os
import shutil

import plotly.graph_objects as go

class ExportUnavailable(RuntimeError):
    """PNG/SVG export needs a Chrome or Chromium browser for kaleido; HTML export does not."""


def _ensure_browser_path() -> None:
    if "BROWSER_PATH" not in os.environ:
        found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if found:
            os.environ["BROWSER_PATH"] = found


def browser_available() -> bool:
    """Whether kaleido can find a Chrome/Chromium to render PNG and SVG."""
    _ensure_browser_path()
    path = os.environ.get("BROWSER_PATH", "")
    return bool(path) and os.path.exists(path)


def figure_image(fig: go.Figure, fmt: str, *, width: int = 1100, height: int | None = None, scale: float = 2) -> bytes:
    """PNG or SVG bytes via kaleido; raises ExportUnavailable when no browser is installed."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"image format must be 'png' or 'svg'; got {fmt!r}")
    _ensure_browser_path()
    try:
        return fig.to_image(format=fmt, width=width, height=height or fig.layout.height or 520,
                            scale=scale if fmt == "png" else 1)
    except RuntimeError as exc:  # plotly's wrapper of kaleido's ChromeNotFoundError
        raise ExportUnavailable(
            "PNG and SVG export need Chrome or Chromium (Debian: apt-get install -y chromium); "
            f"HTML export works without it. ({str(exc).strip().splitlines()[0]})") from None


def figure_html(fig: go.Figure) -> str:
    """A self-contained HTML page (plotly.js inline): opens offline."""
    return fig.to_html(include_plotlyjs=True, full_html=True)
