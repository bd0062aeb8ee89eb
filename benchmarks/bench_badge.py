"""BADGE and Cluster-Margin: selection time and peak extra memory, ours and scikit-activeml's Badge.

The issue's case (scikit-activeml #589): n = 20,000 unlabelled samples, C = 100 classes,
d = 768 features. scikit-activeml 1.0.1 builds the n x (C*d) float64 gradient embeddings
(and a temporary of the same size): 2 x 20,000 x 76,800 x 8 bytes = 24.6 GB, more than this
machine has. It runs here at n = 1,000 / 2,000 / 4,000 (one run each: seconds per run);
its time and memory are linear in n at fixed k, so the 20,000 row is a linear fit through
those points, marked "extrapolated". Ours runs at every size, and at 1M x 512.
Peak extra memory: tracemalloc's peak of what the selection allocates (inputs excluded).
"""

from __future__ import annotations

import resource

import numpy as np

from benchmarks.measure import median_seconds
from benchmarks.measure import peak_mb as _peak_mb

from core.strategies import make_strategy
from core.types import PoolView

TITLE = "BADGE / Cluster-Margin selection time (s) and peak extra memory (MB), ours vs scikit-activeml"


def _seconds(fn, repeats: int = 1) -> float:
    return median_seconds(fn, repeats, collect=True)


def _pool(n: int, C: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.full(C, 0.1), size=n).astype(np.float32)
    features = rng.standard_normal((n, d), dtype=np.float32)
    return proba, features


def _skactiveml_badge(proba: np.ndarray, features: np.ndarray, k: int):
    try:
        from skactiveml.base import SkactivemlClassifier
        from skactiveml.pool import Badge
    except ImportError:
        return None

    class Fixed(SkactivemlClassifier):  # hands Badge the same probabilities and embeddings
        def __init__(self, classes=None, missing_label=np.nan):
            super().__init__(classes=classes, missing_label=missing_label)

        def fit(self, X, y, sample_weight=None):
            return self

        def predict_proba(self, X):
            rows = np.asarray(X)[:, 0].astype(int)
            return proba[rows].astype(np.float64), features[rows].astype(np.float64)

    n = len(proba)
    clf = Fixed(classes=np.arange(proba.shape[1]))
    X, y = np.arange(n, dtype=float)[:, None], np.full(n, np.nan)
    return lambda: Badge(random_state=0).query(X, y, clf, fit_clf=False, batch_size=k)


def _ours(name: str, proba, features, k: int, **params):
    view = PoolView(np.zeros(len(proba), dtype=bool), proba=proba, embeddings=features)
    strategy = make_strategy(name, **params)
    return lambda: strategy.select(view, k, rng=np.random.default_rng(1))


def _row(what, n, C, d, k, ours_s, ours_mb, peer_s="", peer_mb="", note=""):
    speed = round(peer_s / ours_s) if isinstance(peer_s, float) and ours_s else ""
    return {"what": what, "n": n, "C": C, "d": d, "k": k, "ours_s": round(ours_s, 3), "ours_peak_MB": round(ours_mb, 1),
            "skactiveml_s": round(peer_s, 2) if isinstance(peer_s, float) else peer_s,
            "skactiveml_peak_MB": round(peer_mb) if isinstance(peer_mb, float) else peer_mb,
            "speed-up": speed, "note": note}


def run(quick: bool = False) -> list[dict]:
    rows: list[dict] = []
    C, d, k = (20, 128, 10) if quick else (100, 768, 10)
    peer_sizes = [250, 500] if quick else [1_000, 2_000, 4_000]
    target = 2_000 if quick else 20_000
    peer_points = []
    for n in peer_sizes:
        proba, feats = _pool(n, C, d)
        ours = _ours("badge", proba, feats, k)
        ours_s = _seconds(ours, 3)
        peer = _skactiveml_badge(proba, feats, k)
        peer_s = _seconds(peer) if peer else float("nan")
        peer_mb = _peak_mb(peer) if peer and n <= peer_sizes[1] else ""
        peer_points.append((n, peer_s, peer_mb))
        rows.append(_row("badge", n, C, d, k, ours_s, _peak_mb(ours), peer_s, peer_mb,
                         "skactiveml measured" + ("" if peer_mb != "" else " (time only)")))
    proba, feats = _pool(target, C, d)
    for kk in (k, 100):
        ours = _ours("badge", proba, feats, kk)
        ours_s, ours_mb = _seconds(ours, 3), _peak_mb(ours)
        if kk == k and peer_points and not np.isnan(peer_points[0][1]):
            ns = np.array([p[0] for p in peer_points], dtype=float)
            slope, icpt = np.polyfit(ns, [p[1] for p in peer_points], 1)
            mem = [(p[0], p[2]) for p in peer_points if p[2] != ""]
            mb = float(np.polyval(np.polyfit([m[0] for m in mem], [m[1] for m in mem], 1), target))
            rows.append(_row("badge", target, C, d, kk, ours_s, ours_mb, float(slope * target + icpt), mb,
                             "skactiveml extrapolated (linear in n)"))
        else:
            rows.append(_row("badge", target, C, d, kk, ours_s, ours_mb))
    cm = _ours("cluster_margin", proba, feats, 100)
    rows.append(_row("cluster_margin (k_m = 1,000)", target, C, d, 100, _seconds(cm, 3), _peak_mb(cm)))
    del proba, feats
    big = 100_000 if quick else 1_000_000
    proba, feats = _pool(big, 10, 512)
    for kk in (10, 100, 1000):
        ours = _ours("badge", proba, feats, kk)
        if kk == 1000 and quick:
            continue
        peak = _peak_mb(ours) if kk == 10 else float("nan")  # O(n) vectors: the same for every k
        rows.append(_row("badge", big, 10, 512, kk, _seconds(ours), peak,
                         note="" if kk == 10 else "peak as for k = 10 (not re-measured)"))
    for kk, note in ((100, "k_m = 1,000: all clustered"), (1000, "k_m = 10,000 > cap 3,000: subsample + nearest mean")):
        cm = _ours("cluster_margin", proba, feats, kk)
        rows.append(_row("cluster_margin", big, 10, 512, kk, _seconds(cm), _peak_mb(cm), note=note))
    rows.append({"what": "process max RSS (MB)", "n": "", "C": "", "d": "", "k": "", "ours_s": "",
                 "ours_peak_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "skactiveml_s": "",
                 "skactiveml_peak_MB": "", "speed-up": "", "note": "includes scikit-activeml's runs"})
    return rows
