"""Hybrid: uncertainty for informativeness, K-means on features for coverage (the seed paper)."""

from __future__ import annotations

import numpy as np

from core.params import Interval, Options, ParamError
from core.strategies.distances import min_sq_distance
from core.strategies.base import MEASURE_NAMES, STRATEGIES, Strategy, check_k, top_k, uncertain_count
from core.types import PoolView, Selection


MAX_CLUSTERS = 10_000


@STRATEGIES.register("hybrid")
class Hybrid(Strategy):
    """Top round(alpha*k) by uncertainty, then the samples nearest to K-means centroids of those."""

    parameters = {
        "alpha": Interval(float, 0.0, 1.0, closed="right", default=0.5, step=0.05, label="Alpha (share of the batch chosen by uncertainty)",
                          help="the top round(alpha*batch) uncertain samples are clustered; the rest of the batch is "
                               "filled with the samples nearest the centroids (1 = plain uncertainty sampling)"),
        "clusters": Interval(int, 1, None, default=5, at_most=MAX_CLUSTERS, label="Number of clusters",
                             help="K-means clusters over the uncertain samples, 1..round(alpha*batch)"),
        "measure": Options(MEASURE_NAMES, default="entropy", label="Uncertainty measure",
                           help="how uncertainty is scored"),
    }
    needs = frozenset({"proba", "pool_features"})

    def required(self) -> frozenset[str]:
        return self.needs if self.alpha < 1.0 else frozenset({"proba"})  # alpha = 1 is plain uncertainty sampling

    @classmethod
    def check_run(cls, params, batch: int) -> None:
        n_u = uncertain_count(params["alpha"], batch)
        if params["clusters"] > n_u:
            raise ParamError(
                f"hybrid.clusters must be between 1 and round(alpha*batch) = round({params['alpha']:g}*{batch}) = {n_u}; "
                f"got {params['clusters']}: lower the number of clusters or raise alpha or the batch size",
                "hybrid.clusters")

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        from core.strategies.measures import MEASURES

        check_k(k, view.n_unlabeled)
        scores = MEASURES[self.measure](view.proba)
        if k == view.n_unlabeled:  # the rest of the pool (a short last batch): no choice left to make
            return Selection(view.unlabeled[top_k(scores, k, rng)], scores, self.measure)
        self.check_run(self.values, k)
        n_u = uncertain_count(self.alpha, k)
        uncertain = top_k(scores, n_u, rng)  # positions in view.unlabeled
        if n_u == k:
            return Selection(view.unlabeled[uncertain], scores, self.measure)
        from sklearn.cluster import KMeans  # imported here: validating a config must not pay for it
        from threadpoolctl import threadpool_limits

        features = view.embeddings  # float32 in memory, or a float16 memory map read block by block
        kmeans = KMeans(n_clusters=self.clusters, n_init=1, random_state=int(rng.integers(2**31 - 1)))
        with threadpool_limits(limits=1):  # a few hundred points: threads cost more than they save (12 -> 4 ms)
            kmeans.fit(np.asarray(features[uncertain], dtype=np.float32))
        dist = min_sq_distance(features, kmeans.cluster_centers_)
        dist[uncertain] = np.inf  # fill only from outside S_u
        nearest = top_k(-dist, k - n_u, rng)
        chosen = np.concatenate([uncertain, nearest])
        return Selection(view.unlabeled[chosen], scores, self.measure)
