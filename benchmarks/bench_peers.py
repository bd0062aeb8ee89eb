"""Selection time next to modAL and scikit-activeml (the short form of `python -m benchmarks.peers`)."""

from __future__ import annotations

from benchmarks.peers import missing_peers

TITLE = "selection vs modAL / scikit-activeml (same model, same pool; full report: python -m benchmarks.peers)"


def run(quick: bool) -> list[dict]:
    missing = missing_peers()
    if missing:
        return [{"skipped": f"peers {missing} not installed: pip install -c constraints.txt -e '.[bench]'"}]
    from benchmarks.peers import report, speed

    peer_rows, _ = speed.query_speed([10_000] if quick else [100_000], [10], 3 if quick else 7)
    import pandas as pd

    table = report.speed_table(pd.DataFrame(peer_rows))
    return table.drop(columns=["goal (3x at >=100k)"]).round(3).to_dict("records")
