"""core.engine.jobs' limit on concurrent jobs (a served dashboard's --max-jobs)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from core.engine import jobs


def test_the_job_limit_counts_live_runs_and_sweeps_only(tmp_path):
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    jobs.check_job_limit(tmp_path, 1)  # nothing runs yet
    projection = jobs.start(tmp_path, "projection-x", sleeper, kind="projection")
    run = jobs.start(tmp_path, "run-abc", sleeper, kind="run")
    try:
        jobs.check_job_limit(tmp_path, 2)
        jobs.check_job_limit(tmp_path, None)
        with pytest.raises(jobs.JobLimitError, match=r"at most 1 job\(s\).*--max-jobs.*run-abc"):
            jobs.check_job_limit(tmp_path, 1)
    finally:
        for job in (projection, run):
            os.killpg(job.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while jobs.live_jobs(tmp_path, ("run", "projection")) and time.monotonic() < deadline:
        time.sleep(0.05)  # the reaper thread records the ends
    jobs.check_job_limit(tmp_path, 1)  # ended jobs free their place
