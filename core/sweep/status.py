"""A sweep's progress, and the status file that the dashboard and `read_statuses` read."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.engine.cache import Cache

from core.files import atomic_write_json, read_regular_text
from core.sweep.executors import UnitOutcome
from core.sweep.grid import Sweep


@dataclass
class SweepProgress:
    """Whole-sweep progress in runs (cache units); ETA from the throughput so far."""

    total: int
    cached: int = 0  # complete before this sweep started
    computed: int = 0
    failed: int = 0
    cpu_seconds: float = 0.0  # summed over the runs computed
    started: float = field(default_factory=time.time)
    last: UnitOutcome | None = None

    @property
    def done(self) -> int:
        return self.cached + self.computed + self.failed

    @property
    def elapsed(self) -> float:
        return time.time() - self.started

    @property
    def eta_seconds(self) -> float | None:
        finished = self.computed + self.failed
        remaining = self.total - self.done
        if remaining == 0:
            return 0.0
        return None if finished == 0 else self.elapsed / finished * remaining

    def line(self) -> str:
        eta = self.eta_seconds
        eta_text = "ETA --" if eta is None else f"ETA {_duration(eta)}"
        extra = f", {self.cached} cached" if self.cached else ""
        extra += f", {self.failed} failed" if self.failed else ""
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return f"runs {self.done}/{self.total} ({pct:.0f}%{extra}), elapsed {_duration(self.elapsed)}, {eta_text}"

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "done": self.done, "cached": self.cached, "computed": self.computed,
                "failed": self.failed, "started": self.started, "elapsed": self.elapsed, "eta_seconds": self.eta_seconds}


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"



def status_path(cache: Cache, sweep_key: str) -> Path:
    return cache.area("sweeps") / f"{sweep_key}.json"


def _write_status(cache: Cache, key: str, sweep: Sweep, progress: SweepProgress, status: str, executor: str,
                  errors: dict[str, str]) -> None:
    atomic_write_json(status_path(cache, key), {
        "key": key, "name": sweep.name, "definition": sweep.definition(), "status": status, "executor": executor,
        "pid": os.getpid(), "updated": time.time(), **progress.to_dict(),
        "points": [{"index": p.index, "params": p.params, "config": p.config.to_dict(), "config_key": p.config.key()}
                   for p in sweep.points],
        "skipped": [{"params": p, "reason": why} for p, why in sweep.skipped], "errors": errors,
    })


def read_statuses(cache: Cache) -> list[dict[str, Any]]:
    """Every sweep the cache has seen, newest first (unreadable files are skipped)."""
    out = []
    for path in cache.area("sweeps").glob("*.json"):
        try:
            item = json.loads(read_regular_text(path))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            continue
        if isinstance(item, dict):
            out.append(item)
    return sorted(out, key=lambda s: s.get("updated", 0), reverse=True)
