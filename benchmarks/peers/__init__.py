"""Side by side with modAL and scikit-activeml: same selection, same speed question, same labels.

    python -m benchmarks.peers            # regenerates benchmarks/RESULTS.md and the charts beside it
    python -m benchmarks.peers --quick    # small sizes, few repeats: a smoke run, not numbers to quote

The peers come from the `bench` extra (`pip install -c constraints.txt -e ".[bench]"`); nothing
in the main install or the main tests imports this package.
"""

from __future__ import annotations

import importlib.util

PEERS = ("modAL", "skactiveml")


def missing_peers() -> list[str]:
    """Import names of the peer libraries that are not installed."""
    return [name for name in PEERS if importlib.util.find_spec(name) is None]
