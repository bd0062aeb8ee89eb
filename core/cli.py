"""Headless runs: same engine, same cache as the dashboard; exports CSV and charts.

    python -m core run --dataset digits --learner logistic --strategies random,entropy,hybrid \
        --initial 20 --batch 10 --rounds 10 --alpha 0.5 --clusters 5 --repeats 3 --seed 0 --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Sequence

EXIT_USAGE = 2
EXIT_CANCELLED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command whose reader left


class _StopOnSignal:
    """SIGTERM / SIGINT ask the runner to stop after the round in progress (it is then cached)."""

    def __init__(self) -> None:
        from core.stopping import reset

        self.requested = False
        reset()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        from core.stopping import request_stop

        if self.requested:  # a second signal: stop now; the cache holds every completed round
            raise KeyboardInterrupt
        self.requested = True
        # Inside a feature extraction or a CNN fit this raises Cancelled now, not after the batch or round.
        request_stop(f"stopped by {signal.Signals(signum).name}")

    def __call__(self) -> bool:
        return self.requested


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit status 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _setting(text: str) -> tuple[str, Any]:
    from core.engine.config import ConfigError, parse_param

    try:
        return parse_param(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None


def _strategy_setting(text: str) -> tuple[str, Any]:
    """STRATEGY.PARAM=VALUE (or an alias), named in its one spelling ("alpha" -> "hybrid.alpha")."""
    from core.engine.config import ConfigError
    from core.engine.settings import canonical, is_strategy_setting

    name, value = _setting(text)
    try:
        if not is_strategy_setting(name):
            raise ConfigError(f"strategy_params: expected STRATEGY.PARAM (e.g. hybrid.alpha); got {name!r}")
        return canonical(name), value
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None


def _help(option: str) -> str:
    """Help text of a run option, from its declaration in core.engine.config.RUN_OPTIONS."""
    from core.engine.config import RUN_OPTIONS

    c = RUN_OPTIONS[option]
    return f"{c.help}; {c.allowed()} (default {c.default})"


def add_run_options(p: argparse.ArgumentParser, exclude: tuple[str, ...] = ()) -> None:
    """The options that define a comparison (shared by `run` and `sweep`).

    Nothing has a default here: an option not given is absent from the namespace, so a
    `--config` file (or a sweep's grid file) supplies it, else RunConfig's declared default.
    """
    from core.engine.config import ALIASES, IMAGE_SIZE_RANGE, MAX_SAMPLES, RUN_OPTIONS
    from core.params import Interval
    from core.datasets import DATASETS
    from core.learners import LEARNERS
    from core.strategies import STRATEGIES

    none = argparse.SUPPRESS
    d = p.add_argument_group("data")
    d.add_argument("--dataset", default=none, help=f"one of {DATASETS.names()} (default: digits)")
    d.add_argument("--data-dir", default=none, help="directory holding the dataset files or the class folders")
    d.add_argument("--image-size", type=int, default=none,
                   help=f"resize images to this square size, {IMAGE_SIZE_RANGE[0]}..{IMAGE_SIZE_RANGE[1]} (image datasets)")
    d.add_argument("--subset", type=int, default=none,
                   help=f"keep only the first N samples of the shuffled pool (initial..{MAX_SAMPLES})")
    m = p.add_argument_group("model")
    m.add_argument("--learner", default=none, help=f"one of {LEARNERS.names()} (default: logistic); "
                                                   "`python -m core learners` lists their settings")
    m.add_argument("--learner-param", action="append", type=_setting, default=none, metavar="NAME=VALUE",
                   help="a learner setting, repeatable (e.g. gamma=0.25, kernel=knn, C=0.5); each is checked against "
                        "its declared range, and the cnn's sizes against a memory estimate")
    s = p.add_argument_group("strategies")
    s.add_argument("--strategies", default=none,
                   help=f"comma-separated, from {STRATEGIES.names()} (default: random,entropy,hybrid)")
    s.add_argument("--strategy-param", action="append", type=_strategy_setting, default=none, metavar="STRATEGY.PARAM=VALUE",
                   help="a strategy setting, repeatable (e.g. hybrid.alpha=0.3); `python -m core strategies` lists "
                        "every strategy's parameters, defaults and ranges")
    for alias, target in ALIASES.items():
        strategy, param = target.split(".")
        c = STRATEGIES[strategy].parameters[param]
        kind = c.type if isinstance(c, Interval) else str  # --alpha 0 reads as 0.0, as before the alias existed
        s.add_argument(f"--{alias}", type=kind, default=none, dest=f"alias_{alias}", metavar=alias.upper(),
                       help=f"same as --strategy-param {target}=VALUE: {c.help}; {c.allowed()} (default {c.default})")
    # Every declared run option gets its flag from its declaration (a new one needs no edit here).
    groups = {"test_size": d, "mode": s, "stream_policy": s, "threshold": s}
    budget = p.add_argument_group("budget")
    for option, c in ((o, c) for o, c in RUN_OPTIONS.items() if o not in exclude):
        groups.get(option, budget).add_argument(f"--{option.replace('_', '-')}", default=none, help=_help(option),
                                             type=c.type if isinstance(c, Interval) else str)


_SOURCE_DESTS = ("dataset", "data_dir", "image_size", "subset", "learner")


def options_from_args(args: argparse.Namespace, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The settings given on the command line (only those given), named as core.engine.settings names them:
    run options, "learner_params.NAME", "STRATEGY.PARAM" and the aliases."""
    from core.engine.config import RUN_OPTIONS

    given: dict[str, Any] = {dest: getattr(args, dest) for dest in (*_SOURCE_DESTS, *RUN_OPTIONS)
                             if hasattr(args, dest) and dest not in exclude}
    if hasattr(args, "strategies"):
        given["strategies"] = [s.strip() for s in args.strategies.split(",") if s.strip()]
    given.update((f"learner_params.{name}", value) for name, value in getattr(args, "learner_param", []))
    given.update(getattr(args, "strategy_param", []))
    given.update((dest[len("alias_"):], value) for dest, value in vars(args).items() if dest.startswith("alias_"))
    return given


def config_from_args(args: argparse.Namespace):
    """The RunConfig of `run`: the --config file (if any), then the options given, resolved as every entry
    point resolves settings (core.engine.config.resolve)."""
    from core.engine.config import resolve

    file = [Path(args.config)] if getattr(args, "config", None) else []
    return resolve(*file, options_from_args(args))


def program_name(argv0: str | None = None) -> str:
    """The command as the user typed it: `albench` (the installed script) or `python -m core`."""
    name = Path(sys.argv[0] if argv0 is None else argv0).name
    return "python -m core" if name in ("__main__.py", "-m", "") else name


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog or program_name(), description="Compare active-learning query strategies on image data.",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a comparison (cached, resumable) and export its results",
                         description="Run every strategy x repeat, resuming from the cache; print a summary; "
                                     "write rounds.csv, summary.csv and curves.html to --out.")
    add_run_options(run)
    run.add_argument("--config", metavar="FILE",
                     help="read the comparison's options from FILE (JSON as `python -m core run` writes to "
                          "OUT/config.json, or TOML of the same shape); options given here override it")
    o = run.add_argument_group("output")
    o.add_argument("--out", default="out", help="directory for rounds.csv, summary.csv, curves.html (default: out)")
    o.add_argument("--cache-dir", help=CACHE_DIR_HELP)
    o.add_argument("--no-cache", action="store_true", help="compute everything, read and write no cache")
    o.add_argument("--target", type=float, default=0.9, help="accuracy target in (0, 1] for 'labels to reach' (default 0.9)")
    o.add_argument("--quiet", action="store_true", help="no per-round progress")
    add_sweep_parser(sub)
    for family in ("strategies", "learners"):
        listing = sub.add_parser(family, help=f"list every registered {family[:-1] if family == 'learners' else 'strategy'}"
                                               " with its parameters, defaults, ranges and needs",
                                 description=f"List the registered {family}: parameters (type, default, allowed "
                                             "values), and what each needs from a round or provides.")
        listing.add_argument("--json", action="store_true", help="print JSON instead of text")
    from core.present.report import add_report_parser

    add_report_parser(sub)
    from core.labels.cli import add_label_parser

    add_label_parser(sub)
    # `python -m core --help` documents every option: each command's own help follows the list of commands.
    parser.epilog = "\n".join(f"{'=' * 30} {parser.prog} {name} {'=' * 30}\n{command.format_help()}"
                               for name, command in sub.choices.items())
    return parser


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
    # only the options given are fixed (run options have no argparse defaults); --ray-address is the sweep's
    # own: the cluster its runs go to
    add_run_options(sweep, exclude=("ray_address",))
    e = sweep.add_argument_group("execution")
    e.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: joblib processes on this machine (default); ray: tasks on a Ray cluster")
    e.add_argument("--jobs", type=int,
                   help="local executor: worker processes, at most 4 per core (default: number of cores)")
    e.add_argument("--ray-address", default="auto",
                   help="ray executor: 'auto' (a cluster started with `ray start`) or ray://HOST:PORT; the cache "
                        "directory must be shared by every node")
    o = sweep.add_argument_group("output")
    o.add_argument("--out", help="directory for runs.csv, best.csv, heatmap.html (default: out/sweep, or out/sweep-2, "
                                 "-3, ... when it holds files: a previous sweep is never overwritten unasked)")
    o.add_argument("--cache-dir", help=CACHE_DIR_HELP)
    o.add_argument("--quiet", action="store_true", help="no progress lines")


class _Progress:
    def __init__(self, total_runs: int, rounds: int, quiet: bool) -> None:
        self.total, self.rounds, self.quiet = total_runs, rounds, quiet
        self.done, self.cached, self.current = 0, 0, None
        self.completed = 0  # rounds in the cache (read back or computed) so far
        self.start = time.perf_counter()

    def kept(self) -> str:
        return f"{self.completed} completed round{'s' * (self.completed != 1)} cached"

    def __call__(self, spec, result, from_cache) -> None:
        self.completed += 1
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
    from core.engine.config import ConfigError

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
    from core.engine.cache import Cache, CacheError
    from core.files import atomic_write_bytes, check_writable_dir
    from core.learners import LearnerError
    from core.analysis.labelling_time import has_times, minutes_sentence, minutes_summary
    from core.analysis.metrics import curve_table, default_metric, partial_note, summary_table
    from core.params import Interval, ParamError, check_value
    from core.engine.runner import Cancelled, comparison_complete, prepare, run_comparison

    prog = getattr(args, "command_prog", "python -m core run")
    try:
        config = config_from_args(args)
        check_value("target", args.target, Interval(float, 0.0, 1.0, closed="right"))
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
    except (ParamError, CacheError, OSError) as exc:  # OSError: unreadable data, a path too long, ...
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    specs = config.specs()
    print(f"{config.dataset}: {len(dataset.labels)} samples, {dataset.n_classes} classes; learner {config.learner}; "
          f"{len(specs)} runs ({len(config.strategies)} strategies x {config.repeats} repeats), budget {config.budget} labels",
          file=sys.stderr)
    t0 = time.perf_counter()
    stop = _StopOnSignal()
    try:
        progress = _Progress(len(specs), config.rounds, args.quiet)
        comparison = run_comparison(config, cache=cache, dataset=dataset, on_round=progress, should_stop=stop)
    except Cancelled as exc:
        print(f"cancelled: {exc}; {progress.kept()}; rerun to resume", file=sys.stderr)
        return EXIT_CANCELLED
    except LearnerError as exc:  # a setting the data turned out to rule out (found while fitting)
        _remove_empty(created)
        print(f"{prog}: error: learner_params: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ParamError as exc:  # a setting found wrong when the run starts (a Ray address with no cluster)
        _remove_empty(created)
        print(f"{prog}: error: {exc}", file=sys.stderr)
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
        atomic_write_bytes(out / "config.json", (json.dumps(config.to_dict(), indent=2) + "\n").encode())
        _write_curves(out / "curves.html", curves, metric, config, cache)
    except OSError as exc:
        print(f"{prog}: error: {_io_message(exc)}", file=sys.stderr)
        return EXIT_USAGE
    _print_summary(summary, metric)
    if note := partial_note(rounds):  # runs that stopped early: the summary compares at the common label count
        print(note)
    if has_times(rounds):  # a labelling project: what each strategy cost in the person's minutes
        by_minutes = minutes_summary(rounds, metric, target=args.target)
        by_minutes.to_csv(out / "summary_minutes.csv", index=False)
        print("\nby labelling time (AULC over the minutes every run reached):")
        for row in by_minutes.sort_values("aulc_minutes", ascending=False).itertuples():
            print(f"  {row.strategy:<18} {row.aulc_minutes:.3f}")
        if args.target is not None:
            print(f"  {minutes_sentence(by_minutes)}")
    print(f"\nwrote {out / 'rounds.csv'}, {out / 'summary.csv'}, {out / 'curves.html'}, {out / 'config.json'} in {time.perf_counter() - t0:.1f}s",
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
    from core.files import atomic_write_bytes, open_regular
    from core.engine.config import stable_hash

    repeats = {str(k): int(v) for k, v in curves.groupby("strategy")["n_repeats"].max().items()}
    digest = stable_hash({"curves": curves.to_dict("list"), "metric": metric, "config": config.to_dict(),
                          "repeats": repeats})
    stamp = _CURVES_STAMP.format(digest)
    try:
        with open_regular(path) as f:  # a pipe in --out is replaced, never waited on
            if f.readline().decode("utf-8", "replace") == stamp:
                return
    except OSError:
        pass
    stored = cache.area("figures") / f"curves-{digest}.html" if cache is not None else None
    if stored is not None:
        try:
            with open_regular(stored) as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as exc:  # a pipe or directory in the cache's figures/: drawn again
            print(f"warning: {exc}", file=sys.stderr)
        else:
            atomic_write_bytes(path, data)
            return
    from core.present import figures

    html = (stamp + figures.learning_curves(curves, metric, subtitle=figures.settings_line(config, repeats))
            .to_html(include_plotlyjs=True)).encode("utf-8")
    atomic_write_bytes(path, html)
    if stored is not None:
        try:
            atomic_write_bytes(stored, html)
        except OSError:  # a read-only cache: the chart is written, only not kept for next time
            pass


def _vary(items: Sequence[str]) -> dict[str, list[Any]]:
    from core.engine.config import parse_value
    from core.sweep import GridError

    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise GridError(f"--vary expects NAME=V1,V2,...; got {item!r}")
        grid[name.strip()] = [parse_value(v.strip()) for v in values.split(",") if v.strip()]
    return grid


def _print_table(title: str, frame, columns: list[str]) -> None:
    import pandas as pd

    print(f"\n{title}")
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.float_format", "{:.3f}".format):
        print(frame[columns].to_string(index=False) if len(frame) else "(no completed runs)")


def _fresh_folder(base: Path) -> Path:
    """`base` when it is absent or empty, else the first of base-2, base-3, ... that is."""
    candidate, n = base, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def cmd_sweep(args: argparse.Namespace) -> int:
    from core.engine.cache import Cache, CacheError
    from core.files import check_writable_dir
    from core.engine.config import ConfigError
    from core.present.figures import sweep_heatmap
    from core.engine.runner import Cancelled
    from core.analysis.paradigm import paradigm_sentence, paradigm_table, summary_columns
    from core.sweep import ExecutorError, WorkerLost, make_executor, parse_grid, plan_sweep, read_grid_file, run_sweep

    prog = getattr(args, "command_prog", "python -m core sweep")
    try:
        if args.grid is None and not args.vary:
            raise ConfigError("give a grid: --grid FILE and/or --vary NAME=V1,V2,...")
        _check_paths(args)
        obj = read_grid_file(args.grid) if args.grid is not None else {}
        if args.heatmap:
            obj = {**obj, "heatmap": dict(zip("xy", [a.strip() for a in args.heatmap.split(",")]))}
        sweep = parse_grid(obj, base=options_from_args(args, exclude=("ray_address",)), vary=_vary(args.vary),
                           skip_invalid=True if args.skip_invalid else None)
        cache = Cache(args.cache_dir)
        plan = plan_sweep(sweep, cache)
        launched, sweep = sweep, plan.sweep  # the status file keeps the key it was launched under (the job's)
        executor = make_executor(args.executor, jobs=args.jobs, ray_address=args.ray_address)
        out = Path(args.out) if args.out is not None else _fresh_folder(Path("out/sweep"))
        if not args.dry_run:
            check_writable_dir(out, "--out")
            if args.out is None and out != Path("out/sweep"):
                print(f"writing to {out}: out/sweep holds a previous sweep (--out chooses the folder)", file=sys.stderr)
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
        result = run_sweep(launched, cache, executor=executor, on_progress=on_progress, should_stop=stop, plan=plan)
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
    paradigm = paradigm_table(result.runs)
    if not paradigm.empty:  # the learner or its head was swept: what it buys, next to what the strategy buys
        paradigm.to_csv(out / "paradigm.csv", index=False)
        written.append(out / "paradigm.csv")
        _print_table("What the learner setting buys over the baseline, and the strategy over random (paired AULC "
                     "gains over seeds, 95% CI, Holm-corrected p)", paradigm, summary_columns(paradigm))
        print(paradigm_sentence(paradigm))
    print(f"\n{result.progress.computed} runs computed, {result.progress.cached} read from the cache; "
          f"wrote {', '.join(map(str, written))} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 1 if result.errors else 0


CACHE_DIR_HELP = ("the cache directory: runs, features, decoded datasets (default: $ALBENCH_CACHE_DIR, else the "
                  "checkout's cache/, as the dashboard)")


def _plain_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings for a command-line user: the message, not the library line that raised it."""
    return f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    from core.labels.cli import cmd_label
    from core.present.report import cmd_report

    # The name in messages is the one the user typed; called with `argv` (tests, scripts), `python -m core`.
    prog = program_name() if argv is None else "python -m core"
    args = build_parser(prog).parse_args(argv)
    args.command_prog = f"{prog} {args.command}"
    shown: set[str] = set()

    def show_once(message, category, filename, lineno, file=None, line=None) -> None:
        # One line per distinct warning per invocation: a learner warns once per run, and a
        # comparison has strategies x repeats runs.
        text = _plain_warning(message, category, filename, lineno)
        if text not in shown:
            shown.add(text)
            sys.stderr.write(text)

    warnings.showwarning = show_once
    commands = {"run": cmd_run, "sweep": cmd_sweep, "report": cmd_report, "strategies": cmd_list,
                "learners": cmd_list, "label": cmd_label}
    try:
        given = getattr(args, "cache_dir", None)
        if given is None and not hasattr(args, "cache_dir") or given is not None and not given.strip():
            return commands[args.command](args)  # no cache, or an empty --cache-dir the command reports
        from core.engine.cache import cache_dir, using_cache_dir

        args.cache_dir = str(cache_dir(given))  # one rule, shared with the dashboard (core.engine.cache.cache_dir)
        with using_cache_dir(args.cache_dir):  # decoded folder datasets and child processes use it too
            return commands[args.command](args)
    except BrokenPipeError:
        # The reader went away (`albench learners --json | head -1`): that is the reader's choice, not an
        # error to report. Point stdout at /dev/null so the interpreter's final flush stays quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:  # Ctrl-C before the command's own handler, or a second signal: one line
        print(f"albench {args.command}: interrupted; completed rounds and feature store parts are cached, rerun to resume",
              file=sys.stderr)
        return EXIT_CANCELLED


def describe_plugins(family: str) -> list[dict[str, Any]]:
    """Every registered strategy or learner as data: what `python -m core strategies|learners --json` prints."""
    from core.params import describe

    if family == "strategies":
        from core.strategies import NEEDS, STRATEGIES

        return [{"name": name, "summary": (cls.__doc__ or "").strip().split("\n")[0], "parameters": describe(cls.parameters),
                 "needs": {need: NEEDS[need][1] for need in sorted(cls.needs)}, "stream": cls.stream}
                for name, cls in STRATEGIES.items()]
    from core.learners import CAPABILITIES, LEARNERS

    return [{"name": name, "summary": (cls.__doc__ or "").strip().split("\n")[0], "parameters": describe(cls.parameters),
             "provides": {cap: CAPABILITIES[cap] for cap in sorted(cls.provides)},
             "provides_when": dict(cls.provides_when),
             "semi_supervised": cls.semi_supervised}
            for name, cls in LEARNERS.items()]


def cmd_list(args: argparse.Namespace) -> int:
    plugins = describe_plugins(args.command)
    if args.json:
        print(json.dumps(plugins, indent=2, default=str))
        return 0
    for plugin in plugins:
        print(f"{plugin['name']}: {plugin['summary']}")
        for pname, p in plugin["parameters"].items():
            print(f"    {pname:<16} {p['allowed']}; default {p['default']!r}" + (f"  ({p['help']})" if p["help"] else ""))
        if not plugin["parameters"]:
            print("    (no parameters)")
        if "needs" in plugin:
            print(f"    needs: {', '.join(plugin['needs']) or 'nothing'}" + ("; has a stream form" if plugin["stream"] else ""))
        else:
            extra = plugin["provides_when"]
            print(f"    provides: {', '.join(plugin['provides'])}"
                  + "".join(f"; {cap} when {when}" for cap, when in extra.items()))
    return 0
