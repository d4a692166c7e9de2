"""The claim on PostgreSQL: one statement, ``FOR UPDATE SKIP LOCKED``.

Workers claiming at once never wait for each other: each locks the due rows
no other claim holds, moves them to ``processing`` and opens their attempt
rows, all in one round trip. It writes what ``Job.claim`` writes (the claim's
test in the contract suite compares them field by field); the lease token is
122 random bits from the server (``gen_random_uuid``, PostgreSQL 13 or later).
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from queuectl.adapters.sqlite.queues import claim_filter
from queuectl.adapters.sqlite.rows import job_from_row
from queuectl.adapters.sqlite.tables import JOB_COLUMNS, WAITING_SQL
from queuectl.domain.model import Attempt, Job, JobState
from queuectl.domain.ports import WorkerRef
from queuectl.domain.timeutil import to_epoch

from .connection import Connection

_COLUMNS = ", ".join(JOB_COLUMNS)
_CLAIM = f"""
WITH due AS (
    SELECT seq FROM jobs WHERE {WAITING_SQL} AND run_at <= ?{{queues}}
    ORDER BY priority DESC, run_at, seq LIMIT ? FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE jobs SET state = '{JobState.PROCESSING.value}', attempts = attempts + 1, worker = ?,
        lease_token = replace(gen_random_uuid()::text, '-', ''), lease_until = ?, started_at = ?,
        finished_at = NULL, exit_code = NULL, updated_at = ?
    FROM due WHERE jobs.seq = due.seq
    RETURNING {', '.join(f'jobs.{name}' for name in JOB_COLUMNS)}
), opened AS (
    INSERT INTO attempts (token, job_id, ordinal, attempt, worker, host, started_at)
    SELECT lease_token, id, (SELECT coalesce(max(ordinal) + 1, 0) FROM attempts WHERE job_id = claimed.id),
        attempts, worker, ?, started_at FROM claimed
)
SELECT {_COLUMNS} FROM claimed ORDER BY priority DESC, run_at, seq
"""


def claim(conn: Connection, worker: WorkerRef, now: datetime, lease_until: datetime,
          queues: Sequence[str] | None, limit: int) -> list[Job]:
    """Up to ``limit`` due jobs of ``queues`` (None: any), none of a paused queue, in claim order."""
    claimable = claim_filter(conn, queues)  # type: ignore[arg-type]
    if claimable is None:
        return []
    terms, names = claimable
    at = to_epoch(now)
    rows = conn.execute(_CLAIM.format(queues=terms),
                        (at, *names, limit, worker.id, to_epoch(lease_until), at, at, worker.host)).fetchall()
    jobs = []
    for row in rows:
        job = job_from_row(row)
        job.history.append(Attempt(job.attempts, worker.id, worker.host, now))
        jobs.append(job)
    return jobs
