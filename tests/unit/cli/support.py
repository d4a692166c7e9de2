"""Helpers of the CLI unit tests: constants, output checks, and jobs put in the store through the model."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from click.testing import Result

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.model import Job
from queuectl.domain.ports import Page, WorkerInfo, WorkerRef

NOW = datetime(2026, 1, 31, 12, 0, 0, 250000, tzinfo=timezone.utc)
JOB_FIELDS = ["id", "command", "state", "attempts", "max_retries", "priority", "queue", "run_at", "timeout",
              "created_at", "updated_at", "started_at", "finished_at", "exit_code", "last_error", "worker",
              "cwd", "env", "after", "unique_key", "retry_on", "no_retry_on"]


def enqueued_id(stdout: str) -> str:
    """The id in ``Enqueued job 'ID': COMMAND``."""
    match = re.fullmatch(r"Enqueued job '([A-Za-z0-9._:-]+)': .*\n", stdout)
    assert match, stdout
    return match.group(1)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def one_error(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    errors = error_lines(result)
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    return errors[0]


def all_jobs(store: InMemoryStore) -> list[Job]:
    return store.jobs.list(Page(limit=0))


def add(store: InMemoryStore, job_id: str, command: str = "true", **fields) -> Job:
    job = Job.new(job_id, command, NOW, **fields)
    store.jobs.add(job)
    return job


def make_dead(store: InMemoryStore, job_id: str, error: str = "exit code 3") -> None:
    """Drive the model through the store: claim, fail with no retries left, record."""
    add(store, job_id, "exit 3", max_retries=0, priority=99)  # claimed before any other job
    job = store.jobs.claim_next(WorkerRef("w1", "host1"), NOW, NOW + timedelta(seconds=30))
    assert job is not None and job.id == job_id
    token = job.lease_token
    job.fail(NOW + timedelta(seconds=1), error, BackoffPolicy(), exit_code=3)
    assert store.jobs.record_outcome(job, token)


def register_worker(store: InMemoryStore, heartbeat: datetime, worker_id: str = "w1", slots: int = 1) -> None:
    store.workers.register(WorkerInfo(worker_id, "host1", 4242, 1.0, ("default",), NOW - timedelta(minutes=1),
                                      heartbeat, current_job=None, slots=slots))
