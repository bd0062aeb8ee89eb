"""Learners: one registry, one module per family. All follow `core.learners.base.BaseLearner`.

Every module of this package registers its learners when the registry first looks (see
`core.registry`): adding a learner is one new file. Learner modules import no scikit-learn
or torch until they fit, so naming and validating a learner stays fast.
"""

from __future__ import annotations

from typing import Any, Mapping

from core.learners.base import CAPABILITIES, LEARNERS, BaseLearner, LearnerError
from core.params import check_params
from core.types import DataInfo

__all__ = ["CAPABILITIES", "LEARNERS", "BaseLearner", "LearnerError", "check_learner_params", "check_pool_size",
           "learner_param_names", "learner_provides", "build_learner", "make_learner"]


def learner_param_names(name: str) -> list[str]:
    return list(LEARNERS[name].parameters)


def check_learner_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The full, checked settings of learner `name` (defaults filled in); ParamError names the setting."""
    return check_params(LEARNERS[name].parameters, params, owner=f"learner {name!r}", prefix="learner_params.")


def learner_provides(name: str, params: Mapping[str, Any]) -> frozenset[str]:
    """What learner `name` computes with these settings (see `CAPABILITIES`)."""
    cls = LEARNERS[name]
    return cls.provided(check_learner_params(name, params))


def make_learner(name: str, info: DataInfo, seed: int = 0, **params: Any):
    """Build a registered learner; unknown names and parameters list the valid ones."""
    return LEARNERS[name](info, seed=seed, **params)


def build_learner(name: str, info: DataInfo, seed: int, params: Mapping[str, Any]):
    """`make_learner` from a settings mapping: `Checked` settings (a RunConfig's) are not checked again."""
    return LEARNERS[name].build(info, seed, params)


def check_pool_size(name: str, n_pool: int, params: Mapping[str, Any]) -> None:
    """Raise ValueError when a setting of learner `name` cannot work on a pool of `n_pool` samples."""
    LEARNERS[name].check_pool_size(n_pool, check_learner_params(name, params))
