"""MongoSettingsRepository and MongoWorkerRegistry: one small document per key / worker."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from pymongo import ReturnDocument

from queuectl.domain.errors import InvalidSetting
from queuectl.domain.ports import SettingsRepository, WorkerInfo, WorkerRegistry
from queuectl.domain.settings import normalise_key

from .database import MongoDatabase, translate_errors
from .documents import worker_document, worker_from_document


@translate_errors
class MongoSettingsRepository(SettingsRepository):
    """``settings {_id: key, value: v}``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    def load(self) -> dict[str, object]:
        return {_normal(doc["_id"]): doc.get("value") for doc in self._db.collection("settings").find()}

    def save(self, key: str, value: object) -> None:
        self._db.collection("settings").update_one({"_id": key}, {"$set": {"value": value}}, upsert=True)


def _normal(key: str) -> str:
    try:
        return normalise_key(key)
    except InvalidSetting:
        return key  # an unknown key is kept as stored; Settings ignores it


@translate_errors
class MongoWorkerRegistry(WorkerRegistry):
    """``workers {_id: worker id, host, pid, ..., last_heartbeat, stop_requested}``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    def register(self, info: WorkerInfo) -> None:
        self._db.collection("workers").replace_one({"_id": info.id}, worker_document(info), upsert=True)

    def heartbeat(self, worker_id: str, now: datetime, current_job: str | None) -> bool:
        doc = self._db.collection("workers").find_one_and_update(
            {"_id": worker_id}, {"$set": {"last_heartbeat": now, "current_job": current_job}},
            projection={"stop_requested": 1}, return_document=ReturnDocument.AFTER)
        return doc is not None and not doc.get("stop_requested", False)

    def workers(self) -> list[WorkerInfo]:
        cursor = self._db.collection("workers").find().sort([("started_at", 1), ("_id", 1)])
        return [worker_from_document(doc) for doc in cursor]

    def request_stop(self, worker_ids: Iterable[str]) -> None:
        ids = list(worker_ids)
        if ids:
            self._db.collection("workers").update_many({"_id": {"$in": ids}},
                                                       {"$set": {"stop_requested": True}})

    def deregister(self, worker_id: str) -> None:
        self._db.collection("workers").delete_one({"_id": worker_id})
