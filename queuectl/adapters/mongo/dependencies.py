"""Dependencies on MongoDB (``domain/dependencies.py`` decides), with no transaction to lean on.

Two marks on a job's document make every step fenced and every crash recoverable:

- ``has_dependents: true``: some job waits for this one. An enqueue with ``--after`` sets it on
  each unfinished dependency *after* inserting the blocked job, then reads the dependencies'
  states again and settles the job itself: either that read sees a dependency's end, or the
  write that ended it saw the mark.
- ``release_due: true``: this job ended and its dependents may not be settled yet. The write that
  ends a job sets it in the same atomic update (a worker's outcome copies ``has_dependents``; an
  operator's cancel or a burial sets it outright). Whoever wrote it releases at once; a crash in
  between leaves the mark, and every worker's upkeep (``sweep``) finishes the job. Releasing is
  idempotent (each dependent's write is fenced on ``blocked`` and the ``updated_at`` read), and
  the mark is cleared last, fenced on the ended job's ``updated_at``.

Blocked jobs are never in a claim's way: the claim index starts with ``state``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Sequence

from pymongo import UpdateOne
from pymongo.collection import Collection

from queuectl.domain import dependencies
from queuectl.domain.model import FINAL, Job, JobState

from .documents import HELD_KEY, WITHOUT_HISTORY, held_key_expression, job_from_document, literals, ms, mutable_fields

_BLOCKED = JobState.BLOCKED.value
HAS_DEPENDENTS, RELEASE_DUE = "has_dependents", "release_due"
# A worker's ending write copies the mark in the same pipeline update: atomic with the outcome.
RELEASE_IF_WAITED_FOR = {RELEASE_DUE: {"$ifNull": [f"${HAS_DEPENDENTS}", False]}}

Ended = tuple[str, datetime]  # an ended job's id and its ``updated_at`` (the fence of the mark)


def states(jobs: Collection, ids: Iterable[str]) -> dict[str, JobState]:
    return {doc["_id"]: JobState(doc["state"]) for doc in jobs.find({"_id": {"$in": list(ids)}}, {"state": 1})}


def admit(jobs: Collection, batch: Sequence[Job]) -> None:
    """Before inserting: each dependency exists (stored, or earlier in ``batch``); each job settled."""
    waiting = [job for job in batch if job.after]
    if not waiting:
        return
    known = states(jobs, {name for job in waiting for name in job.after})
    for job in batch:
        if job.after:
            dependencies.admit(job, known, job.created_at)
        known.setdefault(job.id, job.state)


def mark_and_recheck(jobs: Collection, inserted: Sequence[Job]) -> None:
    """After inserting: mark the dependencies of the blocked jobs, then settle those jobs again."""
    blocked = [job for job in inserted if job.state is JobState.BLOCKED]
    if not blocked:
        return
    jobs.update_many({"_id": {"$in": list({name for job in blocked for name in job.after})}},
                     {"$set": {HAS_DEPENDENTS: True}})
    _settle(jobs, list(jobs.find({"_id": {"$in": [job.id for job in blocked]}, "state": _BLOCKED},
                                 WITHOUT_HISTORY)), ms(blocked[0].created_at))


def release(jobs: Collection, ended: Sequence[Ended]) -> int:
    """Settle the dependents of the ``ended`` jobs, and theirs when cancelled in turn; then clear
    the marks. How many blocked dependents it settled or found still waiting."""
    moved = 0
    while ended:
        ids = [job_id for job_id, _ in ended]
        waiting = list(jobs.find({"after": {"$in": ids}, "state": _BLOCKED}, WITHOUT_HISTORY))
        cancelled = _settle(jobs, waiting, ms(max(at for _, at in ended)))
        moved += len(waiting)
        jobs.bulk_write([UpdateOne({"_id": job_id, "updated_at": ms(at), RELEASE_DUE: True},
                                   {"$set": {RELEASE_DUE: False}}) for job_id, at in ended], ordered=False)
        ended = cancelled
    return moved


def _settle(jobs: Collection, docs: list[dict[str, Any]], now: datetime) -> list[Ended]:
    """Settle each blocked job (a document) against its dependencies' states; the cancelled ones."""
    cancelled: list[Ended] = []
    for doc in docs:
        job = job_from_document(doc)
        read = job.updated_at
        if not dependencies.settle(job, states(jobs, job.after), now):
            continue
        # a cascade to cancelled frees the job's unique key in the same write (``held_key_expression``)
        update = [{"$set": {**literals(mutable_fields(job, worker=True)), HELD_KEY: held_key_expression(job),
                            **(RELEASE_IF_WAITED_FOR if job.state in FINAL else {})}}]
        written = jobs.update_one({"_id": job.id, "state": _BLOCKED, "updated_at": read}, update).matched_count
        if written and job.state in FINAL:
            cancelled.append((job.id, job.updated_at))
    return cancelled


def sweep(jobs: Collection, limit: int) -> int:
    """Finish the releases a crash cut short (any worker's upkeep); how many marked jobs it took."""
    found = jobs.find({RELEASE_DUE: True}, {"updated_at": 1}).limit(limit)
    ended = [(doc["_id"], doc["updated_at"]) for doc in found]
    if ended:
        release(jobs, ended)
    return len(ended)
