"""SqliteSettingsRepository and SqliteWorkerRegistry.

Fixed SQL on the driver's connection: every worker and ``enqueue`` reads the
settings and keeps its own row; the operators' list of workers is fixed SQL
as well (``queries.py``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable

from queuectl.domain.errors import InvalidSetting
from queuectl.domain.ports import SettingsRepository, WorkerInfo, WorkerRegistry
from queuectl.domain.settings import normalise_key
from queuectl.domain.timeutil import from_epoch, to_epoch

from .queries import WORKERS_IN_START_ORDER
from .tables import WORKER_COLUMNS
from .database import SqliteDatabase

_SETTINGS = "SELECT key, value FROM settings ORDER BY key"
_SAVE_SETTING = "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
_REGISTER = (f"INSERT INTO workers ({', '.join(WORKER_COLUMNS)}) VALUES ({', '.join('?' * len(WORKER_COLUMNS))})"
             f" ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in WORKER_COLUMNS[1:])}")
_HEARTBEAT = "UPDATE workers SET last_heartbeat = ?, current_job = ? WHERE id = ?"
_STOP_REQUESTED = "SELECT stop_requested FROM workers WHERE id = ?"
_DEREGISTER = "DELETE FROM workers WHERE id = ?"
_REQUEST_STOP = "UPDATE workers SET stop_requested = 1 WHERE id = ?"


class SqliteSettingsRepository(SettingsRepository):
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def load(self) -> dict[str, object]:
        with self._db.read() as conn:
            rows = conn.execute(_SETTINGS).fetchall()
        return {_normal(key): _decode(value) for key, value in rows}

    def save(self, key: str, value: object) -> None:
        with self._db.write() as conn:
            conn.execute(_SAVE_SETTING, (key, json.dumps(value)))


def _normal(key: str) -> str:
    try:
        return normalise_key(key)
    except InvalidSetting:
        return key  # an unknown key is kept as stored; Settings ignores it


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # edited by hand: the settings parser judges the raw text


class SqliteWorkerRegistry(WorkerRegistry):
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def register(self, info: WorkerInfo) -> None:
        values = (info.id, info.host, info.pid, info.pid_started_at, json.dumps(list(info.queues)),
                  to_epoch(info.started_at), to_epoch(info.last_heartbeat), info.current_job,
                  info.stop_requested, info.slots)
        with self._db.write() as conn:
            conn.execute(_REGISTER, values)

    def heartbeat(self, worker_id: str, now: datetime, current_job: str | None) -> bool:
        # Two statements rather than UPDATE ... RETURNING, which needs SQLite 3.35.
        self._db.check_file()
        with self._db.write() as conn:
            conn.execute(_HEARTBEAT, (to_epoch(now), current_job, worker_id))
            row = conn.execute(_STOP_REQUESTED, (worker_id,)).fetchone()
        return row is not None and not row[0]

    def workers(self) -> list[WorkerInfo]:
        with self._db.read() as conn:
            found = conn.execute(WORKERS_IN_START_ORDER).fetchall()
        return [_worker_from_row(row) for row in found]

    def request_stop(self, worker_ids: Iterable[str]) -> None:
        ids = [(worker_id,) for worker_id in worker_ids]
        if ids:
            with self._db.write() as conn:
                conn.executemany(_REQUEST_STOP, ids)

    def deregister(self, worker_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(_DEREGISTER, (worker_id,))


def _worker_from_row(row: tuple) -> WorkerInfo:
    """A worker from a whole ``workers`` row, in ``WORKER_COLUMNS`` order."""
    id_, host, pid, pid_started_at, queues, started_at, last_heartbeat, current_job, stop_requested, slots = row
    return WorkerInfo(
        id=id_, host=host, pid=pid, pid_started_at=pid_started_at, queues=tuple(json.loads(queues)),
        started_at=from_epoch(started_at), last_heartbeat=from_epoch(last_heartbeat), current_job=current_job,
        stop_requested=bool(stop_requested), slots=slots)
