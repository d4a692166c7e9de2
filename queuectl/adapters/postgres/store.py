"""PostgresStore: ``postgresql://`` (or ``postgresql+psycopg://``) URLs, one schema shared by every host."""

from __future__ import annotations

from typing import Callable, Collection

from queuectl.adapters.sqlite.queues import SqliteQueueControl
from queuectl.adapters.sqlite.schedules import SqliteScheduleRepository
from queuectl.adapters.sqlite.settings_workers import SqliteSettingsRepository, SqliteWorkerRegistry
from queuectl.adapters.sqlite.stats import SqliteStatsRepository
from queuectl.domain.pausing import Paused
from queuectl.domain.ports import Store

from .database import PostgresDatabase
from .jobs import PostgresJobRepository


class PostgresQueueControl(SqliteQueueControl):
    """Pauses and limits run ``alone``: every claim that commits after one committed honours it."""

    def __init__(self, db: PostgresDatabase) -> None:
        super().__init__(db)  # type: ignore[arg-type]
        self._pg = db

    def resume(self, queues: Collection[str] | None) -> Paused:
        with self._pg.notifying():  # a resume makes jobs due
            return super().resume(queues)

    def set_limit(self, queue: str, limit: int) -> None:
        with self._pg.alone(), self._pg.notifying():  # a higher limit or none makes jobs claimable
            super().set_limit(queue, limit)

    def _change(self, move: Callable[[Paused], Paused]) -> Paused:
        with self._pg.alone():
            return super()._change(move)


class PostgresStore(Store):
    """Building one only parses the URL; the first call connects and creates or migrates the schema."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.database = self._db = PostgresDatabase(url)  # ``database``: for the LISTEN watch (wakeups.py)
        db = self._db  # the SQLite repositories' SQL runs on it unchanged (``connection.py``)
        self.jobs = PostgresJobRepository(db)
        self.settings = SqliteSettingsRepository(db)  # type: ignore[arg-type]
        self.workers = SqliteWorkerRegistry(db)  # type: ignore[arg-type]
        self.queues = PostgresQueueControl(db)
        self.schedules = SqliteScheduleRepository(db)  # type: ignore[arg-type]
        self.stats = SqliteStatsRepository(db)  # type: ignore[arg-type]

    def create(self) -> None:
        self._db.create()

    def close(self) -> None:
        self._db.close()


