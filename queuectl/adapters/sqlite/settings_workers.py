"""SqliteSettingsRepository and SqliteWorkerRegistry."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy import bindparam as param
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from queuectl.domain.errors import InvalidSetting
from queuectl.domain.ports import SettingsRepository, WorkerInfo, WorkerRegistry
from queuectl.domain.settings import normalise_key
from queuectl.domain.timeutil import from_epoch, to_epoch

from . import schema
from .database import SqliteDatabase

S, W = schema.settings, schema.workers


class SqliteSettingsRepository(SettingsRepository):
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def load(self) -> dict[str, object]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(S.c.key, S.c.value).order_by(S.c.key)).all()
        return {_normal(key): _decode(value) for key, value in rows}

    def save(self, key: str, value: object) -> None:
        upsert = sqlite_insert(S).values(key=key, value=json.dumps(value))
        upsert = upsert.on_conflict_do_update(index_elements=[S.c.key], set_={"value": upsert.excluded.value})
        with self._db.write() as conn:
            conn.execute(upsert)


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


_HEARTBEAT = (sa.update(W).where(W.c.id == param("b_id"))
              .values(last_heartbeat=param("last_heartbeat"), current_job=param("current_job")))
_STOP_REQUESTED = sa.select(W.c.stop_requested).where(W.c.id == param("b_id"))


class SqliteWorkerRegistry(WorkerRegistry):
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def register(self, info: WorkerInfo) -> None:
        values = {
            "id": info.id, "host": info.host, "pid": info.pid, "pid_started_at": info.pid_started_at,
            "queues": json.dumps(list(info.queues)), "started_at": to_epoch(info.started_at),
            "last_heartbeat": to_epoch(info.last_heartbeat), "current_job": info.current_job,
            "stop_requested": info.stop_requested,
        }
        upsert = sqlite_insert(W).values(values)
        upsert = upsert.on_conflict_do_update(index_elements=[W.c.id], set_={
            name: getattr(upsert.excluded, name) for name in values if name != "id"})
        with self._db.write() as conn:
            conn.execute(upsert)

    def heartbeat(self, worker_id: str, now: datetime, current_job: str | None) -> bool:
        # Two statements rather than UPDATE ... RETURNING, which needs SQLite 3.35.
        with self._db.write() as conn:
            conn.execute(_HEARTBEAT, {"b_id": worker_id, "last_heartbeat": to_epoch(now),
                                      "current_job": current_job})
            stop = conn.execute(_STOP_REQUESTED, {"b_id": worker_id}).scalar()
        return stop is not None and not stop

    def workers(self) -> list[WorkerInfo]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(W).order_by(W.c.started_at, W.c.id)).all()
        return [_worker_from_row(row) for row in rows]

    def request_stop(self, worker_ids: Iterable[str]) -> None:
        ids = list(worker_ids)
        if not ids:
            return
        with self._db.write() as conn:
            conn.execute(sa.update(W).where(W.c.id.in_(ids)).values(stop_requested=True))

    def deregister(self, worker_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(sa.delete(W).where(W.c.id == worker_id))


def _worker_from_row(row: Any) -> WorkerInfo:
    return WorkerInfo(
        id=row.id, host=row.host, pid=row.pid, pid_started_at=row.pid_started_at,
        queues=tuple(json.loads(row.queues)), started_at=from_epoch(row.started_at),
        last_heartbeat=from_epoch(row.last_heartbeat), current_job=row.current_job,
        stop_requested=bool(row.stop_requested))
