"""Stopping on request (SIGTERM from the dashboard's Cancel or `timeout`, Ctrl-C) within a second or two.

The command line's signal handler calls `request_stop()`. Between rounds the runner polls its
`should_stop` and stops cleanly; inside long work that has nothing to save half-way (a
backbone's feature extraction between store parts, a CNN's epochs) the request raises
`Cancelled` at once, so nobody waits for a batch of minutes. Work marks itself so with
`interruptible()`; cache writes stay outside it, so a stop never leaves half a file.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator


class Cancelled(Exception):
    """The caller asked to stop; what was completed (rounds, feature store parts) is in the cache."""


_state = threading.local()  # signal handlers run in the main thread: the flag is per thread


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """A stop request inside this block raises Cancelled immediately (from the signal handler)."""
    depth = getattr(_state, "depth", 0)
    _state.depth = depth + 1
    try:
        yield
    finally:
        _state.depth = depth


def request_stop(reason: str = "stop requested") -> None:
    """Called from a signal handler: raise Cancelled when the main thread is in interruptible work."""
    if getattr(_state, "depth", 0) > 0:
        _state.depth = 0  # the raise leaves the block; nothing else may raise on the way out
        raise Cancelled(reason)
