"""Wall time of the full digits comparison from the command line, process start included.

All six strategies, logistic learner, 10 rounds, one repeat: cold (empty cache) and
again with everything cached (goals: under 10 s cold, under 1 s cached).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

TITLE = "full digits comparison (6 strategies x 10 rounds, logistic), `python -m core run`, process start included"
ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = "random,entropy,least_confidence,smallest_margin,largest_margin,hybrid"


_MEASURE = (
    "import resource, subprocess, sys, time; t0 = time.perf_counter(); "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command, measured by a fresh parent process
    (a parent's RUSAGE_CHILDREN is the largest child it ever had)."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], cwd=ROOT, check=True, capture_output=True, text=True)
    seconds, rss_kb = out.stdout.split()
    return float(seconds), float(rss_kb) / 1024


def run(quick: bool = False) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "core", "run", "--dataset", "digits", "--learner", "logistic", "--strategies",
               STRATEGIES, "--initial", "20", "--batch", "10", "--rounds", "10", "--seed", "0", "--quiet",
               "--cache-dir", f"{tmp}/cache", "--out", f"{tmp}/out"]
        baseline = [sys.executable, "-c", "import core.cli, core.engine.runner, core.present.figures"]
        t, rss = _timed(baseline)
        rows.append({"case": "imports only (python -c 'import core.engine.runner, ...')", "seconds": round(t, 2), "peak_RSS_MB": round(rss)})
        t, rss = _timed(cmd)
        rows.append({"case": "cold: empty cache, computes 60 rounds", "seconds": round(t, 2), "peak_RSS_MB": round(rss)})
        t, rss = _timed(cmd)
        rows.append({"case": "cached: same command again", "seconds": round(t, 2), "peak_RSS_MB": round(rss)})
        t, rss = _timed(cmd + ["--no-cache"])
        rows.append({"case": "no cache (compute, read/write nothing)", "seconds": round(t, 2), "peak_RSS_MB": round(rss)})
    return rows
