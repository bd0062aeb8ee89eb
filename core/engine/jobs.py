"""Background work as detached processes, tracked by small JSON records on disk.

A job is a process started in its own session (it outlives the page that started it and
is not killed by a browser reload), recorded as ``<cache>/jobs/<job_id>.json`` with its
pid, command and metadata; its output goes to ``<job_id>.log`` beside it. Any process that
can read the cache (a second tab, a restarted dashboard) sees the same status.

A pid alone does not name a process: once the job ends the kernel may give its pid to
another one. A record therefore also holds the host, the boot and the process's start
time (from /proc); a process that does not match all three is not the job, so it is
never reported as running and never signalled. A record written on another host of a
shared cache is foreign: its process cannot be seen or signalled from here. Results are
never read from the process: a comparison writes every completed round to the cache.

    job = start_run(config, cache_root)        # python -m core run ... --quiet
    status(cache_root, job.job_id).state       # "running", "done", "cancelled" or "failed"
    cancel(cache_root, job.job_id)             # SIGTERM: stops after the current round
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.engine.cache import Cache, cache_area

from core.files import atomic_write_json, open_regular, read_regular_text
from core.engine.config import RunConfig

RUNNING, DONE, CANCELLED, FAILED = "running", "done", "cancelled", "failed"
FOREIGN = "foreign"  # started on another host of a shared cache: cannot be followed or cancelled from here
EXIT_CANCELLED = 130  # core.cli's exit status after SIGTERM


class JobError(RuntimeError):
    """A job could not be started or signalled."""


@dataclass
class Job:
    job_id: str
    kind: str
    pid: int
    command: list[str]
    started: float
    meta: dict[str, Any] = field(default_factory=dict)
    returncode: int | None = None  # known only to the process that started it, or once recorded
    identity: dict[str, Any] = field(default_factory=dict)  # host, boot_id, start (see process_identity)

    @property
    def foreign(self) -> bool:
        """Written on another host (or before a reboot): its pid means nothing here."""
        here = process_identity(None)
        return any(self.identity.get(k) != here[k] for k in ("host", "boot_id"))


@dataclass
class JobStatus:
    job: Job | None
    state: str | None  # None: no such job
    message: str = ""


_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks after boot (/proc/PID/stat field 22); None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone, or no /proc
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else None


def process_identity(pid: int | None) -> dict[str, Any]:
    """What tells process `pid` apart from a later one with the same pid (host and boot only for None)."""
    identity = {"host": socket.gethostname(), "boot_id": _boot_id()}
    if pid is not None:
        identity["start"] = _start_time(pid)
    return identity


def _jobs_dir(cache_root: str | Path) -> Path:
    return cache_area("jobs", cache_root)


def _record_path(cache_root: str | Path, job_id: str) -> Path:
    if not _JOB_ID.fullmatch(job_id):
        raise JobError(f"job id {job_id!r} is not a plain file name")
    return _jobs_dir(cache_root) / f"{job_id}.json"


def log_path(cache_root: str | Path, job_id: str) -> Path:
    return _jobs_dir(cache_root) / f"{job_id}.log"


def read_job(cache_root: str | Path, job_id: str) -> Job | None:
    try:
        job = Job(**json.loads(read_regular_text(_record_path(cache_root, job_id))))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, TypeError, JobError):
        return None
    if not isinstance(job.pid, int) or job.pid <= 0 or not isinstance(job.identity, dict) or not isinstance(job.meta, dict):
        return None  # a malformed record names no process we may touch
    return job


def _write_job(cache_root: str | Path, job: Job) -> None:
    atomic_write_json(_record_path(cache_root, job.job_id), asdict(job))


def _is_this_process(job: Job) -> bool:
    """Whether job.pid is still the process that was started (same host, boot and start time)."""
    if job.foreign or job.identity.get("start") is None:
        return False  # another host's process, or a record without identity: never ours to touch
    return _start_time(job.pid) == job.identity["start"]


def _pid_state(job: Job) -> tuple[bool, int | None]:
    """(alive, exit status if it was our child and has ended)."""
    if not _is_this_process(job):
        return False, None
    try:
        done, raw = os.waitpid(job.pid, os.WNOHANG)  # reaps our own finished child (no zombie left)
        if done == job.pid:
            return False, os.waitstatus_to_exitcode(raw)
        return True, None
    except ChildProcessError:  # not our child: someone else started it
        pass
    try:  # a zombie of another parent is not running
        stat = Path(f"/proc/{job.pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z", None
    except (OSError, IndexError):
        return False, None


def is_alive(job: Job) -> bool:
    alive, code = _pid_state(job)
    if code is not None:
        job.returncode = code
    return alive


def start(cache_root: str | Path, job_id: str, command: list[str], *, kind: str, meta: dict[str, Any] | None = None,
          cwd: str | Path | None = None) -> Job:
    """Start `command` detached (own session), unless job `job_id` is already running."""
    current = read_job(cache_root, job_id)
    if current is not None and is_alive(current):
        return current
    _jobs_dir(cache_root).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"), "PYTHONUNBUFFERED": "1"}
    with open_regular(log_path(cache_root, job_id), "wb", create=True, follow_symlinks=False) as log:
        try:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, cwd=cwd, env=env)
        except OSError as exc:
            raise JobError(f"could not start {command[0]!r}: {exc}") from None
    job = Job(job_id, kind, process.pid, list(command), time.time(), dict(meta or {}),
              identity=process_identity(process.pid))
    _write_job(cache_root, job)
    threading.Thread(target=_reap_when_done, args=(cache_root, job), name=f"reap-{job_id}", daemon=True).start()
    return job


def _reap_when_done(cache_root: str | Path, job: Job) -> None:
    """Wait for the process to end without reaping it (WNOWAIT), then let `status` reap it and record
    its exit status: no zombie is left under a long-lived starter (the dashboard), even when no
    page polls this job any more (the sidebar moved on to other settings)."""
    try:
        os.waitid(os.P_PID, job.pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:  # reaped already
        return
    status(cache_root, job.job_id)


def _log_tail(cache_root: str | Path, job_id: str, lines: int = 5) -> str:
    try:
        text = read_regular_text(log_path(cache_root, job_id), errors="replace")
    except FileNotFoundError:
        return ""
    except OSError as exc:  # a pipe or directory where the log belongs
        return f"job log unreadable ({exc})"
    return "\n".join(text.strip().splitlines()[-lines:])


def status(cache_root: str | Path, job_id: str) -> JobStatus:
    """Running while the process lives; afterwards its exit status, or the comparison's saved status."""
    job = read_job(cache_root, job_id)
    if job is None:
        return JobStatus(None, None)
    if is_alive(job):
        return JobStatus(job, RUNNING)
    if job.returncode is not None:
        _write_job(cache_root, job)  # remember the exit status for processes that did not start it
    code = job.returncode
    saved = None
    if job.kind == "run":
        saved = (Cache(cache_root).read_comparison(str(job.meta.get("config_key", ""))) or {}).get("status")
    if job.foreign and code is None and saved not in (DONE, CANCELLED):
        return JobStatus(job, FOREIGN, f"started on host {job.identity.get('host')!r}; rounds it caches show here, "
                                       "but it can only be cancelled there")
    if code == 0 or (code is None and saved == DONE):
        return JobStatus(job, DONE)
    # Before the unknown-exit rule below: a job someone cancelled whose exit status this process never
    # saw (it ended between two polls, or another process started it) was cancelled, not done.
    if code == EXIT_CANCELLED or saved == CANCELLED or job.meta.get("cancel_requested"):
        return JobStatus(job, CANCELLED, "stopped after the last completed round; Run resumes from the cache")
    if code is None and job.kind != "run":
        return JobStatus(job, DONE)
    return JobStatus(job, FAILED, _log_tail(cache_root, job_id) or f"exit status {code}")


def cancel(cache_root: str | Path, job_id: str) -> bool:
    """SIGTERM to the job's process group: it finishes the current round, caches it and exits."""
    job = read_job(cache_root, job_id)
    if job is None:
        return False
    if job.foreign:
        raise JobError(f"job {job_id} was started on host {job.identity.get('host')!r}; cancel it there")
    if not is_alive(job):
        return False
    job.meta["cancel_requested"] = time.time()
    _write_job(cache_root, job)
    try:
        os.killpg(job.pid, signal.SIGTERM)  # the group: any worker processes stop too
    except ProcessLookupError:
        return False
    except PermissionError as exc:
        raise JobError(f"cannot signal job {job_id} (pid {job.pid}): {exc}") from None
    return True


def run_job_id(config: RunConfig) -> str:
    return f"run-{config.key()}"


def start_run(config: RunConfig, cache_root: str | Path, *, cwd: str | Path | None = None) -> Job:
    """Run (or resume) `config` in the background; one job per config."""
    job_id = run_job_id(config)
    out = _jobs_dir(cache_root) / job_id
    config_file = _jobs_dir(cache_root) / f"{job_id}.config.json"  # what `python -m core run --config` reads
    atomic_write_json(config_file, config.to_dict())
    command = [sys.executable, "-m", "core", "run", "--config", str(config_file.resolve()), "--quiet", "--cache-dir",
               str(Path(cache_root).resolve()), "--out", str(out.resolve())]
    return start(cache_root, job_id, command, kind="run", cwd=cwd or Path(__file__).resolve().parents[2],
                 meta={"config": config.to_dict(), "config_key": config.key()})


class JobLimitError(JobError):
    """Starting another job would pass the server's limit on concurrent jobs."""


USER_JOB_KINDS = ("run", "sweep")  # what a person starts with a button; projections start themselves, once each


def live_jobs(cache_root: str | Path, kinds: tuple[str, ...] = USER_JOB_KINDS) -> list[Job]:
    """The jobs of `kinds` whose process is running now (on this host)."""
    found = (read_job(cache_root, record.stem) for record in sorted(_jobs_dir(cache_root).glob("*.json"))
             if not record.name.endswith(".config.json"))
    return [job for job in found if job is not None and job.kind in kinds and is_alive(job)]


def check_job_limit(cache_root: str | Path, limit: int | None, kinds: tuple[str, ...] = USER_JOB_KINDS) -> None:
    """JobLimitError, naming the running jobs, when `limit` jobs of `kinds` already run (None: no limit)."""
    if limit is None:
        return
    running = live_jobs(cache_root, kinds)
    if len(running) >= limit:
        raise JobLimitError(f"this server runs at most {limit} job(s) at a time (--max-jobs); running now: "
                            f"{', '.join(job.job_id for job in running)}. Wait for it to finish or cancel it.")
