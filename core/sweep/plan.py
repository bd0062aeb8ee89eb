"""Grid points -> deduplicated cache units: the plan a sweep command makes once and passes along."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from core.engine.cache import Cache
from core.engine.config import ConfigError, RunConfig, RunSpec, stable_hash
from core.datasets import load_dataset
from core.engine.runner import is_finished, prepare
from core.sweep.grid import _MAX_LISTED, GridError, GridPoint, Sweep, _describe
from core.types import Dataset


@dataclass
class Unit:
    """One cache unit of the sweep; `points` are the grid points that share it."""

    spec: RunSpec
    key: str
    dataset_key: str
    points: list[int] = field(default_factory=list)
    complete: bool = False


@dataclass
class Plan:
    """What a sweep needs: its datasets (each loaded once), its units and which are finished already.

    Made by `plan_sweep`, once per command: `run_sweep` and `load_sweep_results` take it
    as `plan=` so the datasets are not loaded nor the cache read a second time.
    """

    sweep: Sweep
    datasets: dict[str, Dataset]  # by dataset options key
    point_datasets: list[str]  # dataset key of each grid point
    units: list[Unit]

    @property
    def pending(self) -> list[Unit]:
        return [u for u in self.units if not u.complete]

    def check_for(self, sweep: Sweep) -> None:
        """Raise ValueError unless this plan was made from `sweep` (its points may be fewer: the data checks)."""
        if (self.sweep.base, self.sweep.grid) != (sweep.base, sweep.grid):
            raise ValueError(f"the plan was made for another sweep ({self.sweep.key}, not {sweep.key}); "
                             "pass plan_sweep(sweep, cache) of this sweep, or no plan")


def _dataset_key(config: RunConfig) -> str:
    return stable_hash({"dataset": config.dataset, **config.dataset_options})


def plan_sweep(sweep: Sweep, cache: Cache, *, load: Callable[[RunConfig], Dataset] | None = None) -> Plan:
    """Load each dataset once, run the data checks per point, dedupe units, find finished ones.

    Writes nothing. Raises GridError for points that fail the data checks, unless the sweep
    skips invalid points: then the plan's sweep lists them in `skipped`. `load` replaces
    `load_dataset` (the dashboard passes its in-memory copy).
    """
    datasets: dict[str, Dataset] = {}
    point_datasets, valid, skipped = [], [], list(sweep.skipped)
    for point in sweep.points:
        dkey = _dataset_key(point.config)
        if dkey not in datasets:
            datasets[dkey] = (load(point.config) if load is not None
                              else load_dataset(point.config.dataset, **point.config.dataset_options))
        try:
            prepare(point.config, datasets[dkey])
        except ConfigError as exc:
            skipped.append((point.params, str(exc)))
            continue
        valid.append(point)
        point_datasets.append(dkey)
    if len(skipped) > len(sweep.skipped):
        bad = skipped[len(sweep.skipped):]
        if not sweep.skip_invalid or not valid:
            listed = "; ".join(f"{_describe(p)}: {why}" for p, why in bad[:_MAX_LISTED])
            raise GridError(f"{len(bad)} of {len(sweep.points)} grid points do not fit the data: {listed}"
                            + ("; set skip_invalid = true (CLI: --skip-invalid) to run only the valid ones" if valid else ""))
        points = tuple(GridPoint(i, p.params, p.config) for i, p in enumerate(valid))
        sweep = Sweep(sweep.base, sweep.grid, points, tuple(skipped), sweep.name, sweep.heatmap, sweep.skip_invalid)
    units: dict[str, Unit] = {}
    for point, dkey in zip(sweep.points, point_datasets):
        fingerprint = datasets[dkey].fingerprint
        for spec in point.config.specs():
            key = spec.key(fingerprint)
            unit = units.get(key)
            if unit is None or spec.rounds > unit.spec.rounds:  # pool rounds only extend a run: keep the longest
                units[key] = unit = Unit(spec, key, dkey, unit.points if unit else [])
            unit.points.append(point.index)
    for unit in units.values():
        unit.complete = is_finished(unit.spec, cache.run(unit.key).load_rounds()[: unit.spec.rounds])
    return Plan(sweep, datasets, point_datasets, list(units.values()))
