"""The sweep's definition: a grid file or grid dict -> a validated `Sweep` of grid points."""

from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from core.engine.config import ConfigError, RunConfig, option_names, resolve
from core.hashing import stable_hash
from core.learners import learner_param_names
from core.engine.settings import ALIASES, LEARNER_PREFIX, canonical, flatten, is_strategy_setting, read_settings_file, \
    split_strategy_param
from core.strategies import STRATEGIES

OPTION_NAMES: tuple[str, ...] = tuple(n for n in option_names() if n != "strategy_params")  # those declared at import
FILE_KEYS = ("name", "skip_invalid", "base", "grid", "heatmap")
LEARNER_PARAM_PREFIX = LEARNER_PREFIX
_DEFAULTS = RunConfig()
_MAX_LISTED = 8  # invalid grid points named in one error message
# The most grid points a sweep expands to, checked from the lists' lengths before anything is built:
# each point is a RunConfig of several cached runs (a 1000 x 1000 grid took 3.5 GB and 3 minutes to
# refuse point by point). Ten thousand is beyond any sweep one machine or a small cluster finishes.
MAX_GRID_POINTS = 10_000


class GridError(ConfigError):
    """The grid file or grid definition is invalid; the message says what is allowed."""


@dataclass(frozen=True)
class GridPoint:
    """One combination of grid values and the validated RunConfig it gives."""

    index: int
    params: dict[str, Any]  # grid option -> value at this point ("learner_params.C" for learner settings)
    config: RunConfig


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: its definition and its valid grid points."""

    base: dict[str, Any]
    grid: dict[str, list[Any]]
    points: tuple[GridPoint, ...]
    skipped: tuple[tuple[dict[str, Any], str], ...] = ()  # (params, why) of invalid points left out
    name: str = ""
    heatmap: tuple[str, str | None] | None = None
    skip_invalid: bool = False  # points that fail the data checks are skipped too, not an error

    @property
    def key(self) -> str:
        """Depends only on the runs the sweep expands to, not on how the file spelled them."""
        return stable_hash([p.config.key() for p in self.points])

    @property
    def axes(self) -> list[str]:
        """Grid options shown as columns of the results (the strategy has its own column)."""
        return [name for name in self.grid if name != "strategies"]

    def heatmap_axes(self) -> tuple[str, str | None] | None:
        if self.heatmap is not None:
            return self.heatmap
        varying = [a for a in self.axes if len(self.grid[a]) > 1] or self.axes
        return (varying[0], varying[1] if len(varying) > 1 else None) if varying else None

    def definition(self) -> dict[str, Any]:
        """JSON-able, readable back by `parse_grid` (the dashboard launches sweeps with it)."""
        out: dict[str, Any] = {"name": self.name, "skip_invalid": self.skip_invalid, "base": self.base, "grid": self.grid}
        if self.heatmap is not None:
            out["heatmap"] = {"x": self.heatmap[0], **({"y": self.heatmap[1]} if self.heatmap[1] else {})}
        return out


def _flatten(section: dict[str, Any], where: str) -> dict[str, Any]:
    """TOML spells `learner_params.C = [...]` and `hybrid.alpha = [...]` as nested tables; name them
    "learner_params.C" and "hybrid.alpha", as every entry point does (core.engine.settings.flatten)."""
    try:
        return flatten(section, STRATEGIES.names())
    except ConfigError as exc:
        raise GridError(f"[{where}] {exc}", exc.option) from None


def strategy_option(name: str) -> tuple[str, str] | None:
    """("hybrid", "alpha") for a grid option naming a strategy parameter ("hybrid.alpha" or its alias
    "alpha"), None for a run option or a learner setting."""
    return split_strategy_param(name) if is_strategy_setting(name) else None


def _check_names(names: Iterable[str], where: str, learner: str) -> None:
    for name in names:
        if name.startswith(LEARNER_PARAM_PREFIX):
            continue  # checked with the learner when each point is built, which names the valid ones
        target = strategy_option(name)
        if target is not None:
            strategy, param = target
            if strategy not in STRATEGIES or param not in STRATEGIES[strategy].parameters:
                takes = (f"; {strategy!r} takes {list(STRATEGIES[strategy].parameters) or 'no parameters'}"
                         if strategy in STRATEGIES else f"; strategies: {STRATEGIES.names()}")
                raise GridError(f"{where}: unknown strategy parameter {name!r}{takes}")
            continue
        names = [n for n in option_names() if n not in ("strategy_params", "learner_params")]  # declared now
        if name not in names:
            valid = names
            try:
                learner_hint = f"; learner settings as learner_params.NAME, for {learner!r}: {learner_param_names(learner)}"
            except ValueError:
                learner_hint = "; learner settings as learner_params.NAME"
            raise GridError(f"{where}: unknown option {name!r}; valid options: {valid}{learner_hint}; strategy "
                            f"parameters as STRATEGY.PARAM (`python -m core strategies` lists them), or "
                            f"{sorted(ALIASES)}")


def relevant_strategies(option: str) -> set[str] | None:
    """The strategies whose runs a swept option can change (None: all of them), from the declarations:
    a strategy parameter changes its own strategy only."""
    target = strategy_option(option)
    return None if target is None else {target[0]}


def _point_settings(params: dict[str, Any]) -> dict[str, Any]:
    """A string value of `strategies` at a grid point is a single strategy (RunConfig normalises the rest:
    TOML `1` for a float option becomes 1.0, as on the command line)."""
    if isinstance(params.get("strategies"), str):
        return {**params, "strategies": [params["strategies"]]}
    return params


def _describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items()) or "(base)"


def build_sweep(
    base: dict[str, Any],
    grid: dict[str, Any],
    *,
    name: str = "",
    heatmap: dict[str, str] | Sequence[str] | None = None,
    skip_invalid: bool = False,
) -> Sweep:
    """Validate a grid and expand it into grid points. Raises GridError naming what is wrong.

    Parameters
    ----------
    base : dict
        RunConfig options shared by every point; `learner_params` may be a dict or
        "learner_params.NAME" entries.
    grid : dict
        Option -> non-empty list of distinct values.
    skip_invalid : bool
        Leave out points the engine rejects (for example clusters > round(alpha * batch))
        instead of failing; they are listed in `Sweep.skipped`.
    """
    base, grid = _flatten(dict(base), "base"), _flatten(dict(grid), "grid")
    learner = base.get("learner", _DEFAULTS.learner)
    _check_names(base, "[base]", learner)
    _check_names(grid, "[grid]", learner)
    if not grid:
        raise GridError("[grid] is empty; give at least one option with a list of values, e.g. alpha = [0.25, 0.5, 1.0]")
    both = sorted(set(map(canonical, base)) & set(map(canonical, grid)))  # alpha and hybrid.alpha are one option
    if both:
        raise GridError(f"option(s) {both} are both fixed ([base] or command line) and swept ([grid]); keep each in one place")
    for option, values in grid.items():
        if not isinstance(values, list) or not values:
            raise GridError(f"[grid] {option} must be a non-empty list of values; got {values!r}")
        seen = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(seen)) != len(seen):
            raise GridError(f"[grid] {option} lists a value more than once: {values!r}")
    n_points = math.prod(len(values) for values in grid.values())
    if n_points > MAX_GRID_POINTS:
        raise GridError(f"the grid has {' x '.join(str(len(v)) for v in grid.values())} = {n_points} points; a sweep "
                        f"takes at most {MAX_GRID_POINTS}: sweep fewer values, or split it into several sweeps")
    axes = tuple(heatmap.values()) if isinstance(heatmap, dict) else tuple(heatmap or ())
    if not all(isinstance(axis, str) for axis in axes):
        raise GridError(f"heatmap axes must be grid option names; got {list(axes)}")
    if isinstance(heatmap, dict) and sorted(heatmap) not in (["x"], ["x", "y"]):
        raise GridError(f"[heatmap] takes x and y (grid option names); got {sorted(heatmap)}")
    for axis in axes:
        if axis not in grid or axis == "strategies":
            raise GridError(f"heatmap axis {axis!r} must be a swept option other than strategies; "
                            f"choose from {[g for g in grid if g != 'strategies']}")
    if len(axes) not in (0, 1, 2) or (len(axes) == 2 and axes[0] == axes[1]):
        raise GridError(f"heatmap needs one or two different grid options; got {list(axes)}")

    points, skipped = [], []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values))
        try:
            config = resolve(base, _point_settings(params))
        except ConfigError as exc:
            skipped.append((params, str(exc)))
            continue
        except TypeError as exc:  # a value of the wrong shape (a table where a number belongs)
            skipped.append((params, f"invalid value ({exc})"))
            continue
        points.append(GridPoint(len(points), params, config))
    if skipped and (not skip_invalid or not points):
        listed = "; ".join(f"{_describe(p)}: {why}" for p, why in skipped[:_MAX_LISTED])
        more = f"; and {len(skipped) - _MAX_LISTED} more" if len(skipped) > _MAX_LISTED else ""
        hint = "" if points else " (no valid point left)"
        raise GridError(f"{len(skipped)} of {len(skipped) + len(points)} grid points are invalid{hint}: {listed}{more}"
                        + ("" if not points else "; set skip_invalid = true (CLI: --skip-invalid) to run only the valid ones"))
    return Sweep(base=base, grid=grid, points=tuple(points), skipped=tuple(skipped), name=str(name),
                 heatmap=(axes[0], axes[1] if len(axes) > 1 else None) if axes else None, skip_invalid=skip_invalid)


def parse_grid(obj: dict[str, Any], *, base: dict[str, Any] | None = None, vary: dict[str, list[Any]] | None = None,
               skip_invalid: bool | None = None) -> Sweep:
    """A grid file's content -> Sweep. `base` (command-line options) and `vary` add to the file."""
    if not isinstance(obj, dict):
        raise GridError(f"grid file: expected a table with keys {list(FILE_KEYS)}; got {obj!r}")
    unknown = sorted(set(obj) - set(FILE_KEYS))
    if unknown:
        raise GridError(f"grid file: unknown key(s) {unknown}; valid top-level keys: {list(FILE_KEYS)}")
    for section in ("base", "grid", "heatmap"):
        if section in obj and not isinstance(obj[section], dict):
            raise GridError(f"grid file: [{section}] must be a table; got {obj[section]!r}")
    if not isinstance(obj.get("skip_invalid", False), bool):
        raise GridError(f"grid file: skip_invalid must be true or false; got {obj['skip_invalid']!r}")
    if not isinstance(obj.get("name", ""), str):
        raise GridError(f"grid file: name must be a string; got {obj['name']!r}")
    file_base = _flatten(obj.get("base", {}), "base")
    cli_base = _flatten(base or {}, "base")
    clash = sorted(set(file_base) & set(cli_base))
    if clash:
        raise GridError(f"option(s) {clash} are given both in the grid file's [base] and on the command line; keep one")
    grid = {**_flatten(obj.get("grid", {}), "grid"), **_flatten(vary or {}, "grid")}
    skip = bool(obj.get("skip_invalid", False)) if skip_invalid is None else skip_invalid
    return build_sweep({**file_base, **cli_base}, grid, name=obj.get("name", ""), heatmap=obj.get("heatmap"),
                       skip_invalid=skip)


def read_grid_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """TOML (or JSON for *.json) -> dict. Raises GridError, one line naming the file (see
    core.engine.settings.read_settings_file: missing, unreadable, not text, invalid, nested too deep)."""
    path = Path(path)
    try:
        obj = read_settings_file(path, "grid file", kind="JSON" if path.suffix == ".json" else "TOML")
    except ConfigError as exc:
        raise GridError(str(exc), "grid") from None
    if not isinstance(obj, dict):
        raise GridError(f"grid file {str(path)!r}: expected a table with keys {list(FILE_KEYS)}; got {type(obj).__name__}")
    return obj


def load_grid(path: str | os.PathLike[str], **kwargs: Any) -> Sweep:
    return parse_grid(read_grid_file(path), **kwargs)

