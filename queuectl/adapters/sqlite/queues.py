"""SqliteQueueControl: the paused queues, one row each in ``queue_pauses``.

A pause is one ``BEGIN IMMEDIATE`` transaction and so is every claim
(``hot_path.claim`` reads the rows in its own transaction): the two never
interleave, and every claim that commits after a pause committed honours it.
"""

from __future__ import annotations

import sqlite3
from typing import Callable, Collection

from queuectl.domain.pausing import NOTHING_PAUSED, Paused
from queuectl.domain.ports import QueueControl

from .database import SqliteDatabase
from .tables import EVERY_QUEUE

_READ = "SELECT queue, paused FROM queue_pauses"
_CLEAR = "DELETE FROM queue_pauses"
_INSERT = "INSERT INTO queue_pauses (queue, paused) VALUES (?, ?)"


def read_paused(conn: sqlite3.Connection) -> Paused:
    """What is paused, read in the caller's transaction (a claim's, on the hot path)."""
    rows = conn.execute(_READ).fetchall()
    if not rows:
        return NOTHING_PAUSED
    marks = {queue: bool(paused) for queue, paused in rows}
    if marks.pop(EVERY_QUEUE, False):
        return Paused(all=True, resumed=frozenset(queue for queue, paused in marks.items() if not paused))
    return Paused(queues=frozenset(queue for queue, paused in marks.items() if paused))


def _write(conn: sqlite3.Connection, paused: Paused) -> None:
    conn.execute(_CLEAR)
    rows = [(EVERY_QUEUE, 1)] if paused.all else []
    rows += [(queue, 1) for queue in sorted(paused.queues)] + [(queue, 0) for queue in sorted(paused.resumed)]
    conn.executemany(_INSERT, rows)


class SqliteQueueControl(QueueControl):
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def pause(self, queues: Collection[str] | None) -> Paused:
        return self._change(lambda paused: paused.pause(queues))

    def resume(self, queues: Collection[str] | None) -> Paused:
        return self._change(lambda paused: paused.resume(queues))

    def paused(self) -> Paused:
        with self._db.read() as conn:
            return read_paused(conn)

    def _change(self, move: Callable[[Paused], Paused]) -> Paused:
        """Read, let the domain decide (it may refuse: nothing is written), write: one transaction."""
        with self._db.write() as conn:
            paused = move(read_paused(conn))
            _write(conn, paused)
        return paused
