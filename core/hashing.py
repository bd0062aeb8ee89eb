"""Content hashes of settings: the ground floor (imports nothing from core), so datasets, learners
and the engine hash the same way without reaching up into the config."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(obj: Any) -> str:
    """One text per value: keys sorted, no spaces; what JSON cannot hold is written as `str`."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def stable_hash(obj: Any, n: int = 16) -> str:
    """The first `n` hex digits of the SHA-256 of `canonical_json(obj)`: the same in every process."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:n]
