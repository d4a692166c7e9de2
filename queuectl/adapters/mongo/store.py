"""MongoStore: the networked store shared by workers on any number of hosts."""

from __future__ import annotations

from queuectl.domain.ports import Store

from .database import MongoDatabase
from .jobs import MongoJobRepository
from .queues import MongoQueueControl
from .schedules import MongoScheduleRepository
from .settings_workers import MongoSettingsRepository, MongoWorkerRegistry
from .stats import MongoStatsRepository


class MongoStore(Store):
    """``mongodb://[user:password@]host[:port][,host...]/[database][?options]`` or ``mongodb+srv://``.

    The database is the URL's path (``queuectl`` when it has none); the
    collections are ``jobs``, ``counters``, ``settings``, ``workers``, ``queue_control`` and ``schedules``.
    Building one connects nothing: the first repository call does.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = MongoDatabase(url)
        self.database = self._db  # the change stream of ``wakeups.py`` shares the client
        self.jobs = MongoJobRepository(self._db)
        self.settings = MongoSettingsRepository(self._db)
        self.workers = MongoWorkerRegistry(self._db)
        self.stats = MongoStatsRepository(self._db)
        self.queues = MongoQueueControl(self._db)
        self.schedules = MongoScheduleRepository(self._db)

    def close(self) -> None:
        self._db.close()
