"""MongoScheduleRepository: one document per schedule in ``schedules``, ``_id`` = its name.

``take`` is one conditional ``update_one`` (still due, running, lease free), so
two workers on any hosts never both hold a schedule; ``advance`` is one update
filtered on the lease token. ``due`` reads the index ``due`` (paused,
next_run). Times are BSON datetimes, floored to the millisecond.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any, Mapping

from pymongo import ASCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from queuectl.domain.errors import DuplicateSchedule, ScheduleNotFound
from queuectl.domain.ports import ScheduleRepository
from queuectl.domain.schedules import UTC, Schedule

from .database import MongoDatabase, translate_errors
from .documents import ms

log = logging.getLogger(__name__)

_INDEXES = [IndexModel([("paused", ASCENDING), ("next_run", ASCENDING)], name="due")]


def _document(schedule: Schedule) -> dict[str, Any]:
    return {"_id": schedule.name, "cron": schedule.cron, "tz": schedule.tz, "job": dict(schedule.job),
            "paused": schedule.paused, "next_run": ms(schedule.next_run), "created_at": ms(schedule.created_at),
            "last_run": schedule.last_run, "lease_until": schedule.lease_until, "lease_token": schedule.lease_token}


def _schedule(doc: Mapping[str, Any]) -> Schedule:
    """Fields a later version adds read back with defaults when absent."""
    return Schedule(name=doc["_id"], cron=doc["cron"], tz=doc.get("tz") or UTC, job=dict(doc.get("job") or {}),
                    paused=bool(doc.get("paused")), next_run=doc["next_run"], created_at=doc["created_at"],
                    last_run=doc.get("last_run"), lease_until=doc.get("lease_until"),
                    lease_token=doc.get("lease_token"))


def _decoded(doc: Mapping[str, Any]) -> Schedule | None:
    """A due document as a schedule; None (logged) for one edited into something unreadable."""
    try:
        return _schedule(doc)
    except (KeyError, TypeError, ValueError) as error:
        log.error("schedule %r: malformed document in the store (%r); skipped", doc.get("_id"), error)
        return None


def _due(now: datetime) -> dict[str, Any]:
    return {"paused": False, "next_run": {"$lte": now},
            "$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}]}


@translate_errors
class MongoScheduleRepository(ScheduleRepository):
    def __init__(self, db: MongoDatabase) -> None:
        self._db = db
        self._indexed = False
        self._lock = threading.Lock()

    def _schedules(self) -> Collection:
        collection = self._db.collection("schedules")
        if not self._indexed:
            with self._lock:
                collection.create_indexes(_INDEXES)
                self._indexed = True
        return collection

    def add(self, schedule: Schedule) -> None:
        try:
            self._schedules().insert_one(_document(schedule))
        except DuplicateKeyError:
            raise DuplicateSchedule(schedule.name) from None

    def get(self, name: str) -> Schedule:
        doc = self._schedules().find_one({"_id": name})
        if doc is None:
            raise ScheduleNotFound(name)
        return _schedule(doc)

    def list(self) -> list[Schedule]:
        return [_schedule(doc) for doc in self._schedules().find({}).sort("_id", ASCENDING)]

    def remove(self, name: str) -> Schedule:
        doc = self._schedules().find_one_and_delete({"_id": name})
        if doc is None:
            raise ScheduleNotFound(name)
        return _schedule(doc)

    def set_paused(self, name: str, paused: bool, next_run: datetime | None = None) -> Schedule:
        change: dict[str, Any] = {"paused": paused}
        if next_run is not None:
            change["next_run"] = ms(next_run)
        if self._schedules().update_one({"_id": name}, {"$set": change}).matched_count != 1:
            raise ScheduleNotFound(name)
        return self.get(name)

    def due(self, now: datetime, limit: int) -> list[Schedule]:
        found = self._schedules().find(_due(now)).sort([("next_run", ASCENDING), ("_id", ASCENDING)]).limit(limit)
        return [schedule for schedule in map(_decoded, found) if schedule is not None]

    def take(self, name: str, now: datetime, until: datetime, token: str) -> Schedule | None:
        schedules = self._schedules()
        change = {"$set": {"lease_until": ms(until), "lease_token": token}}
        if schedules.update_one({"_id": name, **_due(now)}, change).modified_count != 1:
            return None
        doc = schedules.find_one({"_id": name, "lease_token": token})  # not findAndModify's image: see jobs.py
        return None if doc is None else _schedule(doc)

    def advance(self, name: str, token: str, last_run: datetime, next_run: datetime) -> bool:
        change = {"$set": {"last_run": ms(last_run), "next_run": ms(next_run), "lease_until": None,
                           "lease_token": None}}
        return self._schedules().update_one({"_id": name, "lease_token": token}, change).modified_count == 1
