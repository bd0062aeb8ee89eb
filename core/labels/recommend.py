"""Which strategy to label a folder with: the verdict of a comparison the user ran on it.

The Label page starts with the strategy a finished comparison on the same folder recommends
(`core.verdicts.verdict`: significantly better than random on AULC, Holm-corrected); with no
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


def recommend(cache, folder: str | Path) -> Recommendation:
    """The newest finished comparison on `folder` (or a labels CSV in it) that recommends a strategy."""
    from core.config import ConfigError, RunConfig
    from core.runner import Comparison
    from core.verdicts import verdict

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
        comparison = Comparison(config, dataset=None)  # type: ignore[arg-type]
        for unit in record.get("units") or []:
            try:
                comparison.runs[(unit["strategy"], int(unit["repeat"]))] = cache.run(unit["key"]).load_rounds()
            except (KeyError, TypeError, ValueError):
                continue
        rounds = comparison.frame()
        if rounds.empty:
            continue
        result = verdict(rounds)
        if result.kind == "recommend" and result.recommended in config.strategies:
            return Recommendation(result.recommended, f"recommended by comparison {record['key'][:8]} on this "
                                                      f"folder: {result.sentence}", record["key"])
    why = (f"{seen} finished comparison(s) on this folder recommend no strategy over random" if seen else
           "no finished comparison on this folder yet (run one on Compare with the folder dataset)")
    return Recommendation(DEFAULT, f"{DEFAULT}: {why}")
