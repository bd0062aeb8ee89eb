"""Which strategy to label a folder with: the verdict of a comparison the user ran on it.

The Label page starts with the strategy a finished comparison on the same folder recommends
(`core.analysis.verdicts.verdict`: significantly better than random on AULC, Holm-corrected); with no
such comparison, or none that recommends anything, it starts with entropy and says why.
Reads the cache's comparison records and round records only: no dataset is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT = "entropy"


@dataclass(frozen=True)
class Recommendation:
    strategy: str
    reason: str  # one sentence for the page
    comparison: str | None = None  # the comparison key it comes from


def _same_folder(data_dir: str, folder: Path) -> bool:
    data = Path(data_dir)
    return data == folder or (data.suffix.lower() == ".csv" and data.parent == folder)


def _rounds_of(cache, record: dict, config):
    """The comparison frame of a cache record (its runs read back from the cache); empty when none load."""
    from core.engine.runner import Comparison

    comparison = Comparison(config, dataset=None)  # type: ignore[arg-type]
    for unit in record.get("units") or []:
        try:
            comparison.runs[(unit["strategy"], int(unit["repeat"]))] = cache.run(unit["key"]).load_rounds()
        except (KeyError, TypeError, ValueError):
            continue
    return comparison.frame()


def recommend(cache, folder: str | Path) -> Recommendation:
    """The newest finished comparison on `folder` (or a labels CSV in it) that recommends a strategy."""
    from core.engine.config import ConfigError, RunConfig
    from core.analysis.verdicts import verdict

    folder = Path(folder).resolve()
    seen = 0
    for record in cache.comparisons():  # newest first
        config_dict = record.get("config") if isinstance(record.get("config"), dict) else {}
        if config_dict.get("dataset") != "folder" or not isinstance(config_dict.get("data_dir"), str):
            continue
        if not _same_folder(config_dict["data_dir"], folder) or record.get("status") != "done":
            continue
        try:
            config = RunConfig.from_dict(config_dict)
        except ConfigError:  # a record from an older version that no longer validates
            continue
        seen += 1
        rounds = _rounds_of(cache, record, config)
        if rounds.empty:
            continue
        result = verdict(rounds)
        if result.kind == "recommend" and result.recommended in config.strategies:
            return Recommendation(result.recommended, f"recommended by comparison {record['key'][:8]} on this "
                                                      f"folder: {result.sentence}", record["key"])
    why = (f"{seen} finished comparison(s) on this folder recommend no strategy over random" if seen else
           "no finished comparison on this folder yet (run one on Compare with the folder dataset)")
    return Recommendation(DEFAULT, f"{DEFAULT}: {why}")


def comparison_command(store, csv_path: str | Path, *, learner: str = "logistic") -> tuple[str | None, str]:
    """(the `albench run` command that compares strategies on the exported labels, why / what it does); the
    command is None when the labels are too few for any comparison.

    The sizes follow the labels the person has, not the defaults (20 initial, 10 x 10 rounds,
    which 30 labels cannot fill): the test split is as large as the audit sample when there is
    one (else a quarter), at least one image per class; the initial set a third of the rest (at
    least one per class, at most 20); the rest is spent in up to 10 rounds. The result is checked
    with the run's own validation (`RunConfig`, `check_against_data`) before it is shown.
    """
    import math
    import shlex

    from core.engine.config import ConfigError, RunConfig, check_against_data

    status = store.status()
    counts = [c for c in status["per_class"].values() if c > 0]
    n, n_classes = sum(counts), len(counts)
    if n_classes < 2:
        return None, "Label at least two classes to compare strategies on them."
    wanted = status["audit_labeled"] or round(0.25 * n)
    # a stratified split needs two images of every class; without them only the pool accuracy is measured
    test_size = 0.0 if min(counts) < 2 else round(min(max(wanted, n_classes), n // 2) / n, 4)
    pool = n - math.ceil(test_size * n)
    initial, batch, rounds, clusters = _sizes(pool, n_classes)
    config = dict(dataset="folder", data_dir=str(csv_path), learner=learner, initial=initial, batch=batch,
                  rounds=rounds, test_size=test_size, clusters=clusters)
    try:
        check_against_data(RunConfig.from_dict(config), n_classes, pool)
    except ConfigError as exc:
        return None, f"The {n} labels are too few for a comparison ({exc}); label more first."
    args = ["albench", "run", "--dataset", "folder", "--data-dir", str(csv_path), "--learner", learner,
            "--initial", str(initial), "--batch", str(batch), "--rounds", str(rounds), "--test-size", str(test_size),
            "--clusters", str(clusters)]
    split = (f"the test split is the size of your audit sample ({status['audit_labeled']})"
             if status["audit_labeled"] and test_size else
             "no test split (a class has a single label): pool accuracy only" if not test_size else
             f"a quarter of the labels ({math.ceil(test_size * n)}) are held out for testing")
    return shlex.join(args), (f"Sized to your {n} labels: {initial} initial, then {rounds - 1} round(s) of {batch}; "
                              f"{split}.")


LABELS_STRATEGIES = ("random", "entropy", "hybrid")
LABELS_REPEATS = 3  # the verdict's paired test needs repeats; three keep a 2,000-label project under a minute
MIN_ROUNDS = 3  # fewer rounds draw no curve: every strategy would be scored on (almost) the same labels


def _sizes(n_pool: int, n_classes: int) -> tuple[int, int, int, int]:
    """(initial, batch, rounds, clusters) for a pool of `n_pool` labels: a third (at least one per class, at
    most 20) as the initial set, the rest spent in up to 10 rounds."""
    import math

    initial = max(n_classes, min(20, n_pool // 3))
    spend = n_pool - initial
    batch = max(2, math.ceil(spend / 9))  # hybrid (alpha 0.5) needs round(alpha * batch) >= 1 cluster
    rounds = max(1, min(10, 1 + spend // batch))
    clusters = max(1, min(5, round(0.5 * batch)))  # hybrid's clusters fit in its uncertain half of a batch
    return initial, batch, rounds, clusters


def labels_comparison(store, project: str | Path, *, learner: str = "logistic"):
    """(the RunConfig that compares strategies on this project's own labels (`--dataset labels`), why / what it
    does); the config is None, and the reason says why, when the labels are too few.

    The pool is the labelled images outside the audit sample and the test split the labelled audit
    sample (with a labelled audit sample of two classes or more), else a stratified quarter of
    the labels; sizes as `comparison_command`'s, checked by `RunConfig` and `check_against_data`.
    """
    import math

    from core.engine.config import ConfigError, RunConfig, check_against_data
    from core.params import ParamError  # a ConfigError is one too; plug-in values raise the plain kind

    status = store.status()
    counts = [c for c in status["per_class"].values() if c > 0]
    n, n_classes, audit = sum(counts), len(counts), int(status["audit_labeled"])
    if n_classes < 2:
        return None, "Label at least two classes to compare strategies on them."
    audit_ids = {row["id"] for row in store.items() if row["audit"]}
    audit_classes = len({e.label for i, e in store.current().items() if i in audit_ids and e.kind == "label"})
    if audit and audit_classes >= 2:
        pool, split = n - audit, f"your {audit} labelled audit images are the test split (never trained on)"
    else:
        pool, split = n - math.ceil(0.25 * n), f"a stratified quarter of your labels ({math.ceil(0.25 * n)}) is the test split"
    initial, batch, rounds, clusters = _sizes(pool, n_classes)
    if rounds < MIN_ROUNDS:
        return None, (f"Your {pool} training labels are too few for a comparison: it needs {MIN_ROUNDS} rounds after "
                      f"an initial set of {initial} (one per class at least); label more first.")
    try:
        config = RunConfig(dataset="labels", data_dir=str(Path(project).resolve()), learner=learner,
                           strategies=LABELS_STRATEGIES, initial=initial, batch=batch, rounds=rounds,
                           repeats=LABELS_REPEATS, strategy_params={"hybrid": {"clusters": clusters}} if clusters != 5 else {})
        check_against_data(config, n_classes, pool)
    except (ConfigError, ParamError) as exc:
        return None, f"Your {n} labels are too few for a comparison ({exc}); label more first."
    return config, (f"Sized to your {pool} training labels: {initial} initial, then {rounds - 1} round(s) of {batch}, "
                    f"{LABELS_REPEATS} repeats of {', '.join(LABELS_STRATEGIES)}; {split}; cost in your recorded "
                    f"labelling minutes.")


def project_verdict(cache, project: str | Path):
    """(the newest finished `--dataset labels` comparison on this project's record, its Verdict), or None."""
    from core.analysis.verdicts import verdict
    from core.engine.config import ConfigError, RunConfig

    project = Path(project).resolve()
    for record in cache.comparisons():  # newest first
        config_dict = record.get("config") if isinstance(record.get("config"), dict) else {}
        if config_dict.get("dataset") != "labels" or record.get("status") != "done":
            continue
        if not isinstance(config_dict.get("data_dir"), str) or Path(config_dict["data_dir"]).resolve() != project:
            continue
        try:
            config = RunConfig.from_dict(config_dict)
        except ConfigError:
            continue
        rounds = _rounds_of(cache, record, config)
        if not rounds.empty:
            return record, verdict(rounds)
    return None
