"""SqliteJobRepository: the job port on SQLite.

Every write is one ``BEGIN IMMEDIATE`` transaction of fixed SQL (``hot_path.py``
for what workers and ``enqueue`` call, ``deletion.py``, and the operators' moves
below); the model decides what changes and this module only persists it. The
operators' listings and counts are fixed SQL too (``queries.py``), run in the
same kind of transaction.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Callable, Collection, Mapping, Sequence

from queuectl.domain import defaults
from queuectl.domain.errors import ConcurrentUpdate, DuplicateJob, JobNotFound, UniqueKeyHeld
from queuectl.domain.model import FINAL, MOVES_FROM, Job, JobState
from queuectl.domain.ports import AttemptLog, JobRepository, Outcome, Page, WorkerRef
from queuectl.domain.timeutil import to_epoch

from . import deletion, dependencies, hot_path, queries
from .database import SqliteDatabase
from .rows import MUTABLE_FIELDS, SETTINGS, attempt_from_row, job_from_row, mutable_row, settings_row
from .tables import ATTEMPT_COLUMNS, HELD_KEY_SQL, JOB_COLUMNS

_EXISTS = "SELECT seq FROM jobs WHERE id = ?"
_BY_ID = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE id = ?"
_HISTORY = f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM attempts WHERE job_id = ? ORDER BY ordinal"
# A range on the unique id index: every id character sorts below "\x7f" (``ID_PATTERN``).
_IDS_STARTING = "SELECT id FROM jobs WHERE id >= ? AND id < ? ORDER BY seq DESC LIMIT ?"
_HOLDER = f"SELECT id, state FROM jobs WHERE unique_key = ? AND {HELD_KEY_SQL} AND id != ?"
_IN_STATES = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE state IN ({{marks}}){{queue}} ORDER BY seq"
# Compare-and-set on what was loaded, for moves that are not fenced by a lease.
_SWAP = (f"UPDATE jobs SET {', '.join(f'{name} = ?' for name in (*MUTABLE_FIELDS, *SETTINGS))}"
         " WHERE id = ? AND state = ? AND lease_token IS ?")


class SqliteJobRepository(JobRepository):

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    # -- enqueue -----------------------------------------------------------
    def add(self, job: Job) -> None:
        with self._db.write() as conn:
            if job.after and conn.execute(_EXISTS, (job.id,)).fetchone():
                raise DuplicateJob(job.id)  # before its dependencies are checked, as on every store
            try:
                hot_path.insert(conn, [job])
            except sqlite3.IntegrityError:
                if conn.execute(_EXISTS, (job.id,)).fetchone() is not None:
                    raise DuplicateJob(job.id) from None
                raise _key_held(conn, job) from None

    def add_many(self, jobs: Sequence[Job]) -> list[str]:
        with self._db.write() as conn:
            new, duplicates = _split_new(jobs, hot_path.existing_ids(conn, list({job.id for job in jobs})))
            if new:
                hot_path.insert(conn, new)
        return duplicates

    # -- read --------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        with self._db.read() as conn:
            return _load(conn, job_id)

    def list(self, page: Page) -> list[Job]:
        sql, params = queries.newest_first(page.state, page.queue, page.limit)
        with self._db.read() as conn:
            return [job_from_row(row) for row in conn.execute(sql, params).fetchall()]

    def ids_starting(self, prefix: str, limit: int) -> list[str]:
        if limit < 1:
            return []
        with self._db.read() as conn:
            return [row[0] for row in conn.execute(_IDS_STARTING, (prefix, prefix + "\x7f", limit))]

    def count_by_state(self) -> dict[JobState, int]:
        counts = {state: 0 for state in JobState}
        with self._db.read() as conn:
            for state, count in conn.execute(queries.COUNTS).fetchall():
                counts[JobState(state)] = count
        return counts

    def count_by_queue(self) -> dict[str, dict[JobState, int]]:
        counts: dict[str, dict[JobState, int]] = {}
        with self._db.read() as conn:
            for queue, state, count in conn.execute(queries.COUNTS_BY_QUEUE).fetchall():
                counts.setdefault(queue, {state: 0 for state in JobState})[JobState(state)] = count
        return counts

    def count(self, states: Collection[JobState] | None = None, queue: str | None = None) -> int:
        query = queries.count_query(states, queue)
        if query is None:
            return 0
        with self._db.read() as conn:
            return conn.execute(*query).fetchone()[0]

    def expired_leases(self, now: datetime, limit: int = defaults.RECOVERY_BATCH) -> list[Job]:
        with self._db.read() as conn:
            return hot_path.expired(conn, now, limit)

    def logs(self, job_id: str) -> list[AttemptLog]:
        with self._db.read() as conn:
            if conn.execute(_EXISTS, (job_id,)).fetchone() is None:
                raise JobNotFound(job_id)
            rows = conn.execute(_HISTORY, (job_id,)).fetchall()
        output = ATTEMPT_COLUMNS.index("output")
        return [AttemptLog(attempt_from_row(row), row[output] or "") for row in reversed(rows)]

    # -- the worker's cycle ------------------------------------------------
    def claim_next(self, worker: WorkerRef, now: datetime, lease_until: datetime,
                   queues: Sequence[str] | None = None) -> Job | None:
        claimed = self.settle_and_claim((), worker, now, lease_until, queues)[1]
        return claimed[0] if claimed else None

    def settle_and_claim(self, outcomes: Sequence[Outcome], worker: WorkerRef, now: datetime,
                         lease_until: datetime, queues: Sequence[str] | None = None,
                         limit: int = 1) -> tuple[list[bool], list[Job]]:
        self._db.check_file()
        with self._db.write() as conn:
            recorded = hot_path.record_all(conn, outcomes)
            return recorded, hot_path.claim(conn, worker, now, lease_until, queues, limit) if limit else []

    def renew_lease(self, job_id: str, token: str, until: datetime) -> bool:
        with self._db.write() as conn:
            return hot_path.renew(conn, job_id, token, until)

    def record_outcome(self, job: Job, token: str, output: str | None = None,
                       history_max: int = defaults.HISTORY_MAX) -> bool:
        with self._db.write() as conn:
            return hot_path.record(conn, Outcome(job, token, output, history_max))

    def bury(self, job: Job, token: str | None) -> bool:
        with self._db.write() as conn:
            return hot_path.bury(conn, job, token)

    # -- operator moves ----------------------------------------------------
    def cancel(self, job_id: str, now: datetime) -> Job:
        return self._move(job_id, lambda job: job.cancel(now))

    def cancel_all(self, now: datetime, states: Collection[JobState], queue: str | None = None) -> int:
        return self._move_all("cancel", states, queue, lambda job: job.cancel(now))

    def retry(self, job_id: str, now: datetime, only_dead: bool = False) -> Job:
        return self._move(job_id, lambda job: job.retry(now, only_dead))

    def retry_all(self, now: datetime, states: Collection[JobState] = frozenset({JobState.DEAD}),
                  queue: str | None = None) -> int:
        return self._move_all("retry", states, queue, lambda job: job.retry(now))

    def update(self, job_id: str, now: datetime, changes: Mapping[str, object]) -> Job:
        return self._move(job_id, lambda job: job.update(now, changes))

    def remove(self, job_ids: Sequence[str]) -> list[Job]:
        ids = list(dict.fromkeys(job_ids))
        with self._db.write() as conn:
            found = {job.id: job for job in deletion.delete(conn, ids, lambda job: True)}
            for job_id in ids:  # raising here rolls the deletion back
                if job_id not in found:
                    raise JobNotFound(job_id)
                found[job_id].check_removable()
        return [found[job_id] for job_id in ids]

    def prune(self, states: Collection[JobState], finished_before: datetime, limit: int) -> list[Job]:
        names = sorted(state.value for state in states if state in FINAL)
        if not names or limit <= 0:
            return []
        with self._db.read() as conn:  # found outside the write lock: workers are not held up
            ids = deletion.prunable(conn, names, to_epoch(finished_before), limit)
        if not ids:
            return []
        with self._db.write() as conn:
            return deletion.delete(conn, ids, lambda job: job.state.value in names
                                   and job.finished_at is not None and job.finished_at < finished_before)

    def _move_all(self, name: str, states: Collection[JobState], queue: str | None,
                  move: Callable[[Job], None]) -> int:
        """One move on every job in ``states`` (those the move allows) of ``queue``: one transaction."""
        names = sorted(state.value for state in states if state in MOVES_FROM[name])
        if not names:
            return 0
        query = _IN_STATES.format(marks=", ".join("?" * len(names)), queue=" AND queue = ?" if queue else "")
        with self._db.write() as conn:
            jobs = [job_from_row(row) for row in conn.execute(query, (*names, *([queue] if queue else [])))]
            moved = [job for job in jobs if _move_one(conn, job, move)]
            dependencies.release(conn, moved)
            return len(moved)

    def _move(self, job_id: str, move: Callable[[Job], None]) -> Job:
        """Load, let the model move the job (it may refuse), write back guarded."""
        with self._db.write() as conn:
            job = _load(conn, job_id)
            state, token = job.state, job.lease_token
            move(job)
            try:
                swapped = conn.execute(_SWAP, _swap_params(job, state, token)).rowcount
            except sqlite3.IntegrityError:
                raise _key_held(conn, job) from None
            if swapped != 1:
                raise ConcurrentUpdate(job_id)  # within one write transaction: another writer cannot interleave
            if token is not None and job.lease_token is None and job.history:
                # the move ended the running attempt: close its row, in this same transaction
                hot_path.close_attempts(conn, [Outcome(job, token)])
            dependencies.release(conn, [job])  # a cancelled job's dependents are cancelled with it
        return job


def _move_one(conn: sqlite3.Connection, job: Job, move: Callable[[Job], None]) -> bool:
    """One job of a bulk move, written back; False (nothing written) when its key is held by another."""
    if job.lease_token is not None:  # a running job: the move closes its open attempt
        job.history = [attempt_from_row(row) for row in conn.execute(_HISTORY, (job.id,))]
    state, token = job.state, job.lease_token
    move(job)
    try:
        conn.execute(_SWAP, _swap_params(job, state, token))
    except sqlite3.IntegrityError:  # the unique index of held keys: a statement's failure undoes only it
        return False
    if token is not None and job.lease_token is None and job.history:
        hot_path.close_attempts(conn, [Outcome(job, token)])
    return True


def _key_held(conn: sqlite3.Connection, job: Job) -> Exception:
    """Why the unique index refused ``job``'s write: the job holding its key (read in the same transaction)."""
    row = conn.execute(_HOLDER, (job.unique_key, job.id)).fetchone()
    if row is None:  # no other constraint can fail this write: never expected
        return ConcurrentUpdate(job.id)
    return UniqueKeyHeld(job.unique_key or "", row[0], row[1])


def _load(conn: sqlite3.Connection, job_id: str) -> Job:
    row = conn.execute(_BY_ID, (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    return job_from_row(row, [attempt_from_row(attempt) for attempt in conn.execute(_HISTORY, (job_id,))])


def _swap_params(job: Job, state: JobState, token: str | None) -> tuple:
    return (*mutable_row(job), *settings_row(job), job.id, state.value, token)


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
