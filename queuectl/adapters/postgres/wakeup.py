"""A PostgreSQL worker's idle wait: this host's datagram wake-ups, plus ``LISTEN queuectl_jobs``.

The store notifies ``queuectl_jobs`` when a transaction that may make jobs due
commits (``PostgresDatabase.notifying``), with the schema's name as payload.
An idle worker listens on a connection of its own and wakes on any such
notification, from any host; the datagram socket and the signals still wake
it as on SQLite. Without the listening connection (the server gone, say) the
worker polls, and tries to listen again at most every ``RETRY_SECONDS``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from queuectl.adapters.wakeup import WakeChannel

from .database import CHANNEL, driver_url

log = logging.getLogger(__name__)
RETRY_SECONDS = 5.0


class ListeningWakeChannel(WakeChannel):
    def __init__(self, home: Path, name: str, url: str) -> None:
        super().__init__(home, name)
        self._url = url
        self._conn: Any = None
        self._tried_at = float("-inf")

    def fds(self) -> list[int]:
        conn = self._listening()
        return super().fds() + ([conn.fileno()] if conn is not None else [])

    def drain(self, ready: list[int]) -> None:
        super().drain(ready)
        conn = self._conn
        if conn is not None and conn.fileno() in ready:
            try:
                for _ in conn.notifies(timeout=0):
                    pass
            except Exception as error:  # noqa: BLE001 - the driver's, any: listen again later
                log.info("stopped listening for new jobs (%s); polling", error)
                self._drop()

    def _listening(self) -> Any:
        """The listening connection, opened (again) when missing and not tried too recently."""
        if self._conn is None and time.monotonic() >= self._tried_at + RETRY_SECONDS:
            self._tried_at = time.monotonic()
            import psycopg
            from psycopg.conninfo import make_conninfo

            try:
                url = driver_url(self._url)[0].replace("postgresql+psycopg://", "postgresql://", 1)
                self._conn = psycopg.connect(make_conninfo(url, connect_timeout=driver_url(self._url)[1]),
                                             autocommit=True)
                self._conn.execute(f"LISTEN {CHANNEL}")
            except Exception as error:  # noqa: BLE001 - polling is the fallback
                log.info("cannot listen for new jobs (%s); polling", type(error).__name__)
                self._drop()
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass
        self._conn = None

    def close(self) -> None:
        self._drop()
        super().close()
