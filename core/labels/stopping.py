"""When to stop labelling: do more labels still help?

Two pieces of evidence, never a bare verdict:

- stabilising predictions (Bloodgood & Vijay-Shanker 2009): successive models' predictions on a
  fixed stop set of unlabelled images, compared by Cohen's kappa; once kappa stays at or above
  `threshold` for `window` rounds in a row, new labels no longer change what the model says;
- the audit sample's accuracy over the last rounds with its 95% Wilson intervals (labels drawn at
  random and never trained on, so an unbiased estimate): gains inside the interval are noise.

`stop_signal` is pure: the Label page and `label status` pass it what the model rounds recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

KAPPA_THRESHOLD = 0.99  # Bloodgood & Vijay-Shanker's stop-set agreement
WINDOW = 3  # rounds in a row


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n == 0:
        return math.nan, math.nan
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class ModelRound:
    """What one model round recorded: labels it was fitted on, its predictions on the stop set, audit score."""

    n_labeled: int
    stop_predictions: np.ndarray  # predicted class per stop-set image, the same images every round
    audit_correct: int | None = None
    audit_total: int | None = None


@dataclass(frozen=True)
class StopSignal:
    flattened: bool
    since: int | None  # label count from which predictions have been stable
    sentence: str
    kappas: list[float] = field(default_factory=list)  # between round i-1 and i, for i >= 1


def kappas(rounds: Sequence[ModelRound]) -> list[float]:
    """Cohen's kappa between each round's stop-set predictions and the previous round's."""
    from sklearn.metrics import cohen_kappa_score

    out = []
    for before, after in zip(rounds, rounds[1:]):
        if np.array_equal(before.stop_predictions, after.stop_predictions):
            out.append(1.0)  # identical (kappa is undefined when one class is predicted throughout)
        else:
            out.append(float(cohen_kappa_score(before.stop_predictions, after.stop_predictions)))
    return out


def _audit_text(r: ModelRound) -> str:
    if not r.audit_total:
        return ""
    low, high = wilson(r.audit_correct, r.audit_total)
    return f"{r.audit_correct / r.audit_total:.2f} [{low:.2f}, {high:.2f}] at {r.n_labeled} labels"


def stop_signal(rounds: Sequence[ModelRound], *, threshold: float = KAPPA_THRESHOLD, window: int = WINDOW) -> StopSignal:
    """'more labels still help' or 'gains have flattened since N labels', with the evidence in the sentence."""
    k = kappas(rounds)
    if len(k) < window:
        return StopSignal(False, None, f"more labels still help: {len(rounds)} model round(s) so far; the stop signal "
                                       f"needs {window + 1} (predictions compared over {window} rounds)", k)
    stable = 0
    for value in reversed(k):
        if value < threshold:
            break
        stable += 1
    evidence = ", ".join(f"{v:.3f}" for v in k[-window:])
    audits = [t for t in (_audit_text(r) for r in (rounds[-window - 1], rounds[-1])) if t]
    audit = f"; audit accuracy (95% interval) {audits[0]}, {audits[1]}" if len(audits) == 2 else ""
    if stable >= window:
        since = rounds[len(rounds) - 1 - stable].n_labeled
        return StopSignal(True, since, f"gains have flattened since {since} labels: the model's predictions on the "
                                       f"stop set agree from round to round (kappa {evidence} >= {threshold}){audit}", k)
    return StopSignal(False, None, f"more labels still help: the model's predictions on the stop set still change "
                                   f"(kappa {evidence}; stable at >= {threshold} for {window} rounds means flattened)"
                                   f"{audit}", k)
