"""Score + select time of every uncertainty measure and of the hybrid, with peak memory.

Pools of 10k / 100k / 1M samples x 10 classes (float32 probabilities), k = 10 and 1000.
modAL's same selection (`*_sampling` on a stand-in classifier returning the same float32
probabilities: float32 against float32) runs in the same process when modAL is installed
(`pip install -e .[bench]`). Threads as `python -m benchmarks --threads` sets them, named in every row.
"""

from __future__ import annotations

import resource

import numpy as np

from benchmarks.measure import median_seconds
from benchmarks.measure import peak_mb as _peak_mb

from core.strategies import make_strategy
from core.engine.threads import describe
from core.types import PoolView

TITLE = "selection time per round (median of 5, ms) and peak extra memory (MB)"
MEASURES = ["entropy", "least_confidence", "smallest_margin", "largest_margin"]


def _median_ms(fn, repeats: int = 5) -> float:
    return 1000 * median_seconds(fn, repeats, warmup=True)


def _modal_fn(measure: str, proba: np.ndarray, k: int):
    try:
        from modAL import uncertainty
    except ImportError:
        return None
    fn = {"entropy": uncertainty.entropy_sampling, "least_confidence": uncertainty.uncertainty_sampling,
          "smallest_margin": uncertainty.margin_sampling}.get(measure)
    if fn is None:
        return None

    class Fixed:  # modAL asks the estimator for probabilities; hand it the same matrix
        def predict_proba(self, X, **kwargs):
            return proba

    dummy_X = np.empty((len(proba), 1))
    return lambda: fn(Fixed(), dummy_X, n_instances=k)


def run(quick: bool = False) -> list[dict]:
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        proba = rng.dirichlet(np.ones(10), size=n).astype(np.float32)
        view = PoolView(np.zeros(n, dtype=bool), proba=proba)
        for k in (10, 1000):
            for measure in MEASURES:
                strategy = make_strategy(measure)
                select = lambda: strategy.select(view, k, rng=np.random.default_rng(1))  # noqa: E731
                ours = _median_ms(select)
                modal = _modal_fn(measure, proba, k)
                modal_ms = _median_ms(modal, repeats=3) if modal else float("nan")
                rows.append({"what": measure, "pool": n, "k": k, "ours_ms": round(ours, 1),
                             "modAL_ms": round(modal_ms, 1), "speed-up": round(modal_ms / ours, 1) if modal else "",
                             "peak_MB": round(_peak_mb(select), 1), "threads": describe()})
        feats = rng.standard_normal((n, 512), dtype=np.float32)
        view = PoolView(np.zeros(n, dtype=bool), proba=proba, embeddings=feats)
        hybrid = make_strategy("hybrid", alpha=0.5, clusters=10)
        select = lambda: hybrid.select(view, 1000, rng=np.random.default_rng(1))  # noqa: E731
        rows.append({"what": "hybrid (512-d, alpha 0.5, 10 clusters)", "pool": n, "k": 1000,
                     "ours_ms": round(_median_ms(select, repeats=3), 1), "modAL_ms": float("nan"), "speed-up": "",
                     "peak_MB": round(_peak_mb(select), 1), "threads": describe()})
        del feats, view
    rows.append({"what": "process max RSS", "pool": "", "k": "", "ours_ms": "", "modAL_ms": "", "speed-up": "",
                 "peak_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)})
    return rows
