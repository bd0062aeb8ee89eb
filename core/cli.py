"""Headless runs: same engine, same cache as the dashboard; exports CSV and charts.

    python -m core run --dataset digits --learner logistic --strategies random,entropy,hybrid \
        --initial 20 --batch 10 --rounds 10 --alpha 0.5 --clusters 5 --repeats 3 --seed 0 --out DIR
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any, Sequence

EXIT_USAGE = 2
EXIT_CANCELLED = 130


class _StopOnSignal:
    """SIGTERM / SIGINT ask the runner to stop after the round in progress (it is then cached)."""

    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested:  # a second signal: stop now; the cache holds every completed round
            raise KeyboardInterrupt
        self.requested = True

    def __call__(self) -> bool:
        return self.requested


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit status 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _learner_param(text: str) -> tuple[str, Any]:
    from core.config import ConfigError, parse_param

    try:
        return parse_param(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options that define a comparison (shared by `run` and later `sweep`)."""
    from core.config import (IMAGE_SIZE_RANGE, MAX_CLUSTERS, MAX_REPEATS, MAX_ROUNDS, MAX_SAMPLES, MAX_SEED, MODES,
                             STREAM_POLICIES)
    from core.datasets import DATASETS
    from core.learners import LEARNERS
    from core.strategies import MEASURE_NAMES, STRATEGIES

    d = p.add_argument_group("data")
    d.add_argument("--dataset", default="digits", help=f"one of {DATASETS.names()} (default: digits)")
    d.add_argument("--data-dir", help="directory holding the dataset files or the class folders")
    d.add_argument("--image-size", type=int,
                   help=f"resize images to this square size, {IMAGE_SIZE_RANGE[0]}..{IMAGE_SIZE_RANGE[1]} (image datasets)")
    d.add_argument("--subset", type=int, help=f"keep only the first N samples of the shuffled pool (initial..{MAX_SAMPLES})")
    d.add_argument("--test-size", type=float, default=0.25,
                   help="held-out stratified test fraction in [0, 1) (default 0.25); 0 = report only the "
                        "transductive accuracy on the still-unlabelled pool")
    m = p.add_argument_group("model")
    m.add_argument("--learner", default="logistic", help=f"one of {LEARNERS.names()} (default: logistic)")
    m.add_argument("--learner-param", action="append", type=_learner_param, default=[], metavar="NAME=VALUE",
                   help="a learner setting, repeatable (e.g. gamma=0.25, kernel=knn, C=0.5); each is checked against "
                        "its range, and the cnn's sizes against a memory estimate")
    s = p.add_argument_group("strategies")
    s.add_argument("--strategies", default="random,entropy,hybrid",
                   help=f"comma-separated, from {STRATEGIES.names()} (default: random,entropy,hybrid)")
    s.add_argument("--mode", default="pool", help=f"one of {list(MODES)}: choose batches from the pool, or decide "
                                                  "per arriving sample (default: pool)")
    s.add_argument("--alpha", type=float, default=0.5, help="hybrid: fraction of the batch chosen by uncertainty, in (0, 1] (default 0.5)")
    s.add_argument("--clusters", type=int, default=5,
                   help=f"hybrid: K-means clusters, 1..round(alpha*batch), at most {MAX_CLUSTERS} (default 5)")
    s.add_argument("--measure", default="entropy", help=f"hybrid's uncertainty measure, one of {sorted(MEASURE_NAMES)} (default: entropy)")
    s.add_argument("--stream-policy", default="budget",
                   help=f"stream mode: one of {list(STREAM_POLICIES)} (budget-aware quantile, or fixed threshold; default: budget)")
    s.add_argument("--threshold", type=float, default=0.5, help="stream mode, threshold policy: normalised uncertainty in [0, 1] (default 0.5)")
    b = p.add_argument_group("budget")
    b.add_argument("--initial", type=int, default=20,
                   help=f"initial labelled samples, the same for every strategy; at least the number of classes, "
                        f"at most {MAX_SAMPLES} (default 20)")
    b.add_argument("--batch", type=int, default=10, help=f"labels bought per round, 1..{MAX_SAMPLES} (default 10)")
    b.add_argument("--rounds", type=int, default=10,
                   help=f"rounds (evaluations), 1..{MAX_ROUNDS}; budget = initial + batch*(rounds-1) labels, at most the "
                        "pool (default 10)")
    b.add_argument("--repeats", type=int, default=1,
                   help=f"repeat each strategy with seeds seed..seed+repeats-1, 1..{MAX_REPEATS} (default 1)")
    b.add_argument("--seed", type=int, default=0,
                   help=f"base seed; seed+repeats-1 must be at most {MAX_SEED} (32-bit seeds) (default 0)")


def config_from_args(args: argparse.Namespace):
    from core.config import RunConfig

    return RunConfig(
        dataset=args.dataset, data_dir=args.data_dir, image_size=args.image_size,
        learner=args.learner, learner_params=dict(args.learner_param),
        strategies=tuple(s.strip() for s in args.strategies.split(",") if s.strip()),
        mode=args.mode, initial=args.initial, batch=args.batch, rounds=args.rounds, alpha=args.alpha,
        clusters=args.clusters, measure=args.measure, stream_policy=args.stream_policy, threshold=args.threshold,
        repeats=args.repeats, seed=args.seed, subset=args.subset, test_size=args.test_size,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description="Compare active-learning query strategies on image data.",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a comparison (cached, resumable) and export its results",
                         description="Run every strategy x repeat, resuming from the cache; print a summary; "
                                     "write rounds.csv, summary.csv and curves.html to --out.")
    add_run_options(run)
    o = run.add_argument_group("output")
    o.add_argument("--out", default="out", help="directory for rounds.csv, summary.csv, curves.html (default: out)")
    o.add_argument("--cache-dir", default="cache", help="on-disk cache of completed rounds (default: cache)")
    o.add_argument("--no-cache", action="store_true", help="compute everything, read and write no cache")
    o.add_argument("--target", type=float, default=0.9, help="accuracy target in (0, 1] for 'labels to reach' (default 0.9)")
    o.add_argument("--quiet", action="store_true", help="no per-round progress")
    add_sweep_parser(sub)
    from core.report import add_report_parser

    add_report_parser(sub)
    # `python -m core --help` documents every option: each command's own help follows the list of commands.
    parser.epilog = "\n".join(f"{'=' * 30} python -m core {name} {'=' * 30}\n{command.format_help()}"
                               for name, command in sub.choices.items())
    return parser


def _run_option_dests() -> list[str]:
    probe = argparse.ArgumentParser(add_help=False)
    add_run_options(probe)
    return list(vars(probe.parse_args([])))


def add_sweep_parser(sub) -> None:
    """`sweep`: run options given on the command line are fixed for every grid point."""
    sweep = sub.add_parser(
        "sweep", help="run a parameter grid (cached, resumable) locally or on Ray",
        description="Expand a grid over run options into independent cached runs, run what the cache lacks "
                    "(joblib processes or Ray tasks), and write runs.csv, best.csv and heatmap.html to --out. "
                    "Run options given here apply to every grid point. Grid file format: see "
                    "examples/sweep_alpha_clusters.toml.")
    g = sweep.add_argument_group("grid")
    g.add_argument("--grid", metavar="FILE", help="grid file (TOML, or JSON of the same shape)")
    g.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="sweep an option over values, repeatable (e.g. alpha=0.25,0.5,1 or learner_params.C=0.1,1); "
                        "replaces the same option of the grid file")
    g.add_argument("--skip-invalid", action="store_true", help="leave out grid points the engine rejects instead of failing")
    g.add_argument("--heatmap", metavar="X[,Y]", help="grid options on the heatmap axes (default: the first two swept)")
    g.add_argument("--dry-run", action="store_true", help="print the grid points and runs, compute nothing")
    add_run_options(sweep)
    run_dests = set(_run_option_dests())
    for action in sweep._actions:  # no default: only the options given are fixed (set_defaults would store them)
        if action.dest in run_dests:
            action.default = argparse.SUPPRESS
    e = sweep.add_argument_group("execution")
    e.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: joblib processes on this machine (default); ray: tasks on a Ray cluster")
    e.add_argument("--jobs", type=int,
                   help="local executor: worker processes, at most 4 per core (default: number of cores)")
    e.add_argument("--ray-address", default="auto",
                   help="ray executor: 'auto' (a cluster started with `ray start`) or ray://HOST:PORT; the cache "
                        "directory must be shared by every node")
    o = sweep.add_argument_group("output")
    o.add_argument("--out", default="out/sweep", help="directory for runs.csv, best.csv, heatmap.html (default: out/sweep)")
    o.add_argument("--cache-dir", default="cache", help="on-disk cache of completed rounds (default: cache)")
    o.add_argument("--quiet", action="store_true", help="no progress lines")


class _Progress:
    def __init__(self, total_runs: int, rounds: int, quiet: bool) -> None:
        self.total, self.rounds, self.quiet = total_runs, rounds, quiet
        self.done, self.cached, self.current = 0, 0, None
        self.start = time.perf_counter()

    def __call__(self, spec, result, from_cache) -> None:
        unit = (spec.strategy, spec.repeat)
        if unit != self.current:
            self.current, self.cached = unit, 0
        self.cached += bool(from_cache)
        if self.quiet:
            return
        acc = result.test_accuracy if result.test_accuracy is not None else result.pool_accuracy
        acc_text = "n/a" if acc is None else f"{acc:.3f}"
        tag = " (cached)" if from_cache else ""
        print(f"  {spec.strategy:<17} seed {spec.seed:<3} round {result.round + 1:>3}/{self.rounds}  "
              f"labels {result.n_labeled:>5}  accuracy {acc_text}{tag}", file=sys.stderr)


def _print_summary(summary, metric: str) -> None:
    import math

    def fmt(x, spec=".3f"):
        return "" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)

    print(f"\nSummary ({metric}, mean [95% CI] over repeats)")
    header = f"{'strategy':<17} {'final':>22} {'AULC':>22} {'labels to target':>17} {'AULC gain vs random':>28} {'p':>7}"
    print(header)
    print("-" * len(header))
    for r in summary.itertuples():
        final = f"{fmt(r.final)} [{fmt(r.final_ci_low)}, {fmt(r.final_ci_high)}]" if not math.isnan(r.final_ci_low) else fmt(r.final)
        area = f"{fmt(r.aulc)} [{fmt(r.aulc_ci_low)}, {fmt(r.aulc_ci_high)}]" if not math.isnan(r.aulc_ci_low) else fmt(r.aulc)
        gain = (f"{fmt(r.gain_vs_random, '+.3f')} [{fmt(r.gain_ci_low, '+.3f')}, {fmt(r.gain_ci_high, '+.3f')}]"
                if not math.isnan(r.gain_ci_low) else fmt(r.gain_vs_random, "+.3f"))
        reach = f"{fmt(r.labels_to_target, '.0f')} ({r.reached_target})" if r.reached_target else ""
        print(f"{r.strategy:<17} {final:>22} {area:>22} {reach:>17} {gain:>28} {fmt(r.gain_p_value, '.3f'):>7}")


def _check_paths(args: argparse.Namespace) -> None:
    """An empty --out or --cache-dir would silently mean the current directory."""
    from core.config import ConfigError

    for option, value in (("--out", args.out), ("--cache-dir", getattr(args, "cache_dir", None))):
        if value is not None and not value.strip():
            raise ConfigError(f"{option} must be a directory path; got {value!r} (use . for the current directory)")
    grid = getattr(args, "grid", None)
    if grid is not None and not grid.strip():
        raise ConfigError(f"--grid must be a grid file path (TOML or JSON); got {grid!r}")


def _remove_empty(directories: list[Path]) -> None:
    """Remove the directories this run created (deepest first) while they are still empty."""
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:  # not empty (someone else wrote there) or already gone
            return


def _early_stops(config, comparison) -> list[str]:
    """One warning per strategy whose runs ended before the rounds asked for, with the reason."""
    lines = []
    for strategy in config.strategies:
        short = [(repeat, results) for (s, repeat), results in sorted(comparison.runs.items())
                 if s == strategy and 0 < len(results) < config.rounds]
        if not short:
            continue
        listed = ", ".join(f"seed {config.seed + repeat} after {len(results)} of {config.rounds} rounds "
                           f"({results[-1].n_labeled} of {config.budget} labels)" for repeat, results in short[:3])
        more = f" and {len(short) - 3} more" if len(short) > 3 else ""
        if config.mode != "stream":
            why = "the pool had no unlabelled sample left"
        elif strategy == "random":
            why = ("the stream ran out of arrivals before the budget was spent (random labels each arrival with "
                   "probability budget / stream length); raise --subset or lower --batch or --rounds")
        elif config.stream_policy == "threshold":
            why = (f"the stream ran out of arrivals: too few reached --threshold {config.threshold:g} "
                   "(normalised uncertainty); lower --threshold, or use --stream-policy budget")
        else:
            why = "the stream ran out of arrivals before the budget was spent"
        lines.append(f"warning: {strategy} stopped early in {len(short)} of {config.repeats} "
                     f"run{'s' * (config.repeats != 1)}: {listed}{more}; {why}")
    return lines


def cmd_run(args: argparse.Namespace) -> int:
    from core.cache import Cache, CacheError, check_writable_dir
    from core.config import ConfigError
    from core.learners import LearnerError
    from core.metrics import curve_table, default_metric, summary_table
    from core.runner import Cancelled, comparison_complete, prepare, run_comparison

    prog = "python -m core run"
    try:
        config = config_from_args(args)
        if not 0.0 < args.target <= 1.0:
            raise ConfigError(f"target must be an accuracy in (0, 1]; got {args.target!r}")
        _check_paths(args)
        dataset = prepare(config)
        out = Path(args.out)
        cache = None if args.no_cache else Cache(args.cache_dir)
        check_writable_dir(out, "--out", create=False)  # both checked before either is created
        if cache is not None:
            try:
                check_writable_dir(cache.root, "cache directory", create=False)
                cache.check_writable()
            except (PermissionError, CacheError):
                if not comparison_complete(config, cache, dataset):
                    raise
                # a finished comparison reads from a read-only cache (a shared results disk)
        created = [p for p in (out, *out.parents) if not p.exists()]  # deepest first: removed again on a failed run
        check_writable_dir(out, "--out")
    except (ConfigError, CacheError, OSError) as exc:  # OSError: unreadable data, a path too long, ...
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    specs = config.specs()
    print(f"{config.dataset}: {len(dataset.labels)} samples, {dataset.n_classes} classes; learner {config.learner}; "
          f"{len(specs)} runs ({len(config.strategies)} strategies x {config.repeats} repeats), budget {config.budget} labels",
          file=sys.stderr)
    t0 = time.perf_counter()
    stop = _StopOnSignal()
    try:
        comparison = run_comparison(config, cache=cache, dataset=dataset,
                                    on_round=_Progress(len(specs), config.rounds, args.quiet), should_stop=stop)
    except Cancelled as exc:
        print(f"cancelled: {exc}; completed rounds are cached, rerun to resume", file=sys.stderr)
        return EXIT_CANCELLED
    except LearnerError as exc:  # a setting the data turned out to rule out (found while fitting)
        _remove_empty(created)
        print(f"{prog}: error: learner_params: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (CacheError, OSError) as exc:  # a full disk, a cache made read-only mid-run, a broken cache layout
        print(f"{prog}: error: {_io_message(exc)}; completed rounds are cached, rerun to resume", file=sys.stderr)
        return EXIT_USAGE
    for line in _early_stops(config, comparison):
        print(line, file=sys.stderr)
    if cache is not None:
        for spec in specs:
            for problem in cache.run(spec.key(dataset.fingerprint)).problems:
                print(f"warning: {problem}", file=sys.stderr)
    rounds = comparison.frame()
    metric = default_metric(rounds)
    summary = summary_table(rounds, metric, target=args.target)
    curves = curve_table(rounds, metric)
    try:
        rounds.to_csv(out / "rounds.csv", index=False)
        summary.to_csv(out / "summary.csv", index=False)
        _write_curves(out / "curves.html", curves, metric, config, cache)
    except OSError as exc:
        print(f"{prog}: error: {_io_message(exc)}", file=sys.stderr)
        return EXIT_USAGE
    _print_summary(summary, metric)
    print(f"\nwrote {out / 'rounds.csv'}, {out / 'summary.csv'}, {out / 'curves.html'} in {time.perf_counter() - t0:.1f}s",
          file=sys.stderr)
    return 0


_CURVES_STAMP = "<!-- albench learning curves {} -->\n"


def _io_message(exc: OSError | Exception) -> str:
    """One line for a failed read or write: what failed, and where."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"cannot write the results ({exc.strerror}{where})"
    return str(exc)


def _write_curves(path: Path, curves, metric: str, config, cache) -> None:
    """Write the learning-curve chart unless `path` already holds this very chart.

    The file starts with a hash of what it draws. A rerun of a cached comparison then skips
    plotly altogether (importing it and building the figure took most of a cached run): into
    the same --out the file is left alone; into a new one it is copied from the cache's copy
    of the same chart (`<cache>/figures/curves-<hash>.html`).
    """
    import shutil

    from core.cache import atomic_write_bytes
    from core.config import stable_hash

    repeats = {str(k): int(v) for k, v in curves.groupby("strategy")["n_repeats"].max().items()}
    digest = stable_hash({"curves": curves.to_dict("list"), "metric": metric, "config": config.to_dict(),
                          "repeats": repeats})
    stamp = _CURVES_STAMP.format(digest)
    try:
        with open(path, encoding="utf-8") as f:
            if f.readline() == stamp:
                return
    except (FileNotFoundError, UnicodeDecodeError, IsADirectoryError):
        pass
    stored = cache.root / "figures" / f"curves-{digest}.html" if cache is not None else None
    if stored is not None and stored.is_file():
        tmp = path.with_name(f".tmp-{path.name}")
        shutil.copyfile(stored, tmp)
        tmp.replace(path)
        return
    from core import figures

    html = (stamp + figures.learning_curves(curves, metric, subtitle=figures.settings_line(config, repeats))
            .to_html(include_plotlyjs=True)).encode("utf-8")
    atomic_write_bytes(path, html)
    if stored is not None:
        try:
            atomic_write_bytes(stored, html)
        except OSError:  # a read-only cache: the chart is written, only not kept for next time
            pass


def _fixed_options(args: argparse.Namespace) -> dict[str, Any]:
    """The run options given on the sweep's command line, as RunConfig fields."""
    fixed: dict[str, Any] = {}
    for dest in _run_option_dests():
        if not hasattr(args, dest):
            continue
        value = getattr(args, dest)
        if dest == "learner_param":
            fixed["learner_params"] = dict(value)
        elif dest == "strategies":
            fixed["strategies"] = [s.strip() for s in value.split(",") if s.strip()]
        else:
            fixed[dest] = value
    return fixed


def _vary(items: Sequence[str]) -> dict[str, list[Any]]:
    from core.sweep import GridError

    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise GridError(f"--vary expects NAME=V1,V2,...; got {item!r}")
        grid[name.strip()] = [_value(v.strip()) for v in values.split(",") if v.strip()]
    return grid


def _print_table(title: str, frame, columns: list[str]) -> None:
    import pandas as pd

    print(f"\n{title}")
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.float_format", "{:.3f}".format):
        print(frame[columns].to_string(index=False) if len(frame) else "(no completed runs)")


def cmd_sweep(args: argparse.Namespace) -> int:
    from core.cache import Cache, CacheError, check_writable_dir
    from core.config import ConfigError
    from core.figures import sweep_heatmap
    from core.runner import Cancelled
    from core.sweep import ExecutorError, WorkerLost, make_executor, parse_grid, plan_sweep, read_grid_file, run_sweep

    prog = "python -m core sweep"
    try:
        if args.grid is None and not args.vary:
            raise ConfigError("give a grid: --grid FILE and/or --vary NAME=V1,V2,...")
        _check_paths(args)
        obj = read_grid_file(args.grid) if args.grid is not None else {}
        if args.heatmap:
            obj = {**obj, "heatmap": dict(zip("xy", [a.strip() for a in args.heatmap.split(",")]))}
        sweep = parse_grid(obj, base=_fixed_options(args), vary=_vary(args.vary),
                           skip_invalid=True if args.skip_invalid else None)
        cache = Cache(args.cache_dir)
        plan = plan_sweep(sweep, cache)
        sweep = plan.sweep
        executor = make_executor(args.executor, jobs=args.jobs, ray_address=args.ray_address)
        out = Path(args.out)
        if not args.dry_run:
            check_writable_dir(out, "--out")
    except (ConfigError, ValueError, CacheError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    pending = len(plan.pending)
    print(f"sweep {sweep.name or sweep.key}: {len(sweep.points)} grid points over {list(sweep.grid)}, "
          f"{len(plan.units)} distinct runs ({len(plan.units) - pending} already cached, {pending} to compute); "
          f"executor {executor.name}", file=sys.stderr)
    for params, why in sweep.skipped:
        print(f"  skipped {', '.join(f'{k}={v!r}' for k, v in params.items())}: {why}", file=sys.stderr)
    if args.dry_run:
        for point in sweep.points:
            print(f"  point {point.index}: {', '.join(f'{k}={v!r}' for k, v in point.params.items())}")
        return 0

    def on_progress(progress) -> None:
        if not args.quiet:
            print(f"  {progress.line()}", file=sys.stderr)

    stop = _StopOnSignal()
    t0 = time.perf_counter()
    try:
        result = run_sweep(sweep, cache, executor=executor, on_progress=on_progress, should_stop=stop)
    except Cancelled as exc:
        print(f"cancelled: {exc}; completed rounds are cached, rerun to resume", file=sys.stderr)
        return EXIT_CANCELLED
    except WorkerLost as exc:
        if stop.requested:
            print("cancelled: completed rounds are cached, rerun to resume", file=sys.stderr)
            return EXIT_CANCELLED
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except ExecutorError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for key, error in result.errors.items():
        print(f"error: run {key} failed: {error}", file=sys.stderr)
    result.runs.to_csv(out / "runs.csv", index=False)
    result.best.to_csv(out / "best.csv", index=False)
    axes = sweep.heatmap_axes()
    written = [out / "runs.csv", out / "best.csv"]
    if axes is not None and len(result.runs):
        sweep_heatmap(result.runs, axes[0], axes[1], metric=result.metric, skipped=[p for p, _ in sweep.skipped],
                      title=f"{sweep.name or 'sweep'}: AULC of {result.metric.replace('_', ' ')}") \
            .write_html(out / "heatmap.html", include_plotlyjs=True)
        written.append(out / "heatmap.html")
    columns = [*sweep.axes, "strategy", "repeats", "aulc", "aulc_ci_width", "final"]
    _print_table(f"Best configuration per strategy (AULC of {result.metric}, mean over repeats; "
                 "aulc_ci_width = width of its 95% CI)", result.best, columns)
    print(f"\n{result.progress.computed} runs computed, {result.progress.cached} read from the cache; "
          f"wrote {', '.join(map(str, written))} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 1 if result.errors else 0


def _plain_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings for a command-line user: the message, not the library line that raised it."""
    return f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    from core.report import cmd_report

    args = build_parser().parse_args(argv)
    shown: set[str] = set()

    def show_once(message, category, filename, lineno, file=None, line=None) -> None:
        # One line per distinct warning per invocation: a learner warns once per run, and a
        # comparison has strategies x repeats runs.
        text = _plain_warning(message, category, filename, lineno)
        if text not in shown:
            shown.add(text)
            sys.stderr.write(text)

    warnings.showwarning = show_once
    return {"run": cmd_run, "sweep": cmd_sweep, "report": cmd_report}[args.command](args)
