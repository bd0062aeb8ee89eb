"""core.engine.jobs: detached processes tracked on disk; a real background comparison run."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from core.engine import jobs
from core.engine.cache import Cache
from core.cli import build_parser, config_from_args
from core.engine.config import RunConfig


def _wait(cache_root, job_id, timeout=60.0) -> jobs.JobStatus:
    deadline = time.monotonic() + timeout
    while (status := jobs.status(cache_root, job_id)).state == jobs.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
    return status


def test_a_config_file_rebuilds_the_same_config_and_options_given_override_it(tmp_path):
    config = RunConfig(strategies=("random", "hybrid"), strategy_params={"hybrid": {"alpha": 0.7, "clusters": 3}},
                       initial=15, batch=8, rounds=4, repeats=2, seed=5, subset=200, test_size=0.3,
                       learner_params={"C": 0.5})
    path = tmp_path / "run.json"
    path.write_text(json.dumps(config.to_dict()))
    assert config_from_args(build_parser().parse_args(["run", "--config", str(path)])) == config
    changed = config_from_args(build_parser().parse_args(["run", "--config", str(path), "--rounds", "6",
                                                          "--strategy-param", "hybrid.clusters=2"]))
    assert (changed.rounds, changed.strategy_params) == (6, {"hybrid": {"alpha": 0.7, "clusters": 2}})
    assert changed.learner_params == {"C": 0.5}


def test_a_background_run_fills_the_cache_and_reports_done(tmp_path):
    config = RunConfig(strategies=("random", "entropy"), initial=20, batch=10, rounds=2, subset=120)
    job = jobs.start_run(config, tmp_path)
    assert jobs.start_run(config, tmp_path).pid == job.pid or jobs.status(tmp_path, job.job_id).state != jobs.RUNNING
    status = _wait(tmp_path, job.job_id)
    assert status.state == jobs.DONE, status.message
    assert Cache(tmp_path).read_comparison(config.key())["status"] == "done"
    assert jobs.read_job(tmp_path, job.job_id).returncode == 0  # recorded for processes that did not start it


def test_cancel_sends_sigterm_and_reports_cancelled(tmp_path):
    job = jobs.start(tmp_path, "sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], kind="test")
    assert jobs.status(tmp_path, "sleeper").state == jobs.RUNNING
    assert jobs.cancel(tmp_path, "sleeper")
    status = _wait(tmp_path, "sleeper", timeout=10)
    assert status.state == jobs.CANCELLED
    assert not jobs.cancel(tmp_path, "sleeper")  # nothing left to stop
    assert job.pid > 0


def test_a_failing_job_reports_the_end_of_its_output(tmp_path):
    jobs.start(tmp_path, "broken", [sys.executable, "-c", "import sys; print('bad option: x'); sys.exit(2)"], kind="test")
    status = _wait(tmp_path, "broken", timeout=20)
    assert status.state == jobs.FAILED and "bad option: x" in status.message


def test_unknown_job_has_no_state(tmp_path):
    assert jobs.status(tmp_path, "nope").state is None


def test_a_missing_program_raises_job_error(tmp_path):
    with pytest.raises(jobs.JobError, match="could not start"):
        jobs.start(tmp_path, "missing", ["/no/such/program"], kind="test")


def _stranger():
    """An unrelated process: what the kernel may hand a finished job's pid to."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def _plant(tmp_path, job_id, pid, **identity):
    record = jobs.Job(job_id, "test", pid, ["python", "-m", "core", "run"], time.time(), {},
                      identity={**jobs.process_identity(pid), **identity})
    jobs._write_job(tmp_path, record)


@pytest.mark.parametrize("identity", [{"start": "1"}, {"start": None}], ids=["reused-pid", "record-without-identity"])
def test_a_reused_pid_is_neither_running_nor_cancelled(tmp_path, identity):
    stranger = _stranger()
    try:
        _plant(tmp_path, "old-job", stranger.pid, **identity)
        assert jobs.status(tmp_path, "old-job").state != jobs.RUNNING
        assert not jobs.cancel(tmp_path, "old-job")
        assert stranger.poll() is None  # still alive: never signalled
    finally:
        stranger.kill()
        stranger.wait()


def test_a_job_of_another_host_is_foreign_and_not_signalled(tmp_path):
    stranger = _stranger()
    try:
        _plant(tmp_path, "remote", stranger.pid, host="some-other-node")
        status = jobs.status(tmp_path, "remote")
        assert status.state == jobs.FOREIGN and "some-other-node" in status.message
        with pytest.raises(jobs.JobError, match="cancel it there"):
            jobs.cancel(tmp_path, "remote")
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_a_job_id_cannot_name_a_path(tmp_path):
    with pytest.raises(jobs.JobError, match="plain file name"):
        jobs.start(tmp_path, "../escape", [sys.executable, "-c", "pass"], kind="test")
    assert jobs.read_job(tmp_path, "../../etc/passwd") is None
