"""SqliteJobRepository: the job port on SQLAlchemy Core.

Every write is one ``BEGIN IMMEDIATE`` transaction; the model decides what
changes and this module only persists it. Statements are built once at import
(they are plain Core constructs, nothing connects) so the hot paths reuse
SQLAlchemy's compiled cache.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy import bindparam as param
from sqlalchemy import exc

from queuectl.domain.errors import DuplicateJob, JobNotFound, StoreUnavailable
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import AttemptLog, JobRepository, Outcome, Page, WorkerRef
from queuectl.domain.timeutil import to_epoch

from . import cycle, schema
from .database import SqliteDatabase
from .rows import MUTABLE_FIELDS, attempt_from_row, job_from_row, job_values, mutable_values

J, A = schema.jobs, schema.attempts
_SET_MUTABLE = {name: param(name) for name in MUTABLE_FIELDS}

_RENEW = (sa.update(J).where(J.c.id == param("b_id"), J.c.lease_token == param("b_token"),
                             sa.text(schema.PROCESSING_SQL)).values(lease_until=param("until")))
# Compare-and-set on what was loaded, for moves that are not fenced by a lease.
_SWAP = (sa.update(J).where(J.c.id == param("b_id"), J.c.state == param("b_state"),
                            J.c.lease_token.is_not_distinct_from(param("b_token")))
         .values(_SET_MUTABLE))
_BY_ID = sa.select(J).where(J.c.id == param("id"))
_EXISTS = sa.select(J.c.seq).where(J.c.id == param("id"))
_HISTORY = sa.select(A).where(A.c.job_id == param("id")).order_by(A.c.ordinal)
_HISTORIES = (sa.select(A).where(A.c.job_id.in_(param("ids", expanding=True)))
              .order_by(A.c.job_id, A.c.ordinal))
_EXPIRED = (sa.select(J).where(sa.text(schema.PROCESSING_SQL), J.c.lease_until < param("now"))
            .order_by(J.c.lease_until).limit(param("limit")))
_COUNTS = sa.select(J.c.state, sa.func.count()).group_by(J.c.state)
_DEAD = sa.select(J).where(J.c.state == JobState.DEAD.value)


class SqliteJobRepository(JobRepository):
    settles_with_claim = True  # one lock / one transaction

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    # -- enqueue -----------------------------------------------------------
    def add(self, job: Job) -> None:
        try:
            with self._db.write() as conn:
                conn.execute(sa.insert(J), job_values(job))
        except exc.IntegrityError:
            raise DuplicateJob(job.id) from None

    def add_many(self, jobs: Sequence[Job]) -> list[str]:
        with self._db.raw_write() as conn:
            new, duplicates = _split_new(jobs, cycle.existing_ids(conn, list({job.id for job in jobs})))
            if new:
                cycle.insert(conn, new)
        return duplicates

    # -- read --------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        with self._db.read() as conn:
            return _load(conn, job_id)

    def list(self, page: Page) -> list[Job]:
        query = sa.select(J).order_by(J.c.seq.desc())
        if page.state is not None:
            query = query.where(J.c.state == page.state.value)
        if page.queue is not None:
            query = query.where(J.c.queue == page.queue)
        if page.limit:
            query = query.limit(page.limit)
        with self._db.read() as conn:
            return [job_from_row(row) for row in conn.execute(query)]

    def count_by_state(self) -> dict[JobState, int]:
        counts = {state: 0 for state in JobState}
        with self._db.read() as conn:
            for state, count in conn.execute(_COUNTS):
                counts[JobState(state)] = count
        return counts

    def expired_leases(self, now: datetime, limit: int = 100) -> list[Job]:
        with self._db.read() as conn:
            rows = conn.execute(_EXPIRED, {"now": to_epoch(now), "limit": limit}).all()
            histories: dict[str, list] = {row.id: [] for row in rows}
            if rows:
                for attempt in conn.execute(_HISTORIES, {"ids": list(histories)}):
                    histories[attempt.job_id].append(attempt_from_row(attempt))
        return [job_from_row(row, histories[row.id]) for row in rows]

    def logs(self, job_id: str) -> list[AttemptLog]:
        with self._db.read() as conn:
            if conn.execute(_EXISTS, {"id": job_id}).first() is None:
                raise JobNotFound(job_id)
            rows = conn.execute(_HISTORY, {"id": job_id}).all()
        return [AttemptLog(attempt_from_row(row), row.output or "") for row in reversed(rows)]

    # -- the worker's cycle ------------------------------------------------
    def claim_next(self, worker: WorkerRef, now: datetime, lease_until: datetime,
                   queues: Sequence[str] | None = None) -> Job | None:
        claimed = self.settle_and_claim((), worker, now, lease_until, queues)[1]
        return claimed[0] if claimed else None

    def settle_and_claim(self, outcomes: Sequence[Outcome], worker: WorkerRef, now: datetime,
                         lease_until: datetime, queues: Sequence[str] | None = None,
                         limit: int = 1) -> tuple[list[bool], list[Job]]:
        with self._db.raw_write() as conn:
            recorded = cycle.record_all(conn, outcomes)
            return recorded, cycle.claim(conn, worker, now, lease_until, queues, limit) if limit else []

    def renew_lease(self, job_id: str, token: str, until: datetime) -> bool:
        with self._db.write() as conn:
            result = conn.execute(_RENEW, {"b_id": job_id, "b_token": token, "until": to_epoch(until)})
            return result.rowcount > 0

    def record_outcome(self, job: Job, token: str, output: str | None = None) -> bool:
        with self._db.raw_write() as conn:
            return cycle.record(conn, Outcome(job, token, output))

    # -- operator moves ----------------------------------------------------
    def cancel(self, job_id: str, now: datetime) -> Job:
        return self._move(job_id, lambda job: job.cancel(now))

    def revive(self, job_id: str, now: datetime) -> Job:
        return self._move(job_id, lambda job: job.revive(now))

    def revive_all(self, now: datetime) -> int:
        with self._db.write() as conn:
            jobs = [job_from_row(row) for row in conn.execute(_DEAD)]
            for job in jobs:
                job.revive(now)
            if jobs:
                conn.execute(_SWAP, [_swap_params(job, JobState.DEAD, None) for job in jobs])
        return len(jobs)

    def _move(self, job_id: str, move: Callable[[Job], None]) -> Job:
        """Load, let the model move the job (it may refuse), write back guarded."""
        with self._db.write() as conn:
            job = _load(conn, job_id)
            state, token = job.state, job.lease_token
            move(job)
            if conn.execute(_SWAP, _swap_params(job, state, token)).rowcount != 1:
                raise StoreUnavailable(f"job '{job_id}' changed while being updated; try again")
            if token is not None and job.lease_token is None and job.history:
                # the move ended the running attempt: close its row, in this same transaction
                cycle.close_attempts(conn.connection.driver_connection, [Outcome(job, token)])
        return job


def _load(conn: sa.Connection, job_id: str) -> Job:
    row = conn.execute(_BY_ID, {"id": job_id}).first()
    if row is None:
        raise JobNotFound(job_id)
    history = [attempt_from_row(attempt) for attempt in conn.execute(_HISTORY, {"id": job_id})]
    return job_from_row(row, history)


def _swap_params(job: Job, state: JobState, token: str | None) -> dict[str, Any]:
    return {"b_id": job.id, "b_state": state.value, "b_token": token, **mutable_values(job)}


def _split_new(jobs: Sequence[Job], existing: set[str]) -> tuple[list[Job], list[str]]:
    """New jobs (first occurrence of each id) and, in input order, the ids refused."""
    seen, new, duplicates = set(existing), [], []
    for job in jobs:
        if job.id in seen:
            duplicates.append(job.id)
        else:
            seen.add(job.id)
            new.append(job)
    return new, duplicates
