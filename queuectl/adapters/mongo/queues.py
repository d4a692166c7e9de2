"""MongoQueueControl: the paused and the limited queues, one document ``queue_control {_id: "paused"}``.

``{all: bool, queues: [names paused], resumed: [names running while all are paused],
limits: [{queue, limit, epoch}], version: n}``: a ``pause``, ``resume`` or
``set_limit`` reads it, lets the domain decide, and writes it back whole only if
``version`` is unchanged (a compare-and-set; the first write inserts it), so
each keeps what the others wrote. Every claim reads it first (``read_control``):
one read of one small document tells it both what is paused and what is
limited. It leaves the paused queues out of its filter, so a pause is honoured
by every claim that starts after the pause returned; a claim already past its
read when the pause is written may still take one job (it started before the
pause returned). How a claim keeps to the limits: ``limits.py``.

A limit's ``epoch`` is a fresh random name whenever the limit of its queue
changes (set, raised, lowered; kept when it is set to what it is): the claims
under one limit take slots named after its epoch (``limits.py``).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Mapping

from pymongo.collection import Collection as MongoCollection
from pymongo.errors import DuplicateKeyError

from queuectl.domain.errors import PauseConflict
from queuectl.domain.limits import with_limit
from queuectl.domain.pausing import NOTHING_PAUSED, Paused
from queuectl.domain.ports import QueueControl

from .database import MongoDatabase, translate_errors

_ID = "paused"
_TRIES = 20
_SPREAD_SECONDS = 0.005  # the n-th retry waits up to n times this


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` jobs of the queue run at once; ``epoch`` names this limit's slots."""

    limit: int
    epoch: str


@dataclass(frozen=True)
class Control:
    """What the ``queue_control`` document holds: the paused queues and the limits by queue."""

    paused: Paused = NOTHING_PAUSED
    limits: Mapping[str, Limit] = field(default_factory=dict)

    def limits_document(self) -> list[dict[str, Any]]:
        return [{"queue": queue, "limit": limit.limit, "epoch": limit.epoch}
                for queue, limit in sorted(self.limits.items())]


def read_control(db: MongoDatabase) -> Control:
    """What is paused and limited now: one read of one small document (on the claim's path)."""
    return _control(_collection(db).find_one({"_id": _ID}))


def read_paused(db: MongoDatabase) -> Paused:
    return read_control(db).paused


def _collection(db: MongoDatabase) -> MongoCollection:
    return db.collection("queue_control")


def _control(doc: Mapping[str, Any] | None) -> Control:
    if not doc:
        return Control()
    limits = {entry["queue"]: Limit(int(entry["limit"]), str(entry["epoch"])) for entry in doc.get("limits") or ()}
    return Control(Paused.from_dict(doc), limits)


def _document(control: Control) -> dict[str, Any]:
    return {**control.paused.as_dict(), "limits": control.limits_document()}


@translate_errors
class MongoQueueControl(QueueControl):
    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    def pause(self, queues: Collection[str] | None) -> Paused:
        return self._change(lambda control: Control(control.paused.pause(queues), control.limits)).paused

    def resume(self, queues: Collection[str] | None) -> Paused:
        return self._change(lambda control: Control(control.paused.resume(queues), control.limits)).paused

    def paused(self) -> Paused:
        return read_paused(self._db)

    def set_limit(self, queue: str, limit: int) -> None:
        with_limit({}, queue, limit)  # the values validated before the store is asked anything

        def move(control: Control) -> Control:
            numbers = with_limit({name: kept.limit for name, kept in control.limits.items()}, queue, limit)
            limits = {name: (control.limits[name] if name in control.limits and control.limits[name].limit == number
                             else Limit(number, uuid.uuid4().hex[:12]))
                      for name, number in numbers.items()}
            return Control(control.paused, limits)

        self._change(move)

    def limits(self) -> dict[str, int]:
        return {queue: limit.limit for queue, limit in read_control(self._db).limits.items()}

    def _change(self, move: Callable[[Control], Control]) -> Control:
        collection = _collection(self._db)
        for attempt in range(_TRIES):
            if attempt:  # another change won: let the racers spread out
                time.sleep(random.uniform(0, _SPREAD_SECONDS * attempt))
            doc = collection.find_one({"_id": _ID})
            control = move(_control(doc))  # the domain may refuse: nothing is written
            version = int(doc.get("version", 0)) if doc else 0
            new = {**_document(control), "version": version + 1}
            if doc is None:
                try:  # an upsert is avoided: concurrent upserts of one _id are not safe on every server
                    collection.insert_one({"_id": _ID, **new})
                    return control
                except DuplicateKeyError:
                    continue
            if collection.replace_one({"_id": _ID, "version": version}, new).matched_count == 1:
                return control
        raise PauseConflict()
