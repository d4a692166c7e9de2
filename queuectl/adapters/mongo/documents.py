"""Conversions between domain values and MongoDB documents.

A job is one document, ``_id`` = job id, with its attempt history embedded as
the ``history`` array. Each history entry also carries the lease ``token`` of
the claim that opened it (so a later write can name it) and the attempt's
captured ``output`` tail, which only ``logs`` reads.

Times are BSON datetimes: UTC, millisecond precision. ``ms`` floors a time to
the millisecond the way BSON stores it; the repositories floor the times they
are given before the model uses them, so what they return equals what they
stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from queuectl.domain.model import BULKY_PARTS, Attempt, Job, JobState
from queuectl.domain.ports import WorkerInfo
from queuectl.domain.timeutil import bounded_seconds

# The fields a model move may change; every write-back persists exactly these (a worker's,
# ``worker=True``: all but the settings only ``update`` changes).
MUTABLE_FIELDS = Job.MUTABLE_FIELDS
ATTEMPT_FIELDS = ("attempt", "worker", "host", "started_at", "finished_at", "exit_code", "error", "outcome")

# ``Job.held_key`` (SPEC 9.3): present only while the job holds its unique key (is not final), so that
# a sparse unique index on it lets one job at a time hold a key. Every write that changes the state
# writes it through ``held_key_update`` or ``held_key_expression``; the claim keeps a waiting job's.
HELD_KEY = "held_key"
# The limit slot a processing job of a limited queue holds (SPEC 9.7, ``limits.py``): set by the claim,
# removed by every write that moves the job out of ``processing`` (``held_key_update``, ``slot_expression``).
SLOT = "limit_slot"
SLOT_INDEX = "limit_slot_unique"

WITHOUT_HISTORY = {"history": 0}
WITHOUT_OUTPUT = {"history.output": 0}


def ms(value: datetime) -> datetime:
    """``value`` floored to the millisecond, as a BSON datetime keeps it."""
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def _value(job: Job, name: str) -> Any:
    value = getattr(job, name)
    return value.value if isinstance(value, JobState) else value


def mutable_fields(job: Job, worker: bool = False) -> dict[str, Any]:
    return {name: _value(job, name) for name in (Job.WORKER_FIELDS if worker else MUTABLE_FIELDS)}


def held_key_update(job: Job, update: dict[str, Any]) -> dict[str, Any]:
    """``update`` (``$set``/``$unset`` operators) also writing ``HELD_KEY`` as the moved job has it,
    and removing its limit slot (``SLOT``) unless it is still processing."""
    key = job.held_key
    operator, value = ("$set", key) if key is not None else ("$unset", "")
    update = {**update, operator: {**update.get(operator, {}), HELD_KEY: value}}
    if job.state is not JobState.PROCESSING:
        update["$unset"] = {**update.get("$unset", {}), SLOT: ""}
    return update


def held_key_expression(job: Job) -> Any:
    """``HELD_KEY``'s value in a pipeline ``$set``: the key, or ``$$REMOVE`` (the field goes)."""
    return {"$literal": job.held_key} if job.held_key is not None else "$$REMOVE"


def slot_expression(job: Job) -> Any:
    """``SLOT``'s value in a pipeline ``$set`` of a worker's write: kept while the job is processing."""
    return "$" + SLOT if job.state is JobState.PROCESSING else "$$REMOVE"


def job_document(job: Job, seq: int) -> dict[str, Any]:
    """A new job's document; ``seq`` is its place in the store order."""
    return {
        "_id": job.id, "seq": seq, "command": job.command, "queue": job.queue,
        "priority": job.priority, "max_retries": job.max_retries, "timeout": float(job.timeout),
        "created_at": job.created_at, **mutable_fields(job),
        "history": [attempt_document(attempt) for attempt in job.history],
        "cwd": job.cwd, "env": dict(job.env), **({"after": list(job.after)} if job.after else {}),
        "unique_key": job.unique_key, "retry_on": job.retry_on, "no_retry_on": job.no_retry_on,
        **({HELD_KEY: job.held_key} if job.held_key is not None else {}),
    }


def _attempt_value(attempt: Attempt, name: str) -> Any:
    value = getattr(attempt, name)
    return value.value if isinstance(value, JobState) else value


def attempt_document(attempt: Attempt, token: str | None = None) -> dict[str, Any]:
    return {**{name: _attempt_value(attempt, name) for name in ATTEMPT_FIELDS}, "token": token}


def literals(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as a pipeline stage's fields: a string starting with ``$`` is never a field path."""
    return {name: {"$literal": value} for name, value in values.items()}


def closing_history(closing: Mapping[str, Any] | None, token: str, history_max: int) -> dict[str, Any]:
    """The stored ``history`` with the entry ``token`` opened updated by ``closing``, and every
    entry older than the newest ``history_max`` reduced to its summary (``model.trim_history``):
    an aggregation expression, so the write that closes an attempt also trims, atomically."""
    history = {"$ifNull": ["$history", []]}
    entry = {"$arrayElemAt": [history, "$$i"]}
    older = {"$lt": ["$$i", {"$subtract": [{"$size": history}, history_max]}]}
    summary = {part: None for part in BULKY_PARTS}
    changes = [{"$cond": [older, summary, {}]}]
    if closing is not None:
        changes.append({"$cond": [{"$eq": ["$$e.token", {"$literal": token}]}, {"$literal": dict(closing)}, {}]})
    return {"$map": {"input": {"$range": [0, {"$size": history}]}, "as": "i",
                     "in": {"$let": {"vars": {"e": entry}, "in": {"$mergeObjects": ["$$e", *changes]}}}}}


def attempt_fields(attempt: Attempt, prefix: str) -> dict[str, Any]:
    """``$set`` entries writing ``attempt`` into the history entry ``prefix`` names."""
    return {f"{prefix}.{name}": _attempt_value(attempt, name) for name in ATTEMPT_FIELDS}


def job_from_document(doc: Mapping[str, Any]) -> Job:
    return Job(
        id=doc["_id"], command=doc["command"], queue=doc["queue"], priority=doc["priority"],
        max_retries=doc["max_retries"], timeout=bounded_seconds(doc["timeout"]), state=JobState(doc["state"]),
        attempts=doc["attempts"], run_at=doc["run_at"], created_at=doc["created_at"],
        updated_at=doc["updated_at"], started_at=doc.get("started_at"),
        finished_at=doc.get("finished_at"), exit_code=doc.get("exit_code"),
        last_error=doc.get("last_error"), worker=doc.get("worker"),
        lease_token=doc.get("lease_token"), lease_until=doc.get("lease_until"),
        history=[attempt_from_document(entry) for entry in doc.get("history", [])],
        cwd=doc.get("cwd"), env=dict(doc.get("env") or {}),  # absent from documents stored before SPEC 9.1
        after=list(doc.get("after") or ()),  # absent: no dependencies (SPEC 9.3)
        unique_key=doc.get("unique_key"), retry_on=doc.get("retry_on"),  # and these before SPEC 9.3
        no_retry_on=doc.get("no_retry_on"),
    )


def attempt_from_document(entry: Mapping[str, Any]) -> Attempt:
    return Attempt(attempt=entry["attempt"], worker=entry["worker"], host=entry["host"],
                   started_at=entry["started_at"], finished_at=entry.get("finished_at"),
                   exit_code=entry.get("exit_code"), error=entry.get("error"),
                   outcome=JobState(entry["outcome"]) if entry.get("outcome") else None)


def worker_document(info: WorkerInfo) -> dict[str, Any]:
    return {
        "_id": info.id, "host": info.host, "pid": info.pid, "pid_started_at": info.pid_started_at,
        "queues": list(info.queues), "started_at": info.started_at,
        "last_heartbeat": info.last_heartbeat, "current_job": info.current_job,
        "stop_requested": info.stop_requested, "slots": info.slots,
    }


def worker_from_document(doc: Mapping[str, Any]) -> WorkerInfo:
    return WorkerInfo(
        id=doc["_id"], host=doc["host"], pid=doc["pid"], pid_started_at=doc["pid_started_at"],
        queues=tuple(doc.get("queues", ())), started_at=doc["started_at"],
        last_heartbeat=doc["last_heartbeat"], current_job=doc.get("current_job"),
        stop_requested=bool(doc.get("stop_requested", False)), slots=int(doc.get("slots", 1)))
