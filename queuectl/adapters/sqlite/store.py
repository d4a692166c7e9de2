"""SqliteStore: the embedded store, one SQLite file shared by every process."""

from __future__ import annotations

from queuectl.domain.ports import Store

from .database import SqliteDatabase
from .jobs import SqliteJobRepository
from .settings_workers import SqliteSettingsRepository, SqliteWorkerRegistry
from .stats import SqliteStatsRepository


class SqliteStore(Store):
    """``sqlite:///path/to/queue.db`` (a file) or ``sqlite://`` (memory, tests only).

    Building one only creates the engine; the file and the schema are created
    on first use.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = SqliteDatabase(url)
        self.jobs = SqliteJobRepository(self._db)
        self.settings = SqliteSettingsRepository(self._db)
        self.workers = SqliteWorkerRegistry(self._db)
        self.stats = SqliteStatsRepository(self._db)

    def close(self) -> None:
        self._db.close()
