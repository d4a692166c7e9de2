"""SqliteQueueControl: the paused queues, one row each in ``queue_pauses``.

A pause is one ``BEGIN IMMEDIATE`` transaction and so is every claim
(``claim_filter`` runs in the claim's transaction): the two never interleave,
and every claim that commits after a pause committed honours it.

What it costs a claim: with nothing paused, one look at an empty table. With
queues paused by name, a worker serving every queue skips them by a lookup of
each job it walks past in the table's primary key (no list rebuilt per claim);
a worker that serves only paused queues, or any worker while every queue is
paused, does not look at a job at all.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Callable, Collection, Sequence

from queuectl.domain.pausing import NOTHING_PAUSED, Paused
from queuectl.domain.ports import QueueControl

from .database import SqliteDatabase
from .tables import EVERY_QUEUE

_READ = "SELECT queue, paused FROM queue_pauses"
_SUMMARY = (f"SELECT EXISTS (SELECT 1 FROM queue_pauses),"
            f" EXISTS (SELECT 1 FROM queue_pauses WHERE queue = '{EVERY_QUEUE}')")
_NOT_PAUSED = (" AND NOT EXISTS (SELECT 1 FROM queue_pauses"
               " WHERE queue_pauses.queue = jobs.queue AND queue_pauses.paused)")
_CLEAR = "DELETE FROM queue_pauses"
_INSERT = "INSERT INTO queue_pauses (queue, paused) VALUES (?, ?)"


def claim_filter(conn: sqlite3.Connection, queues: Sequence[str] | None) -> tuple[str, tuple[str, ...]] | None:
    """The claim query's queue terms and their values, in the claim's transaction; None: nothing claimable."""
    anything, every = conn.execute(_SUMMARY).fetchone()
    if not anything:
        scope = NOTHING_PAUSED.claim_scope(queues)
    elif not every and not queues:  # only queues paused by name (no resumed rows): skip their jobs
        return _NOT_PAUSED, ()
    else:
        scope = _read(conn, queues).claim_scope(queues)
    if scope.nothing:
        return None
    terms = f" AND queue IN ({', '.join('?' * len(scope.only))})" if scope.only is not None else ""
    terms += f" AND queue NOT IN ({', '.join('?' * len(scope.skip))})" if scope.skip else ""
    return terms, (*(scope.only or ()), *scope.skip)


def _read(conn: sqlite3.Connection, queues: Sequence[str] | None = None) -> Paused:
    """What is paused (as far as ``queues`` and every queue go, when given)."""
    if queues:
        marks = ", ".join("?" * (len(queues) + 1))
        rows = conn.execute(f"{_READ} WHERE queue IN ({marks})", (EVERY_QUEUE, *queues)).fetchall()
    else:
        rows = conn.execute(_READ).fetchall()
    return _paused(tuple(rows))


@functools.lru_cache(maxsize=64)
def _paused(rows: tuple[tuple[str, int], ...]) -> Paused:
    """The rows as the domain's value; remembered, as claims read the same rows again and again."""
    marks_by_queue = {queue: bool(paused) for queue, paused in rows}
    if marks_by_queue.pop(EVERY_QUEUE, False):
        return Paused(all=True, resumed=frozenset(q for q, paused in marks_by_queue.items() if not paused))
    return Paused(queues=frozenset(q for q, paused in marks_by_queue.items() if paused))


def _write(conn: sqlite3.Connection, paused: Paused) -> None:
    conn.execute(_CLEAR)
    rows = [(EVERY_QUEUE, 1)] if paused.all else []
    rows += [(queue, 1) for queue in sorted(paused.queues)] + [(queue, 0) for queue in sorted(paused.resumed)]
    conn.executemany(_INSERT, rows)


class _NoLimitsHere:
    """A placeholder on the ``mongolimits`` branch: the ``limits`` branch gives ``SqliteQueueControl`` its
    own ``set_limit``/``limits`` (which take precedence over these); drop this class at the merge."""

    def set_limit(self, queue: str, limit: int) -> None:
        raise NotImplementedError("queue limits on SQLite and PostgreSQL come with the limits branch")

    def limits(self) -> dict[str, int]:
        return {}


class SqliteQueueControl(_NoLimitsHere, QueueControl):
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def pause(self, queues: Collection[str] | None) -> Paused:
        return self._change(lambda paused: paused.pause(queues))

    def resume(self, queues: Collection[str] | None) -> Paused:
        return self._change(lambda paused: paused.resume(queues))

    def paused(self) -> Paused:
        with self._db.read() as conn:
            return _read(conn)

    def _change(self, move: Callable[[Paused], Paused]) -> Paused:
        """Read, let the domain decide (it may refuse: nothing is written), write: one transaction."""
        with self._db.write() as conn:
            paused = move(_read(conn))
            _write(conn, paused)
        return paused
