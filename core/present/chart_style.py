"""How charts look, the same in every one: each strategy's colour, marker and dash, class
colours, and titles that wrap with room made for them."""

from __future__ import annotations

import functools
import textwrap
from dataclasses import dataclass

from plotly.colors import qualitative

_GREY = "#7f7f7f"  # random's colour, and no one else's
# Okabe & Ito's palette (2008; Wong, Nature Methods 2011): seven colours that stay apart for the
# common colour-vision deficiencies. Sixteen strategies need more marks than seven colours, so
# each family (the module that holds a strategy: uncertainty, coverage, bald, ...) also has its
# own marker and dash, and two strategies share a colour only across families.
OKABE_ITO = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#f0e442"]
_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "star", "hexagon", "cross", "pentagon", "triangle-down"]
_DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
_FIXED = ["random", "entropy", "least_confidence", "smallest_margin", "largest_margin", "hybrid"]


@dataclass(frozen=True)
class Style:
    """How one strategy is drawn in every chart: colour, marker symbol and line dash."""

    color: str
    symbol: str
    dash: str
    family: str


def _family(strategy: str) -> str:
    from core.strategies import STRATEGIES

    return STRATEGIES[strategy].__module__.rsplit(".", 1)[-1] if strategy in STRATEGIES else strategy


@functools.cache
def _styles() -> dict[str, Style]:
    """Every registered strategy's style: within a family every colour differs; families differ in
    marker and dash; random is grey, solid, circles."""
    from core.strategies import STRATEGIES

    order = _FIXED[1:] + [name for name in STRATEGIES.names() if name not in _FIXED]
    families = list(dict.fromkeys(_family(s) for s in order))
    styles = {"random": Style(_GREY, _SYMBOLS[0], _DASHES[0], "random")}
    taken: dict[str, set[int]] = {}  # colours used per family and per dash
    for i, name in enumerate(order):
        f = families.index(_family(name))
        symbol, dash = _SYMBOLS[f % len(_SYMBOLS)], _DASHES[f % len(_DASHES)]
        avoid = taken.setdefault(f"family {f}", set()) | taken.setdefault(f"dash {dash}", set())
        k = next(c % len(OKABE_ITO) for c in range(i, i + len(OKABE_ITO)) if c % len(OKABE_ITO) not in avoid)
        taken[f"family {f}"].add(k)
        taken[f"dash {dash}"].add(k)
        styles[name] = Style(OKABE_ITO[k], symbol, dash, families[f])
    return styles


def strategy_style(strategy: str) -> Style:
    """The same colour, marker and dash for a strategy in every chart; an unregistered name gets
    a colour from its letters and the family marks of no registered family."""
    styles = _styles()
    if strategy in styles:
        return styles[strategy]
    return Style(OKABE_ITO[sum(map(ord, strategy)) % len(OKABE_ITO)], _SYMBOLS[-1], "dot", strategy)


def strategy_color(strategy: str) -> str:
    """The same colour for a strategy in every chart (random is always grey)."""
    return strategy_style(strategy).color


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


_CLASS_PALETTE = qualitative.D3
# Strong colours only (the pale Light24 and Pastel sets vanish on white at the pool's opacity).
_MANY_CLASS_PALETTE = list(dict.fromkeys(c.upper() for c in qualitative.Dark24 + qualitative.Alphabet + qualitative.Bold
                                         + qualitative.Vivid + qualitative.Safe + qualitative.Prism))


def class_colors(n_classes: int) -> list[str]:
    """One colour per class (distinct up to about 90 classes, then repeating)."""
    palette = _CLASS_PALETTE if n_classes <= 10 else _MANY_CLASS_PALETTE
    return [palette[c % len(palette)] for c in range(n_classes)]


TITLE_CHARS = 95  # a title line at 17 px fits a 1100 px export and a wide dashboard column
SUBTITLE_CHARS = 150


def wrap(text: str, width: int) -> str:
    """`text` broken into lines of at most `width` characters with <br> (plotly titles do not wrap)."""
    return "<br>".join(textwrap.wrap(text, width, break_long_words=False)) or text


def _title(text: str, subtitle: str | None) -> dict:
    return dict(text=wrap(text, TITLE_CHARS),
                subtitle=dict(text=wrap(subtitle, SUBTITLE_CHARS) if subtitle else "", font=dict(size=12, color="#555")))


def _top_margin(subtitle: str | None, title: str = "") -> int:
    """Room above the plot for the wrapped title and subtitle."""
    lines = wrap(title, TITLE_CHARS).count("<br>")
    sub = (wrap(subtitle, SUBTITLE_CHARS).count("<br>") + 1) if subtitle else 0
    return 70 + 24 * lines + (30 + 16 * (sub - 1) if sub else 0)


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    """(rows, columns) of a grid of `n` panels at most `max_cols` wide."""
    cols = max(1, min(n, max_cols))
    return -(-n // cols), cols
