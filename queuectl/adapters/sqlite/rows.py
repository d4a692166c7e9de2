"""Conversions between domain values and SQLite rows."""

from __future__ import annotations

from typing import Any

from queuectl.domain.errors import InvalidJob
from queuectl.domain.model import Attempt, Job, JobState
from queuectl.domain.timeutil import from_epoch, to_epoch

_INT64 = range(-(2 ** 63), 2 ** 63)

# What a model move may change: ``record_outcome`` and the other write-backs
# persist exactly these columns.
MUTABLE_FIELDS = ("state", "attempts", "run_at", "updated_at", "started_at", "finished_at",
                  "exit_code", "last_error", "worker", "lease_token", "lease_until")


def job_values(job: Job) -> dict[str, Any]:
    """Every column of a new job row (``seq`` is assigned by the store)."""
    for name in ("priority", "max_retries"):
        if getattr(job, name) not in _INT64:
            raise InvalidJob(f"job '{job.id}': {name} {getattr(job, name)} is out of range (64-bit integers)")
    return {
        "id": job.id, "command": job.command, "queue": job.queue, "priority": job.priority,
        "max_retries": job.max_retries, "timeout": job.timeout,
        **mutable_values(job), "created_at": to_epoch(job.created_at),
    }


def mutable_values(job: Job) -> dict[str, Any]:
    """The ``MUTABLE_FIELDS`` columns (spelled out: this runs on every claim)."""
    return {
        "state": job.state.value, "attempts": job.attempts, "run_at": to_epoch(job.run_at),
        "updated_at": to_epoch(job.updated_at), "started_at": to_epoch(job.started_at),
        "finished_at": to_epoch(job.finished_at), "exit_code": job.exit_code,
        "last_error": job.last_error, "worker": job.worker, "lease_token": job.lease_token,
        "lease_until": to_epoch(job.lease_until),
    }


def job_from_row(row: Any, history: list[Attempt] | None = None) -> Job:
    return Job(
        id=row.id, command=row.command, state=JobState(row.state), queue=row.queue,
        priority=row.priority, max_retries=row.max_retries, timeout=row.timeout,
        attempts=row.attempts, run_at=from_epoch(row.run_at), created_at=from_epoch(row.created_at),
        updated_at=from_epoch(row.updated_at), started_at=from_epoch(row.started_at),
        finished_at=from_epoch(row.finished_at), exit_code=row.exit_code, last_error=row.last_error,
        worker=row.worker, lease_token=row.lease_token, lease_until=from_epoch(row.lease_until),
        history=history or [],
    )


def attempt_from_row(row: Any) -> Attempt:
    return Attempt(attempt=row.attempt, worker=row.worker, host=row.host,
                   started_at=from_epoch(row.started_at), finished_at=from_epoch(row.finished_at),
                   exit_code=row.exit_code, error=row.error,
                   outcome=JobState(row.outcome) if row.outcome else None)
