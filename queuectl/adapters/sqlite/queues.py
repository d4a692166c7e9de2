"""SqliteQueueControl: the paused queues, one row of ``queue_control`` (``Paused.as_dict`` as JSON).

A pause is one ``BEGIN IMMEDIATE`` transaction and so is every claim
(``hot_path.claim`` reads the row in its own transaction): the two never
interleave, and every claim that commits after a pause committed honours it.
A claim reads one short row; the text is parsed once per change (``_parsed``),
not once per claim.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from typing import Callable, Collection

from queuectl.domain.pausing import NOTHING_PAUSED, Paused
from queuectl.domain.ports import QueueControl

from .database import SqliteDatabase

_READ = "SELECT paused FROM queue_control WHERE id = 1"
_WRITE = "INSERT OR REPLACE INTO queue_control (id, paused) VALUES (1, ?)"
_CLEAR = "DELETE FROM queue_control"


def read_paused(conn: sqlite3.Connection) -> Paused:
    """What is paused, read in the caller's transaction (a claim's, on the hot path)."""
    row = conn.execute(_READ).fetchone()
    return NOTHING_PAUSED if row is None else _parsed(row[0])


@functools.lru_cache(maxsize=16)
def _parsed(text: str) -> Paused:
    return Paused.from_dict(json.loads(text))


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
            if paused.anything:
                conn.execute(_WRITE, (json.dumps(paused.as_dict()),))
            else:  # nothing paused: no row, the claims' fastest case
                conn.execute(_CLEAR)
        return paused
