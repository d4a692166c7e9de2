"""Wake-ups across hosts on MongoDB: a change stream on the jobs and queue-control collections.

One database-level change stream per idle worker process, filtered on the
server to the changes that may make a job claimable: a job inserted waiting,
a job moved to ``pending``/``failed`` (retry, update, a release) or given a new
``run_at`` without a state change (``update --run-at``), and any change of the
queue control (a queue resumed or its limit raised). A claim (state
``running``) or a final outcome does not match, so idle workers are not woken
by each other's work. Pipeline-style updates reach some servers as ``replace``
events (the full document is then matched) and others as ``update`` events
(the changed fields are matched); the filter takes both.

Change streams need a replica set or a sharded cluster. A standalone server
answers the ``watch`` with an ``OperationFailure``: it is detected once and
logged once, and the worker polls at ``poll_interval`` as before.
"""

from __future__ import annotations

from typing import Any

from pymongo.errors import OperationFailure

from queuectl.adapters.remote_wakeup import StoreWatch, Unsupported
from queuectl.domain.model import JobState
from queuectl.domain.urls import scrub

from .database import _TRANSIENT_CODES, MongoDatabase

AWAIT_MS = 5000  # how long one getMore waits on the server for a change (one round trip per 5 s idle)
_WAITING = [JobState.PENDING.value, JobState.FAILED.value]
_JOBS, _CONTROL = "jobs", "queue_control"

PIPELINE = [{"$match": {"ns.coll": {"$in": [_JOBS, _CONTROL]}, "$or": [
    {"ns.coll": _CONTROL},
    {"operationType": {"$in": ["insert", "replace"]}, "fullDocument.state": {"$in": _WAITING}},
    {"operationType": "update", "updateDescription.updatedFields.state": {"$in": _WAITING}},
    {"operationType": "update", "updateDescription.updatedFields.run_at": {"$exists": True},
     "updateDescription.updatedFields.state": {"$exists": False}},
]}}]


class MongoChangeWatch(StoreWatch):
    """Wakes idle workers on every host when another host makes a job claimable."""

    def __init__(self, database: MongoDatabase) -> None:
        super().__init__()
        self._db = database

    def _open(self) -> Any:
        try:
            return self._db.database().watch(PIPELINE, max_await_time_ms=AWAIT_MS)
        except OperationFailure as error:
            if error.code in _TRANSIENT_CODES or error.has_error_label("ResumableChangeStreamError"):
                raise
            raise Unsupported(self._describe(error)) from None

    def _next(self, session: Any) -> bool:
        return session.try_next() is not None

    def _describe(self, error: Exception) -> str:
        text = str(error).strip()
        line = text.splitlines()[0].split(", full error:")[0] if text else type(error).__name__
        return scrub(line, self._db.url)[:300]


def change_watch(store: Any) -> MongoChangeWatch:
    """The container's factory: a watch on ``store``'s database, sharing its client."""
    return MongoChangeWatch(store.database)
