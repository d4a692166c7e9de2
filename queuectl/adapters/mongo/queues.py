"""MongoQueueControl: the paused queues, one document ``queue_control {_id: "paused"}``.

``{all: bool, queues: [names paused], resumed: [names running while all are paused],
version: n}``: a ``pause`` or ``resume`` reads it, lets the domain decide, and
writes it back only if ``version`` is unchanged (a compare-and-set; the first
write inserts it). Every claim reads it first (``read_paused``) and leaves the
paused queues out of its filter, so a pause is honoured by every claim that
starts after the pause returned; a claim already past its read when the pause
is written may still take one job (it started before the pause returned).
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable, Collection, Mapping

from pymongo.collection import Collection as MongoCollection
from pymongo.errors import DuplicateKeyError

from queuectl.domain.errors import PauseConflict
from queuectl.domain.pausing import Paused
from queuectl.domain.ports import QueueControl

from .database import MongoDatabase, translate_errors

_ID = "paused"
_TRIES = 20
_SPREAD_SECONDS = 0.005  # the n-th retry waits up to n times this


def read_paused(db: MongoDatabase) -> Paused:
    """What is paused now: one read of one small document (on the claim's path)."""
    return _paused(_collection(db).find_one({"_id": _ID}))


def _collection(db: MongoDatabase) -> MongoCollection:
    return db.collection("queue_control")


def _paused(doc: Mapping[str, Any] | None) -> Paused:
    return Paused.from_dict(doc)


@translate_errors
class MongoQueueControl(QueueControl):
    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    def pause(self, queues: Collection[str] | None) -> Paused:
        return self._change(lambda paused: paused.pause(queues))

    def resume(self, queues: Collection[str] | None) -> Paused:
        return self._change(lambda paused: paused.resume(queues))

    def paused(self) -> Paused:
        return read_paused(self._db)

    # Placeholders until the MongoDB limits land (their own branch): no limit is ever stored here.
    def set_limit(self, queue: str, limit: int) -> None:
        raise NotImplementedError("queue limits on MongoDB")

    def limits(self) -> dict[str, int]:
        return {}

    def _change(self, move: Callable[[Paused], Paused]) -> Paused:
        control = _collection(self._db)
        for attempt in range(_TRIES):
            if attempt:  # another pause or resume won: let the racers spread out
                time.sleep(random.uniform(0, _SPREAD_SECONDS * attempt))
            doc = control.find_one({"_id": _ID})
            paused = move(_paused(doc))  # the domain may refuse: nothing is written
            version = int(doc.get("version", 0)) if doc else 0
            new = {**paused.as_dict(), "version": version + 1}
            if doc is None:
                try:  # an upsert is avoided: concurrent upserts of one _id are not safe on every server
                    control.insert_one({"_id": _ID, **new})
                    return paused
                except DuplicateKeyError:
                    continue
            if control.replace_one({"_id": _ID, "version": version}, new).matched_count == 1:
                return paused
        raise PauseConflict()
