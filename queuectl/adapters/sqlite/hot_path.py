"""The hot paths on SQLite: enqueues, a worker's claims, outcomes, leases and recovery.

Fixed SQL strings on the driver's own connection (``SqliteDatabase.read``
and ``write``): each statement costs what SQLite itself costs, and the
processes that run them (workers, ``enqueue``) never import SQLAlchemy. The
model still decides every field: the claim loads the row, calls ``Job.claim``
and writes the result.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from typing import Sequence

from queuectl.domain.errors import OutcomeRejected
from queuectl.domain.model import BULKY_PARTS, Job
from queuectl.domain.ports import Outcome, WorkerRef
from queuectl.domain.timeutil import to_epoch

from . import dependencies
from .queues import claim_budget, claim_filter, skip_terms
from .tables import ATTEMPT_COLUMNS, JOB_COLUMNS, PROCESSING_SQL, WAITING_SQL
from .rows import INSERT_COLUMNS, MUTABLE_FIELDS, attempt_from_row, job_from_row, mutable_row, new_row

_SET = ", ".join(f"{name} = ?" for name in MUTABLE_FIELDS)

# The claim query names its index: without ANALYZE statistics SQLite prefers
# (state, seq) and would sort every waiting job on each claim.
_DUE = (f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs INDEXED BY ix_jobs_claim"
        f" WHERE {WAITING_SQL} AND run_at <= ?{{queues}}"
        " ORDER BY priority DESC, run_at, seq LIMIT ?")
_QUEUE = JOB_COLUMNS.index("queue")
_CLAIM = f"UPDATE jobs SET {_SET} WHERE seq = ?"
_OPEN_ATTEMPT = ("INSERT INTO attempts (token, job_id, ordinal, attempt, worker, host, started_at)"
                 " VALUES (?, ?, (SELECT coalesce(max(ordinal) + 1, 0) FROM attempts WHERE job_id = ?),"
                 " ?, ?, ?, ?)")
# Fenced by the lease token: a worker whose lease was taken over writes nothing.
_RECORD = f"UPDATE jobs SET {_SET} WHERE id = ? AND lease_token = ? AND {PROCESSING_SQL}"
_CLOSE_ATTEMPT = ("UPDATE attempts SET finished_at = ?, exit_code = ?, error = ?, outcome = ?,"
                  " output = coalesce(?, output) WHERE token = ?")
# The attempts older than the newest ``history_max`` (the third parameter) keep only their summary.
_TRIM = (f"UPDATE attempts SET {', '.join(f'{part} = NULL' for part in BULKY_PARTS)} WHERE job_id = ?"
         " AND ordinal <= (SELECT max(ordinal) FROM attempts WHERE job_id = ?) - ?"
         f" AND ({' OR '.join(f'{part} IS NOT NULL' for part in BULKY_PARTS)})")
_BURY_WAITING = f"UPDATE jobs SET {_SET} WHERE id = ? AND {WAITING_SQL}"
# What SQLite refuses for good, whatever the retries: a value over its length limit, a constraint.
_PERMANENT = (sqlite3.DataError, sqlite3.IntegrityError)


_INSERT = (f"INSERT INTO jobs ({', '.join(INSERT_COLUMNS)})"
           f" VALUES ({', '.join('?' * len(INSERT_COLUMNS))})")
_ID_CHUNK = 500


def existing_ids(conn: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start:start + _ID_CHUNK]
        marks = ", ".join("?" * len(chunk))
        found.update(row[0] for row in conn.execute(f"SELECT id FROM jobs WHERE id IN ({marks})", chunk))
    return found


def insert(conn: sqlite3.Connection, jobs: Sequence[Job]) -> None:
    """New job rows; a job with dependencies is checked and settled first, and linked to them."""
    dependencies.admit(conn, jobs)
    conn.executemany(_INSERT, [new_row(job) for job in jobs])
    dependencies.link(conn, jobs)


def record(conn: sqlite3.Connection, outcome: Outcome) -> bool:
    return record_all(conn, [outcome])[0]


def record_all(conn: sqlite3.Connection, outcomes: Sequence[Outcome]) -> list[bool]:
    """Write each outcome whose token still holds its job; whether each was written.

    All of them in two ``executemany`` calls when every token holds (the normal
    case); one by one only to find out which were refused. ``OutcomeRejected``
    names the first outcome SQLite refuses for good (the caller rolls back).
    """
    if not outcomes:
        return []
    conn.execute("SAVEPOINT record")
    try:
        return _record_all(conn, outcomes)
    except _PERMANENT as error:
        conn.execute("ROLLBACK TO record")
        raise OutcomeRejected(_refused(conn, outcomes), f"SQLite refused it: {error}") from None
    finally:
        conn.execute("RELEASE record")


def _refused(conn: sqlite3.Connection, outcomes: Sequence[Outcome]) -> str:
    """The id of the first job whose outcome SQLite refuses on its own (each tried, then undone)."""
    for outcome in outcomes:
        conn.execute("SAVEPOINT probe")
        try:
            _record_all(conn, [outcome])
        except _PERMANENT:
            return outcome.job.id
        finally:
            conn.execute("ROLLBACK TO probe")
            conn.execute("RELEASE probe")
    return outcomes[0].job.id


def _record_all(conn: sqlite3.Connection, outcomes: Sequence[Outcome]) -> list[bool]:
    jobs = [(*mutable_row(o.job), o.job.id, o.token) for o in outcomes]
    conn.execute("SAVEPOINT settle")
    if conn.executemany(_RECORD, jobs).rowcount == len(outcomes):
        written = [True] * len(outcomes)
    else:  # undo, and redo one by one to learn which tokens were refused
        conn.execute("ROLLBACK TO settle")
        written = [conn.execute(_RECORD, params).rowcount == 1 for params in jobs]
    conn.execute("RELEASE settle")
    closed = [o for o, ok in zip(outcomes, written) if ok]
    close_attempts(conn, closed)
    conn.executemany(_TRIM, [(o.job.id, o.job.id, o.history_max) for o in closed])
    dependencies.release(conn, [o.job for o in closed])  # one indexed lookup when none waits
    return written


def bury(conn: sqlite3.Connection, job: Job, token: str | None) -> bool:
    """Write a job closed dead by ``Job.refuse``: fenced by its token, or (no token) while it waits."""
    if token is None:
        buried = conn.execute(_BURY_WAITING, (*mutable_row(job), job.id)).rowcount == 1
    elif buried := conn.execute(_RECORD, (*mutable_row(job), job.id, token)).rowcount == 1:
        close_attempts(conn, [Outcome(job, token)])
    if buried:
        dependencies.release(conn, [job])
    return buried


def close_attempts(conn: sqlite3.Connection, outcomes: Sequence[Outcome]) -> None:
    """Write each job's last history entry into the attempt row its claim (the token) opened."""
    closes = [_close_params(o) for o in outcomes if o.job.history]
    if closes:
        conn.executemany(_CLOSE_ATTEMPT, closes)


def _close_params(outcome: Outcome) -> tuple:
    attempt = outcome.job.history[-1]
    return (to_epoch(attempt.finished_at), attempt.exit_code, attempt.error,
            attempt.outcome.value if attempt.outcome else None, outcome.output, outcome.token)


def claim(conn: sqlite3.Connection, worker: WorkerRef, now: datetime, lease_until: datetime,
          queues: Sequence[str] | None, limit: int) -> list[Job]:
    """Up to ``limit`` due jobs of ``queues`` (None: any), none of a paused queue nor more than a limited
    queue has free (both read in this transaction)."""
    claimable = claim_filter(conn, queues)
    if claimable is None:
        return []
    terms, names, limited = claimable
    budget = claim_budget(conn, queues, limit) if limited else None
    if budget is None:  # no limit in the way: one read
        return _take(conn, worker, now, lease_until, _due(conn, now, terms, names, limit))
    claimed: list[Job] = []
    while budget.wanted:
        full = budget.full
        rows = _due(conn, now, terms + skip_terms(full), (*names, *full), budget.wanted)
        kept = budget.take(row[_QUEUE] for row in rows)
        claimed += _take(conn, worker, now, lease_until, [rows[i] for i in kept])
        if not budget.again:
            break
    return claimed


def _due(conn: sqlite3.Connection, now: datetime, terms: str, names: Sequence[str], limit: int) -> list[tuple]:
    return conn.execute(_DUE.format(queues=terms), (to_epoch(now), *names, limit)).fetchall()


def _take(conn: sqlite3.Connection, worker: WorkerRef, now: datetime, lease_until: datetime,
          rows: Sequence[tuple]) -> list[Job]:
    """Claim these due rows: ``Job.claim`` decides every field, one attempt row opened each."""
    claimed, updates, attempts = [], [], []
    started = to_epoch(now)
    for row in rows:
        job = job_from_row(row)
        token = os.urandom(16).hex()  # a random 128-bit token; uuid4 costs 5x as much
        job.claim(worker.id, worker.host, token, now, lease_until)
        updates.append((*mutable_row(job), row[0]))  # seq
        attempts.append((token, job.id, job.id, job.attempts, worker.id, worker.host, started))
        claimed.append(job)
    if claimed:
        conn.executemany(_CLAIM, updates)
        conn.executemany(_OPEN_ATTEMPT, attempts)
    return claimed


_RENEW = f"UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_token = ? AND {PROCESSING_SQL}"
_EXPIRED = (f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE {PROCESSING_SQL} AND lease_until < ?"
            " ORDER BY lease_until LIMIT ?")
_HISTORIES = (f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM attempts WHERE job_id IN ({{marks}})"
              " ORDER BY job_id, ordinal")


def renew(conn: sqlite3.Connection, job_id: str, token: str, until: datetime) -> bool:
    """Extend a lease, only while the token still holds the job."""
    return conn.execute(_RENEW, (to_epoch(until), job_id, token)).rowcount > 0


def expired(conn: sqlite3.Connection, now: datetime, limit: int) -> list[Job]:
    """Processing jobs whose lease ended before ``now``, oldest first, with their histories."""
    jobs = [job_from_row(row) for row in conn.execute(_EXPIRED, (to_epoch(now), limit))]
    by_id = {job.id: job for job in jobs}
    if jobs:
        query = _HISTORIES.format(marks=", ".join("?" * len(by_id)))
        for row in conn.execute(query, list(by_id)):
            by_id[row[1]].history.append(attempt_from_row(row))  # row[1]: job_id
    return jobs
