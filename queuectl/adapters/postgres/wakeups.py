"""Wake-ups across hosts on PostgreSQL: ``LISTEN queuectl_jobs``.

The store notifies ``queuectl_jobs`` when a transaction that may make jobs
due commits (``PostgresDatabase.notifying``: enqueues, operators' moves,
pause/resume), with the schema's name as payload; a rolled-back transaction
sends nothing. An idle worker's watch (``remote_wakeup.StoreWatch``, in a
thread) listens on a connection of its own, outside the pool, and wakes the
worker on each notification for its schema, from whatever host it came.
"""

from __future__ import annotations

import select
from typing import Any

from queuectl.adapters.remote_wakeup import StoreWatch
from queuectl.domain.urls import scrub

from .database import CHANNEL, PostgresDatabase

AWAIT_SECONDS = 5.0  # one bounded wait on the connection's socket (the watch checks for a stop between waits)


class PostgresListenWatch(StoreWatch):
    def __init__(self, database: PostgresDatabase) -> None:
        super().__init__()
        self._db = database
        self._schema: str | None = None

    def _open(self) -> Any:
        conn = self._db.listening_connection()
        try:
            self._schema = conn.execute("SELECT current_schema()").fetchone()[0]
            conn.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _next(self, session: Any) -> bool:
        ready, _, _ = select.select([session.fileno()], [], [], AWAIT_SECONDS)
        if not ready:
            return False
        payloads = [note.payload for note in session.notifies(timeout=0)]
        return any(payload == self._schema for payload in payloads)

    def _describe(self, error: Exception) -> str:
        return scrub(super()._describe(error), self._db.url)


def listen_watch(store: Any) -> PostgresListenWatch:
    """The container's factory: a watch on ``store``'s database."""
    return PostgresListenWatch(store.database)
