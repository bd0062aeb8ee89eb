"""Reading a growing comparison (issue 15.13): the dashboard re-reads a running comparison
whenever a round lands. Cold = every record decoded and checked (what each rerun cost
before records were memoised); one new round = what a rerun costs now.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

TITLE = "Growing comparison: re-read after one new round vs every record"
STRATEGIES = ("random", "entropy", "least_confidence", "smallest_margin", "largest_margin", "hybrid")


def run(quick: bool) -> list[dict]:
    import core.engine.cache
    from core.engine.cache import Cache
    from core.engine.config import RunConfig
    from core.engine.runner import load_comparison, run_comparison

    repeats, rounds = (5, 10) if quick else (25, 20)
    config = RunConfig(strategies=STRATEGIES, repeats=repeats, rounds=rounds, initial=20, batch=10)
    with tempfile.TemporaryDirectory(prefix="bench-growing-") as tmp:
        cache = Cache(Path(tmp) / "cache")
        t0 = time.perf_counter()
        comparison = run_comparison(config, cache=cache)
        compute = time.perf_counter() - t0
        n_records = sum(len(r) for r in comparison.runs.values())
        cold, warm = [], []
        run_dir = next((Path(tmp) / "cache" / "runs").iterdir())
        last = sorted(run_dir.glob("round_*.npz"))[-1]
        for _ in range(3 if quick else 5):
            core.engine.cache._MEMO.clear()
            core.engine.cache._memo_bytes = 0
            t0 = time.perf_counter()
            load_comparison(config, Cache(cache.root), comparison.dataset)
            cold.append(time.perf_counter() - t0)
            shutil.copyfile(last, last.with_suffix(".tmp"))  # the round written anew: a new inode, as a writer's rename
            last.with_suffix(".tmp").replace(last)
            t0 = time.perf_counter()
            load_comparison(config, Cache(cache.root), comparison.dataset)
            warm.append(time.perf_counter() - t0)
    return [
        {"case": "computing the comparison (not a read)", "records": n_records, "seconds": round(compute, 1), "goal": ""},
        {"case": "re-read, every record decoded (before)", "records": n_records,
         "seconds": round(statistics.median(cold), 3), "goal": ""},
        {"case": "re-read after one new round (now)", "records": n_records,
         "seconds": round(statistics.median(warm), 3), "goal": "< 1 s (the page polls every second)"},
    ]
