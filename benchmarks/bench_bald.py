"""Select time and peak extra memory of the MC-dropout family: bald, powerbald, batchbald, dropquery.

Pools of 10k / 100k / 1M samples x S = 8 dropout passes x C = 10 classes (float32), made
from per-sample logits of varied confidence plus per-pass noise (so BALD and the dropout
flips spread as a trained network's do: a minority of samples disagree), and for dropquery
512-d float32 features. scikit-activeml's GreedyBALD, BatchBALD and DropQuery run in the
same process on the same probabilities (through stand-in classifiers that return them), at
the sizes where they finish in a few seconds; how they scale is in the results file.
"""

from __future__ import annotations

import gc
import resource

import numpy as np

from benchmarks.measure import median_seconds
from benchmarks.measure import peak_mb as _peak_mb

from core.strategies import make_strategy
from core.types import PoolView

TITLE = "MC-dropout family: select time (ms, median of 3 unless noted) and peak extra memory (MB)"
S, C = 8, 10


def mc_pool(n: int, seed: int = 0) -> np.ndarray:
    """(S, n, C) float32 softmax of logits N(0, 1) * a log-normal confidence + N(0, 1) pass noise."""
    rng = np.random.default_rng(seed)
    out = np.empty((S, n, C), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        base = rng.standard_normal((m, C), dtype=np.float32) * rng.lognormal(1.5, 0.6, (m, 1)).astype(np.float32)
        z = base[None] + rng.standard_normal((S, m, C), dtype=np.float32)
        z -= z.max(axis=2, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=2, keepdims=True)
        out[:, start:start + m] = z
    return out


def _time_ms(fn, repeats: int = 3) -> float:
    return 1000 * median_seconds(fn, repeats)


def _skactiveml_bald(kind: str, samples: np.ndarray, k: int, **kwargs):
    try:
        from skactiveml.base import SkactivemlClassifier
        from skactiveml.pool import BatchBALD, GreedyBALD
    except ImportError:
        return None

    class FixedSamples(SkactivemlClassifier):  # returns our samples for the rows X names
        def fit(self, X, y, sample_weight=None):
            return self

        def sample_proba(self, X):
            return samples[:, X[:, 0].astype(int)].astype(np.float64)

    n = samples.shape[1]
    ensemble = FixedSamples(classes=np.arange(C))
    ensemble.classes_ = np.arange(C)
    X, y = np.arange(n, dtype=float)[:, None], np.full(n, np.nan)
    cls = {"greedy": GreedyBALD, "batch": BatchBALD}[kind]
    strategy = cls(sample_predictions_method_name="sample_proba", random_state=0, **kwargs)
    return lambda: strategy.query(X, y, ensemble, fit_ensemble=False, batch_size=k)


def _skactiveml_dropquery(samples: np.ndarray, features: np.ndarray, k: int):
    try:
        from skactiveml.base import SkactivemlClassifier
        from skactiveml.pool import DropQuery
    except ImportError:
        return None

    class FixedPredictions(SkactivemlClassifier):  # first call: mean prediction + features; then pass s
        def fit(self, X, y, sample_weight=None):
            return self

        def predict(self, X, return_embeddings=False):
            if return_embeddings:
                self.calls_ = 0
                return samples.mean(axis=0).argmax(axis=1), features
            self.calls_ += 1
            return samples[self.calls_ - 1].argmax(axis=1)

    n = samples.shape[1]
    clf = FixedPredictions(classes=np.arange(C))
    clf.classes_ = np.arange(C)
    peer = DropQuery(n_dropout_samples=S, clf_embedding_flag_name="return_embeddings", random_state=0,
                     cluster_algo_dict={"n_init": 1, "random_state": 0})
    X_dummy = np.zeros((n, 1))  # theirs masks X for its own dropout passes; ours are given, so X is unused
    return lambda: peer.query(X_dummy, np.full(n, np.nan), clf, fit_clf=False, batch_size=k)


def _row(what, n, k, ours_ms, peer_ms=float("nan"), peak=float("nan"), note=""):
    return {"what": what, "pool": n, "k": k, "ours_ms": round(ours_ms, 1), "skactiveml_ms": round(peer_ms, 1),
            "speed-up": round(peer_ms / ours_ms, 1) if np.isfinite(peer_ms) else "", "peak_MB": round(peak, 1),
            "note": note}


def run(quick: bool = False) -> list[dict]:
    sizes = [10_000] if quick else [10_000, 100_000, 1_000_000]
    peer_sizes = {10_000} if quick else {10_000, 100_000}
    rows = []
    for n in sizes:
        samples = mc_pool(n)
        view = PoolView(np.zeros(n, dtype=bool), proba_samples=samples, strategy="bench")
        k = 100
        for name in ("bald", "powerbald"):
            strategy = make_strategy(name)
            select = lambda: strategy.select(view, k, rng=np.random.default_rng(1))  # noqa: E731
            ours = _time_ms(select)
            peer = _skactiveml_bald("greedy", samples, k) if name == "bald" and n in peer_sizes else None
            rows.append(_row(name, n, k, ours, _time_ms(peer, 1) if peer else float("nan"), _peak_mb(select),
                             "peer: GreedyBALD" if peer else ""))
        batchbald = make_strategy("batchbald")  # defaults: joint_samples 1000, candidates 5000
        select = lambda: batchbald.select(view, 10, rng=np.random.default_rng(1))  # noqa: E731
        rows.append(_row("batchbald (M=1000, candidates=5000)", n, 10, _time_ms(select, 1), peak=_peak_mb(select),
                         note="1 run"))
        features = np.random.default_rng(2).standard_normal((n, 512), dtype=np.float32)
        view_f = PoolView(np.zeros(n, dtype=bool), proba_samples=samples, embeddings=features, strategy="bench")
        dropquery = make_strategy("dropquery")
        select = lambda: dropquery.select(view_f, k, rng=np.random.default_rng(1))  # noqa: E731
        n_cand = int(np.sum((samples.argmax(axis=2) != samples.mean(axis=0).argmax(axis=1)).sum(axis=0) > S // 2))
        peer = _skactiveml_dropquery(samples, features, k) if n in peer_sizes else None
        rows.append(_row("dropquery (512-d, fit_size=20000)", n, k, _time_ms(select, 1),
                         _time_ms(peer, 1) if peer else float("nan"), _peak_mb(select),
                         f"{n_cand} candidates; 1 run" + ("; peer: DropQuery, K-means on all" if peer else "")))
        del samples, view, features, view_f
        gc.collect()
    # BatchBALD side by side: the whole pool (no candidate limit), same M, exact then sampled
    n, k, M = (1000, 5, 1000) if quick else (2000, 10, 1000)
    samples = mc_pool(n, seed=1)
    view = PoolView(np.zeros(n, dtype=bool), proba_samples=samples, strategy="bench")
    whole = make_strategy("batchbald", joint_samples=M, candidates=0)
    select = lambda: whole.select(view, k, rng=np.random.default_rng(1))  # noqa: E731
    peer = _skactiveml_bald("batch", samples, k, n_MC_samples=M)
    rows.append(_row(f"batchbald (M={M}, whole pool)", n, k, _time_ms(select, 1),
                     _time_ms(peer, 1) if peer else float("nan"), _peak_mb(select), "1 run; peer: BatchBALD"))
    rows.append({"what": "process max RSS", "pool": "", "k": "", "ours_ms": "", "skactiveml_ms": "", "speed-up": "",
                 "peak_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0), "note": ""})
    return rows
