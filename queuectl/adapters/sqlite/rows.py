"""Conversions between domain values and SQLite rows."""

from __future__ import annotations

import json
from typing import Any, Sequence

from queuectl.domain.errors import InvalidJob
from queuectl.domain.model import Attempt, Job, JobState
from queuectl.domain.timeutil import bounded_seconds, from_epoch, to_epoch

_INT64 = range(-(2 ** 63), 2 ** 63)

# What a model move may change: ``record_outcome`` and the other write-backs
# persist exactly these columns, in the model's order (``mutable_row`` spells it out);
# the operators' moves also write the settings (``SETTINGS``, ``settings_row``) only ``update`` changes.
MUTABLE_FIELDS = Job.WORKER_FIELDS
SETTINGS = Job.MUTABLE_FIELDS[len(MUTABLE_FIELDS):]
WORKFLOW_FIELDS = ("unique_key", "retry_on", "no_retry_on")  # set at enqueue, never moved (SPEC 9.3)


# The columns of a new row, in the order ``new_row`` gives them (``seq`` is the store's).
INSERT_COLUMNS = ("id", "command", "queue", "priority", "max_retries", "timeout", *MUTABLE_FIELDS, "created_at",
                  "cwd", "env", "after", *WORKFLOW_FIELDS)


def new_row(job: Job) -> tuple:
    """Every column of a new job row, in ``INSERT_COLUMNS`` order."""
    for name in ("priority", "max_retries"):
        if getattr(job, name) not in _INT64:
            raise InvalidJob(f"job '{job.id}': {name} {getattr(job, name)} is out of range (64-bit integers)")
    return (job.id, job.command, job.queue, job.priority, job.max_retries, job.timeout, *mutable_row(job),
            to_epoch(job.created_at), job.cwd, env_text(job.env), json.dumps(job.after) if job.after else None,
            job.unique_key, job.retry_on, job.no_retry_on)


def env_text(env: dict[str, str]) -> str | None:
    """A job's variables as the ``env`` column keeps them: a JSON object, NULL for none."""
    return json.dumps(env, ensure_ascii=False, separators=(",", ":")) if env else None


def mutable_row(job: Job) -> tuple:
    """The ``MUTABLE_FIELDS`` columns in order (spelled out: this runs on every claim and outcome)."""
    return (job.state.value, job.attempts, to_epoch(job.run_at), to_epoch(job.updated_at),
            to_epoch(job.started_at), to_epoch(job.finished_at), job.exit_code, job.last_error,
            job.worker, job.lease_token, to_epoch(job.lease_until))


def settings_row(job: Job) -> tuple:
    """The ``SETTINGS`` columns in order."""
    return tuple(getattr(job, name) for name in SETTINGS)


def job_from_row(row: Sequence[Any], history: list[Attempt] | None = None) -> Job:
    """A job from a whole ``jobs`` row, in ``JOB_COLUMNS`` order (a SQLAlchemy row or a plain tuple).

    Unpacked by position: this runs for every claimed job, and looking each
    field up by name cost a third of the claim.
    """
    (_seq, id_, command, state, queue, priority, max_retries, timeout, attempts, run_at, created_at,
     updated_at, started_at, finished_at, exit_code, last_error, worker, lease_token, lease_until, cwd, env,
     after, unique_key, retry_on, no_retry_on) = row
    return Job(
        id=id_, command=command, state=JobState(state), queue=queue, priority=priority,
        max_retries=max_retries, timeout=bounded_seconds(timeout), attempts=attempts, run_at=from_epoch(run_at),
        created_at=from_epoch(created_at), updated_at=from_epoch(updated_at),
        started_at=from_epoch(started_at), finished_at=from_epoch(finished_at), exit_code=exit_code,
        last_error=last_error, worker=worker, lease_token=lease_token, lease_until=from_epoch(lease_until),
        history=history or [], cwd=cwd, env=json.loads(env) if env else {}, after=json.loads(after) if after else [],
        unique_key=unique_key, retry_on=retry_on, no_retry_on=no_retry_on,
    )


def attempt_from_row(row: Sequence[Any]) -> Attempt:
    """An attempt from a whole ``attempts`` row, in ``ATTEMPT_COLUMNS`` order."""
    (_token, _job_id, _ordinal, attempt, worker, host, started_at, finished_at, exit_code, error,
     _output, outcome) = row
    return Attempt(attempt=attempt, worker=worker, host=host, started_at=from_epoch(started_at),
                   finished_at=from_epoch(finished_at), exit_code=exit_code, error=error,
                   outcome=JobState(outcome) if outcome else None)
