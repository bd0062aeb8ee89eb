"""Stopping on request (SIGTERM from the dashboard's Cancel or `timeout`, Ctrl-C) within a second or two.

The command line's signal handler calls `request_stop()`. Between rounds the runner polls its
`should_stop` and stops cleanly; long work with nothing to save half-way (a backbone's feature
extraction between store parts, a CNN's epochs) runs inside `interruptible()`, where a request
raises `Cancelled` at once, so nobody waits minutes for a batch. Cache writes stay outside those
blocks, so a stop never leaves half a file.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator


class Cancelled(Exception):
    """The caller asked to stop; what was completed (rounds, feature store parts) is in the cache."""


_state = threading.local()  # signal handlers run in the main thread: the depth is the main thread's
_requested: list[str] = []  # the reason of the stop request of this process, if any


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """A stop request, made before or inside this block, raises Cancelled here at once."""
    if _requested:
        raise Cancelled(_requested[0])
    depth = getattr(_state, "depth", 0)
    _state.depth = depth + 1
    try:
        yield
    finally:
        _state.depth = depth


def request_stop(reason: str = "stop requested") -> None:
    """Called from a signal handler: remember the request; raise Cancelled when in interruptible work."""
    if not _requested:
        _requested.append(reason)
    if getattr(_state, "depth", 0) > 0:
        _state.depth = 0  # leaving the block: nothing else raises on the way out
        raise Cancelled(reason)


def reset() -> None:
    """Forget an earlier request (a new command in the same process starts unstopped)."""
    _requested.clear()
