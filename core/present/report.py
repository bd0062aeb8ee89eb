"""`python -m core report RUN... --out DIR`: several comparisons in one self-contained HTML report.

A RUN is a comparison's `--out` folder (its rounds.csv; the settings come from the cache when a
cached comparison holds the very same rounds) or a comparison key of the cache (or a unique
prefix of one). The report holds the verdict of every run, the pairwise penalty matrix over
runs x budget regimes and per run, the regime table, mean ranks, the repeats needed, the
learning curves with the all-labels ceiling, the settings of every run, and writes each chart
as PNG and SVG when a Chrome/Chromium is available.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import math
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

EXIT_USAGE = 2
PROG = "python -m core report"
METRIC_KINDS = ("accuracy", "macro_f1")
CEILING_MODES = ("auto", "always", "never")
REPORT_TITLE = "Active-learning verdicts"  # report.html's title: how a previous report in --out is recognised


class RunNotFound(ValueError):
    """A RUN argument names no output folder and no cached comparison."""


@dataclass
class ReportRun:
    """One comparison as the report reads it."""

    arg: str  # as given on the command line
    source: str  # "folder PATH" or "cache key KEY"
    rounds: object  # pandas DataFrame, the columns of rounds.csv
    config: object | None = None  # RunConfig, when known
    key: str | None = None  # comparison key, when known
    dataset: object | None = None  # Dataset, loaded on demand
    label: str = ""
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- resolving RUN arguments


def _describe_item(item: dict) -> str:
    c = item.get("config") or {}
    return f"{item.get('key')} ({c.get('dataset', '?')}, {c.get('learner', '?')}, {len(c.get('strategies') or [])} strategies)"


def _unknown(text: str, cache, why: str) -> RunNotFound:
    items = cache.comparisons()
    if items:
        shown = ", ".join(_describe_item(i) for i in items[:3])
        more = f" and {len(items) - 3} more" if len(items) > 3 else ""
        known = f"valid comparison keys in {str(cache.root)!r}: {shown}{more}"
    else:
        known = f"the cache {str(cache.root)!r} holds no comparison (--cache-dir chooses another)"
    return RunNotFound(f"unknown run {text!r}: {why}; {known}")


def _same_values(rows, results) -> bool:
    import numpy as np

    rows = rows.sort_values("round")
    if len(rows) != len(results):
        return False
    for column in ("test_accuracy", "pool_accuracy"):
        mine = rows[column].to_numpy(dtype=float)
        theirs = np.array([np.nan if getattr(r, column) is None else getattr(r, column) for r in results], dtype=float)
        if not np.allclose(mine, theirs, rtol=0, atol=1e-9, equal_nan=True):
            return False
    return True


def match_cached(rounds, cache):
    """(RunConfig, key) of the cached comparison whose rounds are exactly `rounds`, else (None, None).

    Candidates must agree on strategies, repeats, seed and the label counts; one run of the
    candidate is then read back and compared value by value.
    """
    from core.engine.config import ConfigError, RunConfig

    strategies = list(dict.fromkeys(rounds["strategy"]))
    counts = sorted(int(n) for n in rounds["n_labeled"].unique())
    first = rounds.sort_values(["strategy", "repeat", "round"]).iloc[0]
    for item in cache.comparisons():
        try:
            config = RunConfig.from_dict(item.get("config") or {})
        except (ConfigError, TypeError, ValueError):
            continue
        if (list(config.strategies) != strategies or config.seed != int(rounds["seed"].min())
                or config.repeats < int(rounds["repeat"].max()) + 1 or config.initial != counts[0]
                or config.rounds < int(rounds["round"].max()) + 1):
            continue
        unit = next((u for u in item.get("units") or [] if u.get("strategy") == first["strategy"]
                     and u.get("repeat") == int(first["repeat"])), None)
        if unit is None:
            continue
        try:
            results = cache.run(unit["key"]).load_rounds()[: config.rounds]
        except (OSError, ValueError):
            continue
        mine = rounds[(rounds["strategy"] == first["strategy"]) & (rounds["repeat"] == first["repeat"])]
        if _same_values(mine, results):
            return config, item["key"]
    return None, None


_INTEGER_COLUMNS = {"repeat": 10**6, "round": 10**6, "seed": 2**32 - 1, "n_labeled": 10**9, "n_queried": 10**9}


def _check_rounds(rounds, where: str) -> None:
    """RunNotFound naming the first row (the file's line number) and column whose value cannot be a round's:
    integers out of range, metrics outside [0, 1] (NaN, inf), negative timings, a repeated round."""
    def refuse(index, column: str, value, expected: str):
        return RunNotFound(f"{where}: line {int(index) + 2} column {column}: {value!r} is not {expected}")

    for index, value in rounds["strategy"].items():
        if not value.strip():
            raise refuse(index, "strategy", value, "a strategy name")
    for column in rounds.columns:
        limit = _INTEGER_COLUMNS.get(column)
        is_rate = column.endswith(("_accuracy", "_f1"))
        is_time = column.endswith("_seconds")
        if limit is None and not is_rate and not is_time:
            continue
        for index, value in rounds[column].items():
            text = value.strip()
            if limit is not None:
                if not re.fullmatch(r"\d{1,10}", text) or int(text) > limit:
                    raise refuse(index, column, value, f"an integer in [0, {limit}]")
            elif text:  # an empty metric or timing is "undefined" (a run without a test split)
                try:
                    number = float(text)
                except ValueError:
                    number = math.nan
                if not math.isfinite(number) or number < 0 or (is_rate and number > 1):
                    raise refuse(index, column, value, "a number in [0, 1] or empty" if is_rate
                                 else "a non-negative number of seconds or empty")
    for column in rounds.columns:
        if column.endswith(("_accuracy", "_f1")) and rounds[column].str.strip().eq("").any():
            filled = rounds[column].str.strip().ne("")
            if filled.any():  # undefined for some rounds only: the curves would average NaN into "+nan AULC"
                index = filled.idxmin()  # the first empty row
                raise refuse(index, column, rounds.at[index, column], "a number in [0, 1] (other rows have one)")
    repeated = rounds.duplicated(["strategy", "repeat", "round"])
    if repeated.any():
        index = repeated.idxmax()
        raise RunNotFound(f"{where}: line {int(index) + 2} columns strategy, repeat, round: round "
                          f"{rounds.at[index, 'round']} of {rounds.at[index, 'strategy']!r} repeat "
                          f"{rounds.at[index, 'repeat']} appears twice")


def _read_rounds_csv(path: Path):
    import pandas as pd

    try:
        # As text first: "NaN", "inf" and "1e300" must be seen as written, not as pandas would parse them.
        rounds = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise RunNotFound(f"run {str(path.parent)!r}: cannot read {path.name} ({exc})") from None
    missing = {"strategy", "repeat", "seed", "round", "n_labeled", "test_accuracy", "pool_accuracy"} - set(rounds.columns)
    if missing:
        raise RunNotFound(f"run {str(path.parent)!r}: {path.name} lacks the columns {sorted(missing)} "
                          "(is it the rounds.csv of `python -m core run`?)")
    if rounds.empty:
        raise RunNotFound(f"run {str(path.parent)!r}: {path.name} holds no round")
    _check_rounds(rounds, f"run {str(path.parent)!r}: {path.name}")
    for column in rounds.columns:
        if column in _INTEGER_COLUMNS:
            rounds[column] = rounds[column].astype("int64")
        elif column.endswith(("_accuracy", "_f1", "_seconds")):
            rounds[column] = pd.to_numeric(rounds[column].replace("", None), errors="coerce").astype(float)
    return rounds


def resolve_run(text: str, cache) -> ReportRun:
    """A RUN argument -> its rounds (and settings where known). Raises RunNotFound."""
    from core.engine.config import ConfigError, RunConfig
    from core.datasets import DatasetError
    from core.engine.runner import load_comparison

    path = Path(text)
    csv = path / "rounds.csv" if path.is_dir() else path if path.suffix == ".csv" and path.is_file() else None
    if csv is not None:
        if not csv.is_file():
            raise _unknown(text, cache, f"the folder holds no rounds.csv (written by `python -m core run --out {text}`)")
        rounds = _read_rounds_csv(csv)
        config, key = match_cached(rounds, cache)
        run = ReportRun(text, f"folder {csv.parent}", rounds, config, key)
        if config is None:
            run.notes.append("settings beyond rounds.csv unknown: no cached comparison in the cache holds these rounds")
        return run
    item, key = None, None
    if re.fullmatch(r"[0-9a-f]{6,16}", text):
        matches = [i for i in cache.comparisons() if str(i.get("key", "")).startswith(text)]
        if len(matches) > 1:
            raise RunNotFound(f"run {text!r} is ambiguous: it starts {len(matches)} comparison keys "
                              f"({', '.join(i['key'] for i in matches[:4])}); give more characters")
        if matches:
            item, key = matches[0], matches[0]["key"]
    if item is None:
        raise _unknown(text, cache, "not a folder holding rounds.csv, nor a comparison key")
    try:
        config = RunConfig.from_dict(item.get("config") or {})
    except (ConfigError, TypeError) as exc:
        raise RunNotFound(f"run {key}: its comparison record is unreadable ({exc})") from None
    try:
        comparison = load_comparison(config, cache)
    except (DatasetError, OSError, ConfigError) as exc:
        raise RunNotFound(f"run {key}: cannot load its dataset {config.dataset!r} ({exc})") from None
    rounds = comparison.frame()
    if rounds.empty:
        raise RunNotFound(f"run {key}: the cache holds no completed round of it yet")
    return ReportRun(text, f"cache key {key}", rounds, config, key, dataset=comparison.dataset)


# --------------------------------------------------------------------------- the report


def _metric_for(rounds, kind: str) -> str:
    from core.analysis.metrics import default_metric

    return f"{default_metric(rounds).split('_')[0]}_{kind}"


def _label(index: int, run: ReportRun) -> str:
    """'R1 digits/logistic, 110 labels': short, and distinct for runs that differ only in budget."""
    budget = f"{int(run.rounds['n_labeled'].max())} labels"
    if run.config is not None:
        from core.present.figures import dataset_label

        return f"R{index} {dataset_label(run.config)}/{run.config.learner}, {budget}"
    return f"R{index} {Path(run.source.removeprefix('folder ')).name or 'run'}, {budget}"


def settings_rows(run: ReportRun, metric: str) -> dict[str, str]:
    """The settings of one run as a reader writes them (what rounds.csv gives, where nothing more is known)."""
    from core.present.figures import format_setting, learner_label, strategies_settings

    r = run.rounds
    counts = sorted(int(n) for n in r["n_labeled"].unique())
    seeds = sorted(int(s) for s in r["seed"].unique())
    row = {"source": run.source, "comparison key": run.key or "—"}
    c = run.config
    if c is not None:
        data = c.dataset + (f" ({Path(c.data_dir).name}/)" if c.data_dir else "")
        row.update({
            "dataset": data + (f", {c.image_size} px" if c.image_size else ""),
            "pool": f"first {c.subset} samples of the shuffled pool" if c.subset else "whole pool",
            "test split": f"{c.test_size:g} held out (stratified)" if c.test_size else "none (pool accuracy)",
            "learner": learner_label(c),
            "strategies": format_setting(list(c.strategies)),
            "strategy settings": "; ".join(strategies_settings(c)) or "—",
            "mode": c.mode,
            "budget": f"{c.budget} labels: {c.initial} initial + {c.rounds - 1} × {c.batch}",
            "repeats": f"{c.repeats} (seeds {c.seed}..{c.seed + c.repeats - 1})",
        })
    else:
        steps = sorted({b - a for a, b in zip(counts, counts[1:])})
        row.update({
            "dataset": "not recorded in rounds.csv", "learner": "not recorded in rounds.csv",
            "strategies": ", ".join(dict.fromkeys(r["strategy"])),
            "budget": f"{counts[-1]} labels: {counts[0]} initial + {len(counts) - 1} × "
                      f"{format_setting(steps) if steps else '0'}",
            "repeats": f"{r['repeat'].nunique()} (seeds {format_setting(seeds)})",
        })
    present = r.groupby("strategy", sort=False)["repeat"].nunique()
    row["repeats present"] = ", ".join(f"{s}: {n}" for s, n in present.items())
    row["label counts"] = f"{counts[0]}–{counts[-1]} ({len(counts)} rounds)"
    row["metric"] = metric
    if run.notes:
        row["notes"] = "; ".join(run.notes)
    return row


def _ceiling(run: ReportRun, cache, mode: str):
    """The ceiling table of `run` per `mode`, and a note when there is none."""
    from core.analysis import verdicts

    if mode == "never":
        return None, "ceiling not computed (--ceiling never)"
    if run.config is None:
        return None, "no ceiling: the run's settings are unknown"
    if run.config.test_size == 0:
        return None, "no ceiling: no test split to evaluate an all-labels fit on"
    if run.dataset is None:
        from core.datasets import DatasetError, load_dataset

        try:
            run.dataset = load_dataset(run.config.dataset, **run.config.dataset_options)
        except (DatasetError, OSError) as exc:
            return None, f"no ceiling: the dataset cannot be loaded ({exc})"
    if mode == "auto" and not verdicts.ceiling_is_cheap(run.config):
        frame = verdicts.cached_ceiling(run.config, run.dataset, cache)
        return frame, None if frame is not None else (
            f"ceiling of the {run.config.learner} learner not computed (expensive: --ceiling always, or the "
            "Verdict page's button, computes it)")
    try:
        return verdicts.ceiling(run.config, run.dataset, cache), None
    except ValueError as exc:  # a learner setting the whole pool rules out (LearnerError is a ValueError)
        return None, f"no ceiling: fitting {run.config.learner} on all pool labels failed ({exc})"


def _ci_text(value, low, high, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return ""
    fmt = "+.3f" if signed else ".3f"
    return f"{value:{fmt}}" + (f" [{low:{fmt}}, {high:{fmt}}]" if math.isfinite(low) else "")


def _p(value) -> str:
    return "" if value is None or not math.isfinite(value) else ("< 0.001" if value < 0.001 else f"{value:.3f}")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60]


@dataclass
class Report:
    html: str
    figures: list  # (slug, title, figure)
    tables: dict  # name -> DataFrame (also written as CSV)


def build_report(runs: Sequence[ReportRun], *, cache, kind: str = "accuracy", baseline: str = "random",
                 cuts: Sequence[float] | None = None, alpha: float = 0.05, gain: float | None = None,
                 ceiling_mode: str = "auto", command: str = "") -> Report:
    """Every statistic of `core.analysis.verdicts` for every run, and the combined penalty matrix."""
    import pandas as pd

    from core.analysis import verdicts as v
    from core.present import verdict_figures as vf
    from core.present.figures import html_report
    from core.analysis.metrics import curve_table

    figures, verdict_rows, regime_rows, rank_rows, repeat_rows, settings, units, ranks = [], [], [], [], [], {}, [], []
    order: list[str] = []
    for index, run in enumerate(runs, start=1):
        run.label = _label(index, run)
        rounds, metric = run.rounds, _metric_for(run.rounds, kind)
        order += [s for s in dict.fromkeys(rounds["strategy"]) if s not in order]
        settings[run.label] = settings_rows(run, metric)
        sub = f"{run.label} · {settings[run.label]['dataset']} · {settings[run.label]['learner']} · " \
              f"{settings[run.label]['budget']} · {metric}"
        run_cuts = cuts
        try:
            regimes = v.regime_scores(rounds, metric, run_cuts)
        except ValueError as exc:  # cut points outside this run's label range: thirds instead, said so
            run.notes.append(f"{exc}; thirds used")
            settings[run.label]["notes"] = "; ".join(run.notes)
            run_cuts = None
            regimes = v.regime_scores(rounds, metric, None)
        units += [scores for _, _, _, scores in regimes]
        verdict = v.verdict(rounds, metric, baseline, alpha=alpha, cuts=run_cuts)
        repeats = v.repeats_table(rounds, metric, baseline, gain=gain, alpha=alpha)
        tau_scores = v.aulc_by_repeat(rounds, metric)
        rank, tau, pairs = v.rank_table(tau_scores)
        verdict_rows.append({"run": run.label, "verdict": verdict.sentence,
                             "budget regimes": v.regime_sentence(rounds, metric, run_cuts, alpha),
                             "enough repeats?": v.repeats_sentence(repeats, baseline, alpha=alpha),
                             "rank stability": v.tau_sentence(tau, pairs, len(tau_scores.dropna()))})
        for r in v.regime_table(rounds, metric, run_cuts, baseline).itertuples():
            regime_rows.append({"run": run.label, "regime": r.regime, "strategy": r.strategy,
                                "AULC [95% CI]": _ci_text(r.aulc, r.ci_low, r.ci_high), "rank": r.rank,
                                f"gain over {baseline} [95% CI]": _ci_text(r.gain, r.gain_ci_low, r.gain_ci_high, True),
                                "p": _p(r.p_value), "repeats": r.repeats})
        for r in rank.itertuples():
            rank_rows.append({"run": run.label, "strategy": r.strategy, "mean rank": f"{r.mean_rank:.2f}",
                              "rank sd": "" if not math.isfinite(r.rank_sd) else f"{r.rank_sd:.2f}",
                              "best in": f"{r.best_in}/{r.repeats} repeats", "AULC": f"{r.aulc:.3f}",
                              "Kendall tau": "" if not math.isfinite(tau) else f"{tau:.2f}"})
            ranks.append({"run": run.label, "strategy": r.strategy, "rank": r.mean_rank})
        for r in repeats.itertuples():
            repeat_rows.append({"run": run.label, "strategy": r.strategy, "repeats": r.repeats,
                                f"AULC difference to {baseline}": "" if not math.isfinite(r.gain) else f"{r.gain:+.3f}",
                                "sd of differences": "" if not math.isfinite(r.sd) else f"{r.sd:.4f}",
                                "p": _p(r.p_value),
                                "repeats needed (observed difference, 80% power)":
                                    "" if r.repeats < 2 else v.needed_text(r.needed_observed),
                                **({f"repeats needed (gain {gain:+.3f})": "" if r.repeats < 2 else
                                    v.needed_text(r.needed_chosen)} if gain is not None else {})})
        # figures of this run
        ceiling_frame, note = _ceiling(run, cache, ceiling_mode)
        ceiling = v.ceiling_summary(ceiling_frame, metric)
        if ceiling_frame is not None and ceiling is None:
            note = f"no ceiling for {metric}"
        curves = curve_table(rounds, metric)
        figures.append((f"{_slug(run.label)}_curves", f"{run.label}: learning curves",
                        vf.curves_with_ceiling(curves, metric, ceiling, subtitle=sub, note=note)))
        diffs = v.difference_table(rounds, metric, baseline)
        if len(diffs):
            figures.append((f"{_slug(run.label)}_difference", f"{run.label}: difference to {baseline}",
                            vf.difference_figure(diffs, metric, baseline, subtitle=sub)))
        figures.append((f"{_slug(run.label)}_matrix", f"{run.label}: pairwise penalty matrix over label counts",
                        vf.penalty_heatmap(v.pairwise_matrix(rounds, metric, alpha), subtitle=sub)))
        table = v.regime_table(rounds, metric, run_cuts, baseline)
        if len(table):
            figures.append((f"{_slug(run.label)}_regimes", f"{run.label}: budget regimes",
                            vf.regime_figure(table, metric, baseline, subtitle=sub)))
        if len(repeats) and repeats["repeats"].max() >= 2:
            figures.append((f"{_slug(run.label)}_power", f"{run.label}: repeats needed",
                            vf.power_figure(repeats, baseline, alpha=alpha, subtitle=sub)))
    combined = v.pairwise_from_units(units, order, unit="runs x budget regimes", alpha=alpha)
    combined.notes = [f"{len(runs)} run{'s' * (len(runs) != 1)} × their budget regimes "
                      f"({'cut at ' + ', '.join(f'{c:g}' for c in cuts) + ' labels' if cuts else 'thirds of each label range'}): "
                      f"{len(units)} units; each unit is a paired t-test of the regime's AULC over the run's repeats"]
    figures.insert(0, ("combined_matrix", "Pairwise penalty matrix over all runs and budget regimes",
                       vf.penalty_heatmap(combined, title="Pairwise penalty matrix over runs × budget regimes")))
    rank_frame = pd.DataFrame(ranks)
    overall = (rank_frame.pivot_table(index="strategy", columns="run", values="rank", aggfunc="first")
               .reindex(order) if len(rank_frame) else pd.DataFrame())
    mean_rank = pd.DataFrame({"strategy": overall.index, "mean rank over runs": overall.mean(axis=1).round(2).to_numpy(),
                              "runs": overall.notna().sum(axis=1).to_numpy()}).join(
        overall.round(2).reset_index(drop=True)).sort_values("mean rank over runs", kind="stable") if len(overall) else overall
    settings_frame = pd.DataFrame(settings).fillna("—").rename_axis("setting").reset_index()
    tables = {
        "Verdicts": pd.DataFrame(verdict_rows),
        "Settings of every run": settings_frame,
        "Mean rank over runs (per run: the strategy's rank by AULC averaged over its repeats; 1 = best)": mean_rank,
        "Budget regimes": pd.DataFrame(regime_rows),
        "Mean rank by AULC within each repeat, and its stability (Kendall tau between repeats)": pd.DataFrame(rank_rows),
        f"Enough repeats? (paired t-test on AULC vs {baseline}, 80% power, two-sided alpha {alpha:g})":
            pd.DataFrame(repeat_rows),
    }
    matrix_text = pd.DataFrame([{"better": i, **{j: ("—" if i == j else f"{combined.wins.loc[i, j]}/{combined.tested.loc[i, j]}")
                                                    for j in order},
                                 "units won": int(combined.wins.loc[i].sum()), "units lost": int(combined.wins[i].sum())}
                                for i in order])
    tables["Combined penalty matrix: units won / units tested (row significantly better than column)"] = matrix_text
    config = {
        "runs": ", ".join(r.label for r in runs),
        "metric": f"{kind.replace('_', '-')} on the test split (pool where a run has no test split)",
        "baseline": baseline,
        "significance": f"paired t-tests over repeats (same seed, same initial labels), two-sided alpha {alpha:g}; "
                        f"{v.CORRECTION} over the label counts (per-run matrices) or runs × regimes (combined "
                        "matrix) of each pair, and over the strategies compared with the baseline (verdicts)",
        "budget regimes": ("cut at " + ", ".join(f"{c:g}" for c in cuts) + " labels") if cuts else
                          "low / middle / high thirds of each run's label range",
        "repeats needed": "80% power, two-sided paired t-test (noncentral t), from the spread of per-repeat AULC differences",
        "ceiling": "the same learner fitted on every pool label of each repeat, on its test split (dashed line)",
        "command": command or "—",
        "written": time.strftime("%Y-%m-%d %H:%M"),
    }
    page = html_report(f"{REPORT_TITLE}: {len(runs)} run{'s' * (len(runs) != 1)}",
                       [(title, fig) for _, title, fig in figures], config=config, tables=list(tables.items()))
    # text tables read left to right (the house stylesheet right-aligns every cell for numbers)
    page = page.replace("</style>", "table.dataframe td{text-align:left;vertical-align:top}"
                                    "table.dataframe th{text-align:left}p.note{color:#a60}</style>", 1)
    return Report(page, figures, tables)


@contextlib.contextmanager
def _one_browser():
    """One kaleido browser for every image (measured: about 1 s an image instead of 3-5 s, each
    `figure_image` otherwise starting Chromium afresh)."""
    try:
        import kaleido

        start, stop = kaleido.start_sync_server, kaleido.stop_sync_server
    except (ImportError, AttributeError):  # an older kaleido: one browser per image, slower but the same files
        yield
        return
    start(silence_warnings=True)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The kopts argument is ignored")
            yield
    finally:
        stop(silence_warnings=True)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(text):
    """A CSV field a spreadsheet will not run as a formula: one that starts with = + - @ tab or CR gets a
    leading single quote (OWASP CSV injection guidance); other values unchanged.
    Same rule as core/csvsafe.neutralise."""
    return "'" + text if isinstance(text, str) and text.startswith(_FORMULA_START) else text


def _safe_csv(table) -> bytes:
    """A table as CSV bytes with every text cell and header neutralised (a class or folder name is data)."""
    safe = table.map(_neutralise)
    safe.columns = [_neutralise(str(c)) for c in safe.columns]
    return safe.to_csv(index=False).encode("utf-8")


def _is_report(out: Path) -> bool:
    """Whether `out` holds a report this command wrote (its report.html opens with the report's title)."""
    from core.files import open_regular

    try:
        with open_regular(out / "report.html") as f:
            return f"<title>{REPORT_TITLE}".encode() in f.read(4096)
    except OSError:
        return False


def check_out(out: Path, *, force: bool = False) -> None:
    """ValueError unless `out` may receive a report: never the filesystem root; a missing or empty folder,
    a previous report, or (with force) any folder."""
    if out.resolve() == Path(out.resolve().anchor):
        raise ValueError(f"--out {str(out)!r} is the filesystem root; give a folder for the report, e.g. out/report")
    if force or not out.is_dir() or _is_report(out):
        return
    entries = sorted(p.name for p in out.iterdir())
    if entries:
        raise ValueError(f"--out {str(out)!r} is not empty and holds no previous report ({len(entries)} entries, "
                         f"e.g. {entries[0]!r}); choose a new or empty folder, or add --force to write into it")


def write_report(report: Report, out: Path, *, images: bool = True) -> list[str]:
    """report.html, one CSV per table, and figures/*.png|svg when a browser renders them. Returns notes."""
    from core.files import atomic_write_bytes
    from core.present.figures import ExportUnavailable, browser_available, figure_image

    notes = []
    page = report.html
    if images and browser_available():
        try:
            with _one_browser():
                for slug, _, fig in report.figures:
                    for fmt in ("png", "svg"):
                        atomic_write_bytes(out / "figures" / f"{slug}.{fmt}", figure_image(fig, fmt))
            notes.append(f"wrote {2 * len(report.figures)} images (PNG and SVG) to {out / 'figures'}")
        except ExportUnavailable as exc:
            notes.append(f"no PNG/SVG: {exc}")
    elif images:
        notes.append("no PNG/SVG: no Chrome or Chromium browser found (Debian: apt-get install -y chromium); "
                     "the HTML report holds every chart")
    if notes and notes[-1].startswith("no PNG/SVG"):
        page = page.replace("<h2>Settings</h2>",
                            f"<p class='note'><b>Note:</b> {html.escape(notes[-1])}.</p><h2>Settings</h2>", 1)
    atomic_write_bytes(out / "report.html", page.encode("utf-8"))
    for name, table in report.tables.items():
        atomic_write_bytes(out / f"{_slug(name.split('(')[0].split(':')[0])}.csv", _safe_csv(table))
    return notes


# --------------------------------------------------------------------------- command line


def add_report_parser(subparsers) -> argparse.ArgumentParser:
    """Register `report` on the `python -m core` subparsers."""
    p = subparsers.add_parser(
        "report", help="combine comparisons into one HTML report of verdicts (appendix-ready)",
        description="Combine several comparisons into one self-contained HTML report: the verdict of each, the "
                    "pairwise penalty matrix (Lüth et al. 2023) over runs x budget regimes and per run, budget "
                    "regimes, mean ranks and their stability, the repeats needed, learning curves with the "
                    "all-labels ceiling and the settings of every run; PNG and SVG of each chart when Chrome or "
                    "Chromium is installed.")
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="a comparison's --out folder (holding rounds.csv) or a comparison key of the cache "
                        "(or a unique prefix of 6+ characters)")
    p.add_argument("--out", default="out/report", help="directory for report.html, CSVs and figures/ (default: out/report)")
    p.add_argument("--cache-dir", help="the cache holding the comparisons and ceilings (default: $ALBENCH_CACHE_DIR, "
                                       "else the checkout's cache/)")
    p.add_argument("--metric", choices=METRIC_KINDS, default="accuracy",
                   help="accuracy or macro_f1, on the test split (on the pool for runs without one) (default: accuracy)")
    p.add_argument("--baseline", default="random", help="the strategy every other is compared with (default: random)")
    p.add_argument("--regimes", metavar="N1,N2,...",
                   help="label counts that split the budget regimes (default: thirds of each run's label range)")
    p.add_argument("--gain", type=float, metavar="AULC",
                   help="also report the repeats needed to detect this AULC gain (e.g. 0.01)")
    p.add_argument("--ceiling", choices=CEILING_MODES, default="auto",
                   help="all-labels ceiling: auto = computed for cheap learners, read from the cache for the cnn; "
                        "always; never (default: auto)")
    p.add_argument("--no-images", action="store_true", help="write no PNG/SVG (faster)")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty --out that holds no previous report (its other files are kept)")
    return p


def _command_line(args: argparse.Namespace) -> str:
    """The command that rewrites this report, options at their default left out."""
    import shlex

    parts = ["python", "-m", "core", "report", *args.runs, "--out", args.out, "--cache-dir", args.cache_dir]
    for option, value, default in (("--metric", args.metric, "accuracy"), ("--baseline", args.baseline, "random"),
                                   ("--regimes", args.regimes, None), ("--gain", args.gain, None),
                                   ("--ceiling", args.ceiling, "auto")):
        if value != default:
            parts += [option, str(value)]
    return shlex.join(parts) + (" --no-images" if args.no_images else "")


def cmd_report(args: argparse.Namespace) -> int:
    from core.engine.cache import Cache, CacheError
    from core.files import check_writable_dir
    from core.analysis.verdicts import parse_cuts

    t0 = time.perf_counter()
    try:
        if not args.out or not args.out.strip():
            raise ValueError(f"--out must be a directory path; got {args.out!r}")
        cuts = parse_cuts(args.regimes)
        if args.gain is not None and not (math.isfinite(args.gain) and args.gain != 0):
            raise ValueError(f"--gain must be a non-zero AULC difference such as 0.01; got {args.gain!r}")
        if args.cache_dir is not None and not args.cache_dir.strip():
            raise ValueError(f"--cache-dir must be a directory path; got {args.cache_dir!r}")
        cache = Cache(args.cache_dir)  # None: $ALBENCH_CACHE_DIR, else the checkout's cache/ (core.engine.cache.cache_dir)
        args.cache_dir = str(cache.root)  # the command line written into the report names it
        runs = [resolve_run(text, cache) for text in args.runs]
        out = Path(args.out)
        check_out(out, force=getattr(args, "force", False))
        check_writable_dir(out, "--out", create=False)
    except (RunNotFound, ValueError, CacheError, OSError) as exc:
        # the name the user typed (`albench report`), as core.cli sets it for every command
        print(f"{getattr(args, 'command_prog', PROG)}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for run in runs:
        if args.baseline not in set(run.rounds["strategy"]):
            print(f"warning: {run.arg}: baseline {args.baseline!r} is not among its strategies "
                  f"({', '.join(dict.fromkeys(run.rounds['strategy']))}); its verdict says so", file=sys.stderr)
    command = _command_line(args)
    report = build_report(runs, cache=cache, kind=args.metric, baseline=args.baseline, cuts=cuts, gain=args.gain,
                          ceiling_mode=args.ceiling, command=command)
    out.mkdir(parents=True, exist_ok=True)
    notes = write_report(report, out, images=not args.no_images)
    for note in notes:
        print(note, file=sys.stderr)
    for row in report.tables["Verdicts"].itertuples():
        print(f"{row.run}: {row.verdict}")
    print(f"wrote {out / 'report.html'} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry (`python -m core.present.report RUN...`) until `core.cli` registers the subcommand."""
    parser = argparse.ArgumentParser(prog=PROG)
    sub = parser.add_subparsers(dest="command", required=True)
    add_report_parser(sub)
    return cmd_report(parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
