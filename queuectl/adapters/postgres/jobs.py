"""PostgresJobRepository: the SQLite job repository's SQL, with PostgreSQL's claim and locks.

Everything but the claim is the shared code of ``sqlite/jobs.py``. Operators'
moves, removals and prunes run ``alone`` (``database.py``): they read a job and
write it back as its only writer, as on SQLite, so a race between two of them
or with a worker has one winner and the same error for the loser on both stores.
Enqueues and moves that may make a job due notify ``queuectl_jobs`` on commit
(``PostgresDatabase.notifying``), for idle workers on every host.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Collection, Mapping, Sequence

from queuectl.adapters.sqlite import hot_path
from queuectl.adapters.sqlite.jobs import SqliteJobRepository
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Outcome, WorkerRef

from . import claim
from .database import PostgresDatabase


class PostgresJobRepository(SqliteJobRepository):
    _db: PostgresDatabase

    def __init__(self, db: PostgresDatabase) -> None:
        super().__init__(db)  # type: ignore[arg-type]

    def settle_and_claim(self, outcomes: Sequence[Outcome], worker: WorkerRef, now: datetime,
                         lease_until: datetime, queues: Sequence[str] | None = None,
                         limit: int = 1) -> tuple[list[bool], list[Job]]:
        with self._db.write() as conn:
            recorded = hot_path.record_all(conn, outcomes)  # type: ignore[arg-type]
            return recorded, claim.claim(conn, worker, now, lease_until, queues, limit) if limit else []

    def add(self, job: Job) -> None:
        with self._db.notifying():
            super().add(job)

    def add_many(self, jobs: Sequence[Job]) -> list[str]:
        with self._db.notifying():
            return super().add_many(jobs)

    def remove(self, job_ids: Sequence[str]) -> list[Job]:
        with self._db.alone():
            return super().remove(job_ids)

    def prune(self, states: Collection[JobState], finished_before: datetime, limit: int) -> list[Job]:
        with self._db.alone():
            return super().prune(states, finished_before, limit)

    def _move_all(self, name: str, states: Collection[JobState], queue: str | None,
                  move: Callable[[Job], None]) -> int:
        with self._db.alone():
            return super()._move_all(name, states, queue, move)

    def _move(self, job_id: str, move: Callable[[Job], None]) -> Job:
        with self._db.alone():
            return super()._move(job_id, move)

    # -- the moves that may make a job due notify; a cancel does not ------------
    def retry(self, job_id: str, now: datetime, only_dead: bool = False) -> Job:
        with self._db.notifying():
            return super().retry(job_id, now, only_dead)

    def retry_all(self, now: datetime, states: Collection[JobState] = frozenset({JobState.DEAD}),
                  queue: str | None = None) -> int:
        with self._db.notifying():
            return super().retry_all(now, states, queue)

    def update(self, job_id: str, now: datetime, changes: Mapping[str, object]) -> Job:
        with self._db.notifying():
            return super().update(job_id, now, changes)
