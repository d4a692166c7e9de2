"""The claim on PostgreSQL: one statement, ``FOR UPDATE SKIP LOCKED``.

Workers claiming at once never wait for each other: each locks the due rows
no other claim holds, moves them to ``processing`` and opens their attempt
rows, all in one round trip. It writes what ``Job.claim`` writes (the claim's
test in the contract suite compares them field by field); the lease token is
122 random bits from the server (``gen_random_uuid``, PostgreSQL 13 or later).

With a limit on a queue it could take from, a claim first locks the limits'
rows and counts (``sqlite/queues.py``), then reads due rows with their queue,
keeps what the ``Budget`` allows and claims those by ``seq``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from queuectl.adapters.sqlite.queues import claim_budget, claim_filter, skip_terms
from queuectl.adapters.sqlite.rows import job_from_row
from queuectl.adapters.sqlite.tables import JOB_COLUMNS, WAITING_SQL
from queuectl.domain.model import Attempt, Job, JobState
from queuectl.domain.ports import WorkerRef
from queuectl.domain.timeutil import to_epoch

from .connection import Connection

_COLUMNS = ", ".join(JOB_COLUMNS)
_DUE = (f"SELECT seq{{queue}} FROM jobs WHERE {WAITING_SQL} AND run_at <= ?{{queues}}"
        " ORDER BY priority DESC, run_at, seq LIMIT ? FOR UPDATE SKIP LOCKED")
_CLAIM = f"""
WITH due AS (
    {{due}}
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
    """Up to ``limit`` due jobs of ``queues`` (None: any), none of a paused queue nor more than a limited
    queue has free, in claim order."""
    claimable = claim_filter(conn, queues)  # type: ignore[arg-type]
    if claimable is None:
        return []
    terms, names, limited = claimable
    budget = claim_budget(conn, queues, limit) if limited else None  # type: ignore[arg-type]
    if budget is None:  # no limit in the way: one statement
        due = _DUE.format(queue="", queues=terms)
        return _claimed(conn, due, (to_epoch(now), *names, limit), worker, now, lease_until)
    claimed: list[Job] = []
    while budget.wanted:
        full = budget.full
        rows = conn.execute(_DUE.format(queue=", queue", queues=terms + skip_terms(full)),
                            (to_epoch(now), *names, *full, budget.wanted)).fetchall()
        seqs = [rows[i][0] for i in budget.take(row[1] for row in rows)]
        if seqs:  # rows this transaction already locked
            due = f"SELECT seq FROM jobs WHERE seq IN ({', '.join('?' * len(seqs))})"
            claimed += _claimed(conn, due, seqs, worker, now, lease_until)
        if not budget.again:
            break
    return claimed


def _claimed(conn: Connection, due: str, due_params: Sequence[object], worker: WorkerRef, now: datetime,
             lease_until: datetime) -> list[Job]:
    """Claim the rows ``due`` selects (and locks), in claim order."""
    at = to_epoch(now)
    rows = conn.execute(_CLAIM.format(due=due),
                        (*due_params, worker.id, to_epoch(lease_until), at, at, worker.host)).fetchall()
    jobs = []
    for row in rows:
        job = job_from_row(row)
        job.history.append(Attempt(job.attempts, worker.id, worker.host, now))
        jobs.append(job)
    return jobs
