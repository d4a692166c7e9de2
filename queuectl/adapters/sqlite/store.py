"""SqliteStore: the embedded store, one SQLite file shared by every process."""

from __future__ import annotations

from queuectl.domain.ports import StatsRepository, Store

from .database import SqliteDatabase
from .jobs import SqliteJobRepository
from .queues import SqliteQueueControl
from .schedules import SqliteScheduleRepository
from .settings_workers import SqliteSettingsRepository, SqliteWorkerRegistry


class SqliteStore(Store):
    """``sqlite:///path/to/queue.db`` (a file) or ``sqlite://`` (memory, tests only).

    Building one only parses the URL; the file and the schema are created by
    the first write (a read never creates a file: ``location.py``), and
    SQLAlchemy is imported on the first query that needs it. ``home_store``:
    this is the queue home's own file, which reads as empty while missing.
    """

    def __init__(self, url: str, home_store: bool = False, one_connection: bool = False) -> None:
        self.url = url
        self._db = SqliteDatabase(url, home_store, one_connection)
        self.jobs = SqliteJobRepository(self._db)
        self.settings = SqliteSettingsRepository(self._db)
        self.workers = SqliteWorkerRegistry(self._db)
        self.queues = SqliteQueueControl(self._db)
        self.schedules = SqliteScheduleRepository(self._db)
        self._stats: StatsRepository | None = None

    @property
    def stats(self) -> StatsRepository:  # type: ignore[override]
        if self._stats is None:
            from .stats import SqliteStatsRepository  # SQLAlchemy Core aggregates

            self._stats = SqliteStatsRepository(self._db)
        return self._stats

    def create(self) -> None:
        self._db.create()

    def close(self) -> None:
        self._db.close()
