"""SqliteQueueControl: the paused queues, one row each in ``queue_pauses``; the limits in ``queue_limits``.

A pause is one ``BEGIN IMMEDIATE`` transaction and so is every claim
(``claim_filter`` runs in the claim's transaction): the two never interleave,
and every claim that commits after a pause committed honours it.

What it costs a claim: with nothing paused, one look at an empty table. With
queues paused by name, a worker serving every queue skips them by a lookup of
each job it walks past in the table's primary key (no list rebuilt per claim);
a worker that serves only paused queues, or any worker while every queue is
paused, does not look at a job at all.

Limits are read in the claim's transaction too (``claim_budget``): with none
set, the same one look (one more ``EXISTS`` in the same statement). With
some, the claim reads the limits of the queues it could take from, counts
their processing jobs (``ix_jobs_state_queue``, from the index alone) and
skips the full ones; on PostgreSQL it first locks those limits' rows
(``/* lock: update */``), so claims that could take from a limited queue count
and claim one after another while the others still skip each other's rows.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Callable, Collection, NamedTuple, Sequence

from queuectl.domain.limits import Budget, relevant, with_limit
from queuectl.domain.pausing import NOTHING_PAUSED, Paused
from queuectl.domain.ports import QueueControl

from .database import SqliteDatabase
from .tables import EVERY_QUEUE, PROCESSING_SQL

_READ = "SELECT queue, paused FROM queue_pauses"
_SUMMARY = (f"SELECT EXISTS (SELECT 1 FROM queue_pauses),"
            f" EXISTS (SELECT 1 FROM queue_pauses WHERE queue = '{EVERY_QUEUE}'),"
            " EXISTS (SELECT 1 FROM queue_limits)")
_NOT_PAUSED = (" AND NOT EXISTS (SELECT 1 FROM queue_pauses"
               " WHERE queue_pauses.queue = jobs.queue AND queue_pauses.paused)")
_CLEAR = "DELETE FROM queue_pauses"
_INSERT = "INSERT INTO queue_pauses (queue, paused) VALUES (?, ?)"
# PostgreSQL locks the rows (``connection.py``): claims that may take from these queues count one at a time.
_LIMITS = "SELECT queue, max_running FROM queue_limits{where} ORDER BY queue /* lock: update */"
_READ_LIMITS = "SELECT queue, max_running FROM queue_limits"
_RUNNING = f"SELECT queue, count(*) FROM jobs WHERE {PROCESSING_SQL} AND queue IN ({{marks}}) GROUP BY queue"
_SET_LIMIT = ("INSERT INTO queue_limits (queue, max_running) VALUES (?, ?)"
              " ON CONFLICT (queue) DO UPDATE SET max_running = excluded.max_running")
_REMOVE_LIMIT = "DELETE FROM queue_limits WHERE queue = ?"


class ClaimFilter(NamedTuple):
    """The claim query's queue terms and their values; ``limited``: some queue has a limit."""

    terms: str
    names: tuple[str, ...]
    limited: bool = False


def claim_filter(conn: sqlite3.Connection, queues: Sequence[str] | None) -> ClaimFilter | None:
    """The claim query's queue terms and their values, in the claim's transaction; None: nothing claimable."""
    anything, every, limited = conn.execute(_SUMMARY).fetchone()
    if not anything:
        scope = NOTHING_PAUSED.claim_scope(queues)
    elif not every and not queues:  # only queues paused by name (no resumed rows): skip their jobs
        return ClaimFilter(_NOT_PAUSED, (), bool(limited))
    else:
        scope = _read(conn, queues).claim_scope(queues)
    if scope.nothing:
        return None
    terms = f" AND queue IN ({', '.join('?' * len(scope.only))})" if scope.only is not None else ""
    return ClaimFilter(terms + skip_terms(scope.skip), (*(scope.only or ()), *scope.skip), bool(limited))


def skip_terms(queues: Sequence[str]) -> str:
    return f" AND queue NOT IN ({', '.join('?' * len(queues))})" if queues else ""


def claim_budget(conn: sqlite3.Connection, queues: Sequence[str] | None, wanted: int) -> Budget | None:
    """What a claim of ``wanted`` jobs may take of the limited queues it could take from (their rows locked
    on PostgreSQL, their processing jobs counted after); None when none of them has a limit."""
    where = f" WHERE queue IN ({', '.join('?' * len(queues))})" if queues else ""
    limits = dict(conn.execute(_LIMITS.format(where=where), tuple(queues or ())).fetchall())
    limited = relevant(limits, queues)
    if not limited:
        return None
    running = dict(conn.execute(_RUNNING.format(marks=", ".join("?" * len(limited))), limited).fetchall())
    return Budget({queue: limits[queue] for queue in limited}, running, wanted)


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


def _limits(conn: sqlite3.Connection) -> dict[str, int]:
    return {queue: int(limit) for queue, limit in conn.execute(_READ_LIMITS)}


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
            return _read(conn)

    def set_limit(self, queue: str, limit: int) -> None:
        with self._db.write() as conn:
            changed = with_limit(_limits(conn), queue, limit)  # validated (and bounded) before any write
            if queue in changed:
                conn.execute(_SET_LIMIT, (queue, changed[queue]))
            else:
                conn.execute(_REMOVE_LIMIT, (queue,))

    def limits(self) -> dict[str, int]:
        with self._db.read() as conn:
            return _limits(conn)

    def _change(self, move: Callable[[Paused], Paused]) -> Paused:
        """Read, let the domain decide (it may refuse: nothing is written), write: one transaction."""
        with self._db.write() as conn:
            paused = move(_read(conn))
            _write(conn, paused)
        return paused
