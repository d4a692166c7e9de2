"""A psycopg connection seen as the SQLite adapter's code sees a ``sqlite3`` connection.

The SQLite adapter's fixed SQL (``hot_path.py``, ``deletion.py``, ``jobs.py``,
``queues.py``, ``queries.py``, ``schedules.py``, ``settings_workers.py``) and its SQLAlchemy
Core aggregates of ``stats`` (compiled with ``?`` marks by ``core.py``) run here unchanged
but for the few spellings PostgreSQL does not share (``_SPELLINGS``), rewritten
once per statement text. Booleans are sent as 0/1 (``schema.py``), NUL characters
as U+FFFD (``_values``), and the
driver's data and integrity errors leave as ``sqlite3``'s, which the shared
repositories already turn into domain errors (``DuplicateJob``, ``OutcomeRejected``).
"""

from __future__ import annotations

import functools
import re
import sqlite3
from typing import Any, Iterable, Iterator, Sequence

import psycopg

# SQLite's spelling -> PostgreSQL's, for the statements the two stores share.
_SPELLINGS = (
    (" INDEXED BY ix_jobs_claim", ""),  # the planner picks the claim index by itself
    ("lease_token IS ?", "lease_token IS NOT DISTINCT FROM ?"),
    ("queue_pauses.paused)", "queue_pauses.paused <> 0)"),  # an integer is not a condition
    ("(SELECT 1 FROM (SELECT 1) WHERE 1!=1)", "(SELECT NULL WHERE false)"),  # Core's empty IN, typed as any
    # SQLite's one writer already serialises an enqueue with the outcome of its dependency; here the
    # enqueue locks the dependencies' rows, so an outcome's look for dependents sees the new job.
    (" /* lock: share */", " FOR SHARE"),
    # Claims run side by side (SKIP LOCKED); those that may take from a limited queue lock its limit's row
    # first, so each counts the running jobs after the one before it committed (``sqlite/queues.py``).
    (" /* lock: update */", " FOR UPDATE"),
)
_MARK = re.compile(r"\?|%")


@functools.lru_cache(maxsize=512)
def postgres_sql(sql: str) -> str:
    """SQLite's statement in PostgreSQL's spelling, with psycopg's ``%s`` marks."""
    for sqlite_text, postgres_text in _SPELLINGS:
        sql = sql.replace(sqlite_text, postgres_text)
    return _MARK.sub(lambda match: "%s" if match.group() == "?" else "%%", sql)


def _values(params: Sequence[Any]) -> list[Any]:
    """Booleans as 0/1; NUL characters (PostgreSQL's text refuses them: only a job's captured
    output can hold one, commands, ids and variables are refused at the door) as U+FFFD."""
    return [int(value) if isinstance(value, bool)
            else value.replace("\0", "\ufffd") if isinstance(value, str) and "\0" in value else value
            for value in params]


class Cursor:
    """What the shared code reads from a statement: rows and ``rowcount``."""

    def __init__(self, cursor: psycopg.Cursor, rowcount: int | None = None) -> None:
        self._cursor = cursor
        self.rowcount = cursor.rowcount if rowcount is None else rowcount

    def fetchone(self) -> tuple | None:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.fetchall())


def _guarded() -> frozenset[str]:
    """The statements whose constraint failure the shared code catches and carries on after (a held
    unique key): on SQLite a failed statement undoes only itself, on PostgreSQL it aborts the
    transaction unless it ran inside a savepoint."""
    from queuectl.adapters.sqlite import hot_path, jobs

    return frozenset({hot_path._INSERT, jobs._SWAP})


class Connection:
    """``execute`` and ``executemany`` with ``?`` marks, as on ``sqlite3``."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._run(sql, lambda cursor: cursor.execute(postgres_sql(sql), _values(params) if params else None))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Cursor:
        rows = [_values(params) for params in seq]
        if not rows:
            return Cursor(self.raw.cursor(), 0)
        return self._run(sql, lambda cursor: cursor.executemany(postgres_sql(sql), rows))

    def _run(self, sql: str, run: Any) -> Cursor:
        cursor = self.raw.cursor()
        guarded = sql in GUARDED
        with _as_sqlite_errors():
            if guarded:
                self.raw.execute("SAVEPOINT statement")
            try:
                run(cursor)
            except psycopg.Error:
                if guarded:
                    self.raw.execute("ROLLBACK TO SAVEPOINT statement")
                raise
            finally:
                if guarded:
                    self.raw.execute("RELEASE SAVEPOINT statement")
            return Cursor(cursor)


class _as_sqlite_errors:
    """psycopg's data and integrity errors as ``sqlite3``'s (the shared code catches those)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, _tb: Any) -> bool:
        if isinstance(error, psycopg.IntegrityError):
            raise sqlite3.IntegrityError(_line(error)) from None
        if isinstance(error, psycopg.DataError):
            raise sqlite3.DataError(_line(error)) from None
        return False


def _line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


GUARDED = _guarded()
