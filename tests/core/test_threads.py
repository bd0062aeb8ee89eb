"""The `threads` run option: one place caps BLAS/OpenMP (and numba, torch when loaded) for a run."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from core.engine.config import ConfigError, RunConfig
from core.engine.runner import RunState, run_comparison
from core.engine.threads import limited_threads, thread_settings


def _blas_threads() -> set[int]:
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_limited_threads_caps_every_loaded_pool_and_restores_them():
    torch = pytest.importorskip("torch")
    before_torch, before = torch.get_num_threads(), thread_settings()
    with limited_threads(1):
        inside = thread_settings()
        assert inside["torch"] == 1 and _blas_threads() == {1}
    assert thread_settings() == before and torch.get_num_threads() == before_torch


def test_the_runner_runs_every_round_with_the_threads_the_config_asks_for(monkeypatch):
    seen = []
    step = RunState.step

    def recording_step(self):
        seen.append(_blas_threads())
        return step(self)

    monkeypatch.setattr(RunState, "step", recording_step)
    config = RunConfig(learner="label_spreading", strategies=("random",), rounds=2, threads=1)
    with threadpool_limits(limits=2):  # as a process without OPENBLAS_NUM_THREADS=1 starts
        run_comparison(config)
    assert seen and all(s == {1} for s in seen)  # label_spreading alone would use every core


def test_threads_change_speed_not_results_so_not_the_comparison_key():
    assert RunConfig(threads=1).key() == RunConfig().key()
    with pytest.raises(ConfigError, match="threads"):
        RunConfig(threads=-1)
