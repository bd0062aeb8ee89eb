"""Run the benchmarks and print one table each.

    python -m benchmarks               # every benchmark
    python -m benchmarks selection     # only benchmarks/bench_selection.py
    python -m benchmarks --quick       # smaller sizes (a smoke run)
    python -m benchmarks --list
    python -m benchmarks --threads 2  # BLAS/OpenMP/numba/torch threads (default 1), in every row

A benchmark is a module `benchmarks/bench_<name>.py` with `TITLE` and
`run(quick: bool) -> list[dict]` (one dict per table row).
"""

from __future__ import annotations

import argparse
import os
import importlib
import pkgutil
import platform
import sys
import time

import benchmarks
from core.engine.threads import describe, limited_threads


def available() -> list[str]:
    return sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:  # not Linux
        return platform.processor()


def machine() -> str:
    import numpy as np

    load = ", load %.2f %.2f %.2f" % os.getloadavg() if hasattr(os, "getloadavg") else ""
    return (f"{platform.machine()} {cpu_model()}, {os.cpu_count()} cores{load}, Python {platform.python_version()}, "
            f"numpy {np.__version__}")


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {available()})")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not numbers to quote")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for BLAS, OpenMP, numba and torch (core.engine.threads), reported in every row "
                             "(default: $BENCH_THREADS, else 1: measured fastest on the shared 2-core machine; "
                             "0 leaves the libraries' defaults)")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(available()))
        return 0
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {available()}")
    if args.threads is not None:
        if args.threads < 0:
            parser.error(f"--threads must be >= 0 (0: the libraries' defaults); got {args.threads}")
        os.environ["BENCH_THREADS"] = str(args.threads)  # benchmarks that run on their own read it too
    threads = int(os.environ.get("BENCH_THREADS", "1"))
    print(f"# machine: {machine()}")
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        t0 = time.perf_counter()
        with limited_threads(threads):
            rows = module.run(quick=args.quick)
            used = describe()
        rows = [{**row, "threads": row.get("threads", used)} for row in rows]
        print(f"\n## {name}: {module.TITLE}  ({time.perf_counter() - t0:.0f} s; {machine()})")
        with pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_colwidth", 60):
            print(pd.DataFrame(rows).to_string(index=False))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
