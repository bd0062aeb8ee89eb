"""BALD and its batch forms, from MC-dropout probability samples (S x n x C).

- `bald` (Houlsby et al. 2011; Gal et al. 2017): the mutual information between a sample's
  label and the model, I(y; w) = H[mean_s p_s] - mean_s H[p_s]; the top k.
- `powerbald` (Kirsch et al. 2023, "Stochastic Batch Acquisition for Deep Active Learning"):
  k drawn without replacement with probability proportional to BALD^beta, by the
  Gumbel-top-k trick: the top k of beta * log BALD + Gumbel(0, 1) noise.
- `batchbald` (Kirsch et al. 2019): greedy maximisation of the joint mutual information
  I(y_1, ..., y_k; w) of the batch, the joint entropy of the labels computed exactly over
  all C^m label configurations while that fits in `joint_samples`, and estimated from
  `joint_samples` sampled configurations beyond (as batchbald_redux's DynamicJointEntropy).

The S dropout passes are S equally weighted posterior samples w_s, so every entropy below is
that of the mixture (1/S) sum_s p(y | w_s), the same estimator as batchbald_redux and
scikit-activeml. Entropies use 0 log 0 = 0 (no clipping of probabilities to an epsilon as
scikit-activeml does: the difference is below 1e-6 nats unless probabilities fall below 1e-7).
"""

from __future__ import annotations

import numpy as np

from core.params import Interval, ParamError
from core.strategies.base import STRATEGIES, Strategy, check_k, top_k
from core.types import PoolView, Selection

_CHUNK_ELEMENTS = 1 << 22  # float64 temporaries per block: 32 MB, whatever n, S or C


def _plogp_sum(p: np.ndarray, axis) -> np.ndarray:
    """sum p log p over `axis` with 0 log 0 = 0 (float64)."""
    return np.sum(p * np.log(np.maximum(p, 1e-300)), axis=axis)


def bald_terms(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H[mean_s p_s], mean_s H[p_s]) per sample, float64, for samples of shape (S, n, C).

    Blocked over n so the float64 temporaries stay at `_CHUNK_ELEMENTS` whatever the pool
    size: 1M x 8 x 10 float32 samples (320 MB) need 32 MB more, not 640.
    """
    S, n, C = samples.shape
    rows = max(1, _CHUNK_ELEMENTS // (S * C))
    predictive, expected = np.empty(n), np.empty(n)
    for start in range(0, n, rows):
        block = samples[:, start:start + rows].astype(np.float64)
        predictive[start:start + rows] = -_plogp_sum(block.mean(axis=0), axis=1)
        expected[start:start + rows] = -_plogp_sum(block, axis=2).mean(axis=0)
    return predictive, expected


def bald(samples: np.ndarray) -> np.ndarray:
    """Mutual information I(y; w) = H[mean_s p_s] - mean_s H[p_s] per sample, >= 0 (nats). Shape (n,)."""
    predictive, expected = bald_terms(samples)
    return np.maximum(predictive - expected, 0.0)  # >= 0 by Jensen; rounding can dip below


def power_keys(scores: np.ndarray, beta: float, gumbel: np.ndarray) -> np.ndarray:
    """Gumbel-top-k keys for sampling without replacement with probability proportional to scores^beta.

    The top k of beta * log(score) + G, G ~ Gumbel(0, 1) i.i.d., is distributed as k sequential
    draws without replacement with p proportional to score^beta (Plackett-Luce; Kool et al.
    2019). A score of 0 has key -inf (weight 0: only drawn, uniformly, once the positive ones
    are used up); beta = 0 is uniform sampling.
    """
    if beta == 0.0:
        return gumbel.copy()
    with np.errstate(divide="ignore"):
        logs = np.where(scores > 0, np.log(np.where(scores > 0, scores, 1.0)), -np.inf)
    return beta * logs + gumbel


def powerbald(samples: np.ndarray, k: int, beta: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(positions drawn, BALD scores): k positions sampled without replacement, p proportional to BALD^beta."""
    scores = bald(samples)
    keys = power_keys(scores, beta, rng.gumbel(size=scores.shape[0]))
    return top_k(keys, k, rng), scores


# -- BatchBALD ------------------------------------------------------------------------------------------
def _configuration_log_table(samples: np.ndarray, chosen: list[int], n_configs: int,
                             rng: np.random.Generator) -> np.ndarray:
    """log p(config_m | w_s), shape (M, S), for M = (n_configs // S) * S sampled label configurations.

    As batchbald_redux's SampledJointEntropy: n_configs // S configurations are drawn from each
    w_s in turn (every label independently from p(y_j | w_s)), so they follow the mixture
    q = (1/S) sum_s p(. | w_s), stratified over s: row m was drawn from w_(m // (M / S)).
    """
    S, _, C = samples.shape
    per = max(1, n_configs // S)
    probs = samples[:, chosen].astype(np.float64)  # (S, m, C)
    cdf = np.cumsum(probs, axis=2)
    cdf /= cdf[:, :, -1:]
    u = rng.random((S, per, len(chosen)))
    # the first class with cdf > u: a class of probability 0 (the cnn's unseen classes) is never drawn
    labels = np.minimum((u[..., None] >= cdf[:, None, :, :]).sum(axis=3), C - 1).reshape(S * per, len(chosen))
    log_joint = np.zeros((S * per, S))
    for j, idx in enumerate(chosen):
        log_joint += np.log(np.maximum(samples[:, idx].astype(np.float64), 1e-300))[:, labels[:, j]].T
    return log_joint


def _extend_configurations(log_joint: np.ndarray, probs: np.ndarray, rng: np.random.Generator) -> None:
    """Add one label to every configuration, in place: the new sample's label of row m drawn from
    p(y | w_(m // (M / S))), the model that row was drawn from, and log p(y | w_s) added for every s.

    The table then holds M configurations of the longer batch drawn exactly as
    `_configuration_log_table` draws them (labels are independent given the model), for O(M S) work
    instead of O(M S t) for a fresh draw of a batch of t.
    """
    M, S = log_joint.shape
    p = probs.astype(np.float64)  # (S, C)
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    owner = np.repeat(np.arange(S), M // S)
    labels = np.minimum((rng.random(M)[:, None] >= cdf[owner]).sum(axis=1), p.shape[1] - 1)
    log_joint += np.log(np.maximum(p, 1e-300))[:, labels].T


def _importance_table(log_joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p(config_m | w_s) / q_m, log q_m) from log p(config_m | w_s), q_m = (1/S) sum_s p(config_m | w_s).

    Dividing by q is the estimator's importance weight; done in log space it cannot underflow however
    long the batch (products of hundreds of probabilities underflow float64, and their inverses
    overflow float32).
    """
    top = log_joint.max(axis=1, keepdims=True)
    log_q = top[:, 0] + np.log(np.exp(log_joint - top).mean(axis=1))
    return np.exp(log_joint - log_q[:, None]), log_q


def _sample_configurations(samples: np.ndarray, chosen: list[int], n_configs: int,
                           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(joint / q, log q) for M = (n_configs // S) * S freshly sampled label configurations of the chosen samples."""
    return _importance_table(_configuration_log_table(samples, chosen, n_configs, rng))


def _joint_entropies(joint: np.ndarray, samples: np.ndarray, candidates: np.ndarray,
                     weight: float = 1.0) -> np.ndarray:
    """-weight * sum_m sum_c p(m, c) log p(m, c), p(m, c) = (1/S) sum_s joint[m, s] p_s(y_n = c), per candidate n.

    Exact (`joint` = p(config_m | w_s) over all C^t configurations, weight 1): the joint
    entropy H(y_batch, y_n). Sampled (`joint` divided by q_m, weight 1/M): batchbald_redux's
    importance estimate of H(y_batch, y_n) minus that of H(y_batch) = -mean log q_m, the two
    from the same draws. One BLAS product per block of candidates, blocks of 32 MB.
    """
    S, _, C = samples.shape
    M = joint.shape[0]
    rows = max(1, _CHUNK_ELEMENTS // (M * C))
    out = np.empty(len(candidates))
    tiny = joint.dtype.type(1e-30)
    for start in range(0, len(candidates), rows):
        idx = candidates[start:start + rows]
        block = samples[:, idx].astype(joint.dtype).reshape(S, -1)  # (S, b*C)
        p = joint @ block  # (M, b*C): S * p(config_m, y_n = c)
        p *= joint.dtype.type(1.0 / S)
        logs = np.log(np.maximum(p, tiny))
        terms = np.einsum("mbc,mbc->b", p.reshape(M, len(idx), C), logs.reshape(M, len(idx), C), dtype=np.float64)
        out[start:start + rows] = -weight * terms
    return out


def batchbald(samples: np.ndarray, k: int, joint_samples: int, rng: np.random.Generator,
              *, candidates: int = 0, lazy: bool = True, tolerance: float = 0.0,
              redraw: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(positions in pick order, BALD scores): greedy BatchBALD over samples of shape (S, n, C).

    Step t adds the candidate n maximising I(y_batch, y_n; w) = H(y_batch, y_n) - sum of the
    conditional entropies mean_s H[p_s] of the batch and of n. H(y_batch, y_n) is exact
    (all C^t configurations of the batch) while C^t <= `joint_samples`, and beyond that
    estimated from `joint_samples` configurations drawn afresh each step (batchbald_redux's
    switch, `DynamicJointEntropy`) when `redraw`; by default the configurations drawn at the
    first sampled step are kept and each extended by a label of every later pick (the same
    distribution as a fresh draw, `_extend_configurations`: O(M S) a step instead of O(M S t),
    which made the draws most of the time of a 1,000-sample batch).

    `lazy`: the joint mutual information is submodular (labels are independent given w, and
    the S passes are a uniform posterior over S models), so a candidate's gain can only shrink
    as the batch grows; each step re-scores candidates in order of their last gain, starting
    from their BALD score, until the best fresh gain beats every stale bound (Minoux's lazy
    greedy). It picks what the plain greedy picks while the joint entropy is exact (up to
    rounding at 1e-9); with the sampled estimator the bounds are themselves estimates.
    Memory: the (M, S) configuration table, M <= joint_samples, plus 32 MB blocks: O(n) more.

    `candidates` > 0: only the top max(candidates, k) samples by BALD are considered. A
    sample's gain never exceeds its BALD score (submodularity), so this changes nothing while
    the gains of the picks stay above the best BALD score left out; it bounds the time of a
    step at candidates x M x C (entropy terms) instead of n x M x C.

    `tolerance` (nats, sampled regime only): the lazy search stops once the best fresh gain is
    within `tolerance` of every stale bound, so each pick's estimated gain is within `tolerance`
    of the best (an approximate greedy step: the batch's joint MI can fall short of the greedy's
    by at most k x tolerance). Gains are estimates there anyway (standard deviation about 3e-3
    nats at M = 1,000 after 10 picks), and once the batch's MI nears log S every gain is ~1e-7:
    without a tolerance the lazy search re-scores hundreds of candidates a step to order noise.
    """
    S, n, C = samples.shape
    check_k(k, n)
    predictive, conditional = bald_terms(samples)
    all_scores = np.maximum(predictive - conditional, 0.0)
    if k == n:  # the rest of the pool: no choice left to make
        return top_k(all_scores, k, rng), all_scores
    pool = None
    if 0 < candidates and max(candidates, k) < n:
        pool = np.sort(top_k(all_scores, max(candidates, k), rng))
        samples, conditional, n = samples[:, pool], conditional[pool], len(pool)
    scores = all_scores if pool is None else all_scores[pool]
    chosen = [int(top_k(scores, 1, rng)[0])]
    taken = np.zeros(n, dtype=bool)
    taken[chosen[0]] = True
    bound = scores.copy()  # the last known gain of each candidate: its BALD score before any batch
    exact = C <= joint_samples  # as DynamicJointEntropy: exact while C^(batch size) <= joint_samples
    joint = samples[:, chosen[0]].astype(np.float64).T  # (C, S): p(y_1 = c | w_s)
    log_joint = None  # sampled regime: log p(config_m | w_s) of the batch so far, (M, S)
    for _ in range(1, k):
        if exact:
            weight, batch_entropy = 1.0, -float(_plogp_sum(joint.mean(axis=1), axis=0))  # H(y_batch)
        else:
            # float32 here: the estimator's own noise (~1e-2 nats at M = 10,000) dwarfs float32
            # rounding, and numpy's float32 log and matmul are 3x faster than float64. The
            # estimate comes already minus H(y_batch), from the same draws (common random
            # numbers keep the gains of one step comparable).
            if log_joint is None or redraw:
                log_joint = _configuration_log_table(samples, chosen, joint_samples, rng)
            else:  # the configurations of the last step, each extended by a label of the last pick
                _extend_configurations(log_joint, samples[:, chosen[-1]], rng)
            joint = _importance_table(log_joint)[0].astype(np.float32)
            weight, batch_entropy = 1.0 / joint.shape[0], 0.0
        fresh = np.zeros(n, dtype=bool)
        gain = np.full(n, -np.inf)
        block = 16  # candidates re-scored at once; doubles while the stale bounds keep winning
        while True:
            pending = np.flatnonzero(~fresh & ~taken)
            if lazy and fresh.any():
                best = gain[fresh].max()
                if pending.size == 0 or best >= bound[pending].max() + (1e-9 if exact else -tolerance):
                    break
            elif pending.size == 0:
                break
            if lazy:
                todo = pending if pending.size <= block else pending[np.argpartition(-bound[pending], block)[:block]]
            else:
                todo = pending
            # gain = I(y_n; w | y_batch) = H(y_batch, y_n) - H(y_batch) - mean_s H[p_s(y_n)]: the
            # joint MI of the batch with n, minus that of the batch (a constant within the step)
            gain[todo] = _joint_entropies(joint, samples, todo, weight) - batch_entropy - conditional[todo]
            bound[todo] = gain[todo]
            fresh[todo] = True
            block *= 2
            if not lazy:
                break
        candidates = np.flatnonzero(fresh)
        pick = int(candidates[top_k(gain[candidates], 1, rng)[0]])
        chosen.append(pick)
        taken[pick] = True
        exact = exact and joint.shape[0] * C <= joint_samples
        if exact:  # extend the exact table to the new label: (M, S) -> (M*C, S)
            joint = (joint[:, None, :] * samples[:, pick].astype(np.float64).T[None, :, :]).reshape(-1, S)
    picks = np.asarray(chosen)
    return (picks if pool is None else pool[picks]), all_scores


MAX_CANDIDATES = 10_000_000
MAX_JOINT_SAMPLES = 100_000  # (M, S) float64 table: at most 100,000 x 1,000 mc_samples x 8 B = 800 MB


@STRATEGIES.register("bald")
class BALD(Strategy):
    """Highest mutual information between label and model (MC dropout) first: disagreeing passes."""

    needs = frozenset({"proba_samples"})

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        check_k(k, view.n_unlabeled)
        scores = bald(view.proba_samples)
        return Selection(view.unlabeled[top_k(scores, k, rng)], scores, "bald")


@STRATEGIES.register("powerbald")
class PowerBALD(Strategy):
    """k drawn without replacement with probability proportional to BALD^beta (stochastic batch acquisition)."""

    parameters = {
        "beta": Interval(float, 0.0, 100.0, default=1.0, step=0.5, label="Power (beta)",
                         help="sampling weight BALD^beta; 0 = uniform random, large = top-k BALD"),
    }
    needs = frozenset({"proba_samples"})

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        check_k(k, view.n_unlabeled)
        positions, scores = powerbald(view.proba_samples, k, self.beta, rng)
        return Selection(view.unlabeled[positions], scores, "bald")


@STRATEGIES.register("batchbald")
class BatchBALD(Strategy):
    """Greedy joint mutual information of the whole batch with the model: BALD without redundant picks."""

    parameters = {
        "joint_samples": Interval(int, 2, None, default=1_000, at_most=MAX_JOINT_SAMPLES,
                                  label="Label configurations (M)",
                                  help="exact joint entropy while classes^(batch so far) <= M, else estimated from "
                                       "M sampled configurations; time and memory grow with M"),
        "candidates": Interval(int, 0, None, default=5_000, at_most=MAX_CANDIDATES, label="Candidates (top by BALD)",
                               help="consider only this many samples, the highest BALD first (0 = the whole pool); "
                                    "time per pick grows with candidates x M x classes"),
        "tolerance": Interval(float, 0.0, 1.0, default=1e-3, step=1e-3, label="Gain tolerance (nats)",
                              help="beyond the exact regime, a pick whose estimated gain is within this of the best "
                                   "is taken (0 = the best estimate); estimates vary by about 3e-3 at M = 1,000"),
    }
    needs = frozenset({"proba_samples"})

    @classmethod
    def check_run(cls, params, batch: int) -> None:
        if 0 < params["candidates"] < batch:
            raise ParamError(f"batchbald.candidates must be 0 (the whole pool) or at least the batch size ({batch}); "
                             f"got {params['candidates']}", "batchbald.candidates")

    def select(self, view: PoolView, k: int, *, rng: np.random.Generator) -> Selection:
        check_k(k, view.n_unlabeled)
        positions, scores = batchbald(view.proba_samples, k, self.joint_samples, rng, candidates=self.candidates,
                                      tolerance=self.tolerance)
        return Selection(view.unlabeled[positions], scores, "bald")
