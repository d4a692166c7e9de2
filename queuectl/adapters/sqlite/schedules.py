"""SqliteScheduleRepository: one row per schedule in ``schedules``; every call one transaction.

``take`` is one conditional ``UPDATE`` (still due, running, lease free), so two
workers never both hold a schedule; ``advance`` is conditional on the token.
``due`` reads the partial index ``ix_schedules_due`` (running schedules by
``next_run``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime
from typing import Any

from queuectl.domain.errors import DuplicateSchedule, ScheduleNotFound
from queuectl.domain.ports import ScheduleRepository
from queuectl.domain.schedules import Schedule
from queuectl.domain.timeutil import from_epoch, to_epoch

from .database import SqliteDatabase
from .tables import SCHEDULE_COLUMNS, SCHEDULES_DUE_SQL

log = logging.getLogger(__name__)

_COLUMNS = ", ".join(SCHEDULE_COLUMNS)
_INSERT = f"INSERT INTO schedules ({_COLUMNS}) VALUES ({', '.join('?' * len(SCHEDULE_COLUMNS))})"
_SELECT = f"SELECT {_COLUMNS} FROM schedules"
_FREE = "(lease_until IS NULL OR lease_until <= ?)"
_DUE = f"{_SELECT} WHERE {SCHEDULES_DUE_SQL} AND next_run <= ? AND {_FREE} ORDER BY next_run, name LIMIT ?"
_TAKE = (f"UPDATE schedules SET lease_until = ?, lease_token = ?"
         f" WHERE name = ? AND {SCHEDULES_DUE_SQL} AND next_run <= ? AND {_FREE}")
_ADVANCE = ("UPDATE schedules SET last_run = ?, next_run = ?, lease_until = NULL, lease_token = NULL"
            " WHERE name = ? AND lease_token = ?")


def _row(schedule: Schedule) -> tuple[Any, ...]:
    return (schedule.name, schedule.cron, schedule.tz, json.dumps(dict(schedule.job)), int(schedule.paused),
            to_epoch(schedule.next_run), to_epoch(schedule.created_at), to_epoch(schedule.last_run),
            to_epoch(schedule.lease_until), schedule.lease_token)


def _schedule(row: tuple[Any, ...]) -> Schedule:
    name, cron, tz, job, paused, next_run, created_at, last_run, lease_until, token = row
    return Schedule(name=name, cron=cron, tz=tz, job=json.loads(job), paused=bool(paused),
                    next_run=from_epoch(next_run), created_at=from_epoch(created_at), last_run=from_epoch(last_run),
                    lease_until=from_epoch(lease_until), lease_token=token)


def _decoded(row: tuple[Any, ...]) -> Schedule | None:
    """A due row as a schedule; None (logged) for a row edited into something unreadable."""
    try:
        return _schedule(row)
    except (TypeError, ValueError, OverflowError) as error:
        log.error("schedule %r: malformed row in the store (%s); skipped", row[0], error)
        return None


def _get(conn: sqlite3.Connection, name: str) -> Schedule:
    row = conn.execute(f"{_SELECT} WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise ScheduleNotFound(name)
    return _schedule(row)


class SqliteScheduleRepository(ScheduleRepository):
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def add(self, schedule: Schedule) -> None:
        with self._db.write() as conn:
            try:
                conn.execute(_INSERT, _row(schedule))
            except sqlite3.IntegrityError:
                raise DuplicateSchedule(schedule.name) from None

    def get(self, name: str) -> Schedule:
        with self._db.read() as conn:
            return _get(conn, name)

    def list(self) -> list[Schedule]:
        with self._db.read() as conn:
            return [_schedule(row) for row in conn.execute(f"{_SELECT} ORDER BY name")]

    def remove(self, name: str) -> Schedule:
        with self._db.write() as conn:
            schedule = _get(conn, name)
            conn.execute("DELETE FROM schedules WHERE name = ?", (name,))
        return schedule

    def set_paused(self, name: str, paused: bool, next_run: datetime | None = None) -> Schedule:
        with self._db.write() as conn:
            _get(conn, name)
            conn.execute("UPDATE schedules SET paused = ?, next_run = COALESCE(?, next_run) WHERE name = ?",
                         (int(paused), to_epoch(next_run), name))
            return _get(conn, name)

    def due(self, now: datetime, limit: int) -> list[Schedule]:
        at = to_epoch(now)
        with self._db.read() as conn:
            rows = conn.execute(_DUE, (at, at, limit)).fetchall()
        return [schedule for schedule in map(_decoded, rows) if schedule is not None]

    def take(self, name: str, now: datetime, until: datetime, token: str) -> Schedule | None:
        at = to_epoch(now)
        with self._db.write() as conn:
            if conn.execute(_TAKE, (to_epoch(until), token, name, at, at)).rowcount != 1:
                return None
            return _get(conn, name)

    def advance(self, name: str, token: str, last_run: datetime, next_run: datetime) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(_ADVANCE, (to_epoch(last_run), to_epoch(next_run), name, token))
            return cursor.rowcount == 1
