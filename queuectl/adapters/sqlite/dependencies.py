"""Dependencies on SQLite (``domain/dependencies.py`` decides): checked at enqueue, released
in the very transaction that ends a job, so no crash can leave a blocked job behind.

A job that ends looks up its dependents with one indexed query on ``dependencies.depends_on``
(nothing found: nothing else to do); the claim never reads blocked jobs (``ix_jobs_claim``
holds only pending and failed ones).
"""

from __future__ import annotations

import sqlite3
from typing import Iterable, Sequence

from queuectl.domain import dependencies
from queuectl.domain.model import FINAL, Job, JobState

from .rows import MUTABLE_FIELDS, job_from_row, mutable_row
from .tables import JOB_COLUMNS

_CHUNK = 500
_STATES = "SELECT id, state FROM jobs WHERE id IN ({marks})"
# The same, for an enqueue: PostgreSQL reads it as FOR SHARE (postgres/connection.py), SQLite as a comment.
_STATES_LOCKED = _STATES + " /* lock: share */"
_DEPENDENTS = "SELECT DISTINCT job_id FROM dependencies WHERE depends_on IN ({marks})"
_BLOCKED = (f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE id IN ({{marks}})"
            f" AND state = '{JobState.BLOCKED.value}' ORDER BY seq")
_LINK = "INSERT INTO dependencies (job_id, depends_on) VALUES (?, ?)"  # ``after`` holds no repeats
_SETTLE = (f"UPDATE jobs SET {', '.join(f'{name} = ?' for name in MUTABLE_FIELDS)}"
           f" WHERE id = ? AND state = '{JobState.BLOCKED.value}'")


def _chunks(ids: Sequence[str]) -> Iterable[tuple[str, list[str]]]:
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start:start + _CHUNK])
        yield ", ".join("?" * len(chunk)), chunk


def states(conn: sqlite3.Connection, ids: Sequence[str], lock: bool = False) -> dict[str, JobState]:
    found: dict[str, JobState] = {}
    query = _STATES_LOCKED if lock else _STATES
    for marks, chunk in _chunks(ids):
        found.update((name, JobState(state)) for name, state in conn.execute(query.format(marks=marks), chunk))
    return found


def admit(conn: sqlite3.Connection, jobs: Sequence[Job]) -> None:
    """Before new jobs are inserted: each dependency must exist (in the file, or earlier in
    ``jobs``), and each job starts as its dependencies' states decide. Raises before any write."""
    waiting = [job for job in jobs if job.after]
    if not waiting:
        return
    known = states(conn, list({name for job in waiting for name in job.after}), lock=True)
    for job in jobs:
        if job.after:
            dependencies.admit(job, known, job.created_at)
        known.setdefault(job.id, job.state)


def link(conn: sqlite3.Connection, jobs: Sequence[Job]) -> None:
    """After new jobs are inserted: who waits for whom."""
    links = [(job.id, name) for job in jobs for name in job.after]
    if links:
        conn.executemany(_LINK, links)


def release(conn: sqlite3.Connection, ended: Iterable[Job]) -> int:
    """Settle the blocked jobs waiting for the ``ended`` ones (those final), at the time each ended,
    and their own dependents when they are cancelled in turn; how many moved. The caller's transaction."""
    work = {job.id: job.updated_at for job in ended if job.state in FINAL}
    moved = 0
    while work:
        waiting = _dependents(conn, list(work))
        now, work = max(work.values()), {}
        for job in waiting:
            if dependencies.settle(job, states(conn, job.after), now):
                moved += conn.execute(_SETTLE, (*mutable_row(job), job.id)).rowcount
                if job.state in FINAL:
                    work[job.id] = now
    return moved


def _dependents(conn: sqlite3.Connection, ids: Sequence[str]) -> list[Job]:
    names: list[str] = []
    for marks, chunk in _chunks(ids):
        names += [row[0] for row in conn.execute(_DEPENDENTS.format(marks=marks), chunk)]
    jobs: list[Job] = []
    for marks, chunk in _chunks(list(dict.fromkeys(names))):
        jobs += [job_from_row(row) for row in conn.execute(_BLOCKED.format(marks=marks), chunk)]
    return jobs
