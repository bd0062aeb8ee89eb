"""The statistics behind a verdict: the paired t-test, Holm-Bonferroni, the power of a paired
t-test and the repeats it needs, and Kendall's tau between repeats' rankings.

scipy is imported where first needed (scipy.special is cheap; scipy.stats only for Kendall's tau).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

ALPHA = 0.05
POWER = 0.8
MAX_REPEATS_NEEDED = 1000
CORRECTION = "Holm-Bonferroni"

def paired_t(diff: np.ndarray) -> tuple[float, float]:
    """(t, two-sided p) of the paired t-test of mean difference 0 (scipy.stats.ttest_1samp).

    Fewer than 2 differences: (nan, nan). Differences all equal: no spread to test against;
    as scipy, a constant non-zero difference is t = ±inf, p = 0, and all zeros are p = 1
    (scipy says nan; "no difference at all" is the reading a verdict needs).
    """
    diff = np.asarray(diff, dtype=float)
    diff = diff[np.isfinite(diff)]
    n = diff.size
    if n < 2:
        return math.nan, math.nan
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    if sd <= 1e-12 * max(1.0, abs(mean)):
        if abs(mean) <= 1e-15:
            return 0.0, 1.0
        return math.copysign(math.inf, mean), 0.0
    from scipy import special

    t = mean / (sd / math.sqrt(n))
    return t, float(2.0 * special.stdtr(n - 1, -abs(t)))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN
    and does not count as a test."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out


def paired_power(n: int, effect_size: float, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t-test with n pairs at standardised effect d = mean / sd
    of the differences (noncentral t, df n - 1, noncentrality d * sqrt(n))."""
    if n < 2:
        return math.nan
    from scipy import special

    df, d = n - 1, abs(float(effect_size))
    crit = float(special.stdtrit(df, 1.0 - alpha / 2.0))
    if math.isinf(d):
        return 1.0
    nc = d * math.sqrt(n)
    return float(1.0 - special.nctdtr(df, nc, crit) + special.nctdtr(df, nc, -crit))


def repeats_needed(effect: float, sd: float, *, power: float = POWER, alpha: float = ALPHA,
                   cap: int = MAX_REPEATS_NEEDED) -> int | None:
    """The fewest repeats (>= 2) at which a paired t-test detects a mean difference `effect`
    whose per-repeat differences have standard deviation `sd`, with `power`, two-sided `alpha`.

    None when more than `cap` are needed (or the effect is 0: it cannot be detected);
    NaN inputs give None too. d = 1 at 80% power, alpha 0.05 needs 10.
    """
    if not (math.isfinite(effect) and math.isfinite(sd)) or effect == 0:
        return None
    d = math.inf if sd <= 0 else abs(effect) / sd
    # Power grows with n: double to bracket the answer, then bisect.
    low, high = 1, 2
    while paired_power(high, d, alpha) < power:
        if high >= cap:
            return None
        low, high = high, min(2 * high, cap)
    while high - low > 1:
        mid = (low + high) // 2
        if paired_power(mid, d, alpha) >= power:
            high = mid
        else:
            low = mid
    return max(high, 2)


def kendall_stability(scores: pd.DataFrame) -> tuple[float, int]:
    """Mean Kendall tau (scipy's tau-b) between the rankings of every two repeats.

    `scores`: one row per repeat, one column per strategy (e.g. AULC). Returns (mean tau,
    pairs of repeats counted); pairs where a ranking is all ties (tau undefined) are left out.
    """
    values = scores.dropna().to_numpy(dtype=float)
    if values.shape[0] < 2 or values.shape[1] < 2:
        return math.nan, 0
    from scipy.stats import kendalltau

    taus = []
    for a in range(len(values)):
        for b in range(a + 1, len(values)):
            tau = kendalltau(values[a], values[b]).statistic
            if np.isfinite(tau):
                taus.append(float(tau))
    return (float(np.mean(taus)), len(taus)) if taus else (math.nan, 0)
