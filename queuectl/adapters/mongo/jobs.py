"""MongoJobRepository: the job port on pymongo, one document per job.

Store order (FIFO). Among jobs of equal priority and ``run_at`` the store's
enqueue order decides, as a number the store issues: ``seq``. It comes from
one counter document, ``counters {_id: "jobs", seq: N}``, advanced with an
atomic ``find_one_and_update`` ``$inc`` (the first enqueue inserts it); ``add_many``
reserves a block of n numbers in one increment. Clock times cannot serve:
workers and CLIs on several hosts have skewed clocks, and two enqueues in the
same millisecond tie. An ObjectId cannot either: its time part has one-second
resolution and its counter is per client process, so ObjectIds from two
processes are not in enqueue order. A unique index on ``seq`` backs it;
numbers of failed inserts are skipped, which is harmless.

Claiming is one ``find_one_and_update`` whose update is an aggregation
pipeline (MongoDB 4.2+), so the attempt number pushed onto the history is
computed from the stored ``attempts`` in the same atomic write. The pipeline
mirrors the model's ``Job.claim`` field for field; the returned job is the
document as that write left it. While a queue the claim may take from is
limited (SPEC 9.7), the same write takes a limit slot (``limits.py``). Every other write is a compare-and-set:
fenced by the lease token for a worker's writes, by the state (and token)
that was read for the operator's moves.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any, Callable, Collection, Mapping, Sequence

from pymongo import ReturnDocument, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from queuectl.domain import defaults
from queuectl.domain.errors import ConcurrentUpdate, DuplicateJob, JobNotFound, UniqueKeyHeld
from queuectl.domain.limits import relevant
from queuectl.domain.model import FINAL, MOVES_FROM, WAITING, Attempt, Job, JobState
from queuectl.domain.ports import AttemptLog, JobRepository, Page, WorkerRef

from . import dependencies, limits
from .database import MongoDatabase, refused_for_good, translate_errors
from .documents import (HELD_KEY, SLOT, WITHOUT_HISTORY, WITHOUT_OUTPUT, attempt_document, attempt_fields,
                        attempt_from_document, closing_history, held_key_expression, held_key_update, job_document,
                        job_from_document, literals, ms, mutable_fields, slot_expression)
from .queues import read_control

log = logging.getLogger(__name__)
_CLAIM_SORT = [("priority", -1), ("run_at", 1), ("seq", 1)]
_DUPLICATE_KEY = 11000
_SWAP_TRIES = 5
_SLOT_TRIES = 10  # claims that lost the slot they picked to a racing claim, before this one gives up
_BULK_CHUNK = 500
_OPEN = "open"  # the array-filter name of the history entry a lease token opened
_PROCESSING = JobState.PROCESSING.value
_WAITING = sorted(state.value for state in WAITING)
_SHRINKING = ("state", "lease_token", "lease_until")  # processing -> dead, token and lease -> null


@translate_errors
class MongoJobRepository(JobRepository):
    def __init__(self, db: MongoDatabase) -> None:
        self._db = db
        self._waited_for: dict[str, bool] = {}  # jobs claimed here that some job waits for

    @property
    def _jobs(self) -> Collection:
        return self._db.collection("jobs")

    # -- enqueue -----------------------------------------------------------
    def add(self, job: Job) -> None:
        jobs = self._jobs
        if job.after and jobs.find_one({"_id": job.id}, {"_id": 1}) is not None:
            raise DuplicateJob(job.id)  # before its dependencies are checked, as on every store
        dependencies.admit(jobs, [job])
        self._insert(job)
        dependencies.mark_and_recheck(jobs, [job])

    def _insert(self, job: Job) -> None:
        """Insert a new job's document: ``DuplicateJob`` for its id, ``UniqueKeyHeld`` for its key."""
        jobs = self._jobs
        for _ in range(_SWAP_TRIES):
            try:
                jobs.insert_one(job_document(job, self._db.next_seq()))
                return
            except DuplicateKeyError as error:
                # the index that refused it, if the server says (else: the id, if it exists)
                index = (error.details or {}).get("keyPattern", {HELD_KEY: 1})
                if HELD_KEY not in index or jobs.find_one({"_id": job.id}, {"_id": 1}) is not None:
                    raise DuplicateJob(job.id) from None
                held = self._key_held(job)
                if held is not None:
                    raise held from None
        raise ConcurrentUpdate(job.id)  # the key's holders kept ending and starting: never expected

    def _key_held(self, job: Job) -> UniqueKeyHeld | None:
        """Why the unique index refused ``job``: the job holding its key now (None: it just ended)."""
        holder = self._jobs.find_one({HELD_KEY: job.unique_key, "_id": {"$ne": job.id}}, {"state": 1})
        return None if holder is None else UniqueKeyHeld(job.unique_key or "", holder["_id"], holder["state"])

    def add_many(self, jobs: Sequence[Job]) -> list[str]:
        first_of_id: dict[str, Job] = {}
        for job in jobs:
            first_of_id.setdefault(job.id, job)
        firsts = list(first_of_id.values())
        if not firsts:
            return []
        if any(job.after for job in firsts):  # one at a time, in order: a dependency is stored before its dependents
            return self._add_in_order(jobs, firsts)
        collection, start = self._jobs, self._db.next_seq(len(firsts))
        documents = [job_document(job, start + offset) for offset, job in enumerate(firsts)]
        existing = set()
        try:
            collection.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            for failure in error.details.get("writeErrors", []):
                if failure.get("code") != _DUPLICATE_KEY:
                    raise
                existing.add(documents[failure["index"]]["_id"])
        return _duplicates(jobs, existing)

    def _add_in_order(self, jobs: Sequence[Job], firsts: Sequence[Job]) -> list[str]:
        existing = {doc["_id"] for doc in self._jobs.find({"_id": {"$in": [job.id for job in firsts]}}, {"_id": 1})}
        new = [job for job in firsts if job.id not in existing]
        dependencies.admit(self._jobs, new)  # before any insert: an unknown dependency stores nothing
        inserted = []
        for job in new:
            try:
                self._jobs.insert_one(job_document(job, self._db.next_seq()))
                inserted.append(job)
            except DuplicateKeyError:
                existing.add(job.id)
        dependencies.mark_and_recheck(self._jobs, inserted)
        return _duplicates(jobs, existing)

    # -- read --------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        doc = self._jobs.find_one({"_id": job_id}, WITHOUT_OUTPUT)
        if doc is None:
            raise JobNotFound(job_id)
        return job_from_document(doc)

    def list(self, page: Page) -> list[Job]:
        query: dict[str, Any] = {}
        if page.state is not None:
            query["state"] = page.state.value
        if page.queue is not None:
            query["queue"] = page.queue
        cursor = self._jobs.find(query, WITHOUT_HISTORY).sort("seq", -1).limit(page.limit or 0)
        return [job_from_document(doc) for doc in cursor]

    def ids_starting(self, prefix: str, limit: int) -> list[str]:
        if limit < 1:
            return []
        # A range on _id (the id index); every id character sorts below "\x7f" (``ID_PATTERN``).
        cursor = (self._jobs.find({"_id": {"$gte": prefix, "$lt": prefix + "\x7f"}}, {"_id": 1})
                  .sort("seq", -1).limit(limit))
        return [doc["_id"] for doc in cursor]

    def count_by_state(self) -> dict[JobState, int]:
        counts = {state: 0 for state in JobState}
        # The $match on the indexed state lets MongoDB count from an index alone.
        pipeline = [{"$match": {"state": {"$in": [state.value for state in JobState]}}},
                    {"$group": {"_id": "$state", "n": {"$sum": 1}}}]
        for row in self._jobs.aggregate(pipeline):
            counts[JobState(row["_id"])] = int(row["n"])
        return counts

    def count_by_queue(self) -> dict[str, dict[JobState, int]]:
        counts: dict[str, dict[JobState, int]] = {}
        pipeline = [{"$match": {"state": {"$in": [state.value for state in JobState]}}},
                    {"$group": {"_id": {"queue": "$queue", "state": "$state"}, "n": {"$sum": 1}}}]
        for row in self._jobs.aggregate(pipeline):
            key = row["_id"]
            counts.setdefault(key["queue"], {state: 0 for state in JobState})[JobState(key["state"])] = int(row["n"])
        return counts

    def count(self, states: Collection[JobState] | None = None, queue: str | None = None) -> int:
        query: dict[str, Any] = {}
        if states is not None:
            query["state"] = {"$in": sorted(state.value for state in states)}
        if queue is not None:
            query["queue"] = queue
        return int(self._jobs.count_documents(query))

    def expired_leases(self, now: datetime, limit: int = defaults.RECOVERY_BATCH) -> list[Job]:
        cursor = (self._jobs.find({"state": _PROCESSING, "lease_until": {"$lt": now}}, WITHOUT_OUTPUT)
                  .sort("lease_until", 1).limit(limit))
        return [job_from_document(doc) for doc in cursor]

    def logs(self, job_id: str) -> list[AttemptLog]:
        doc = self._jobs.find_one({"_id": job_id}, {"history": 1})
        if doc is None:
            raise JobNotFound(job_id)
        entries = [AttemptLog(attempt_from_document(entry), entry.get("output") or "")
                   for entry in doc.get("history", [])]
        return entries[::-1]

    # -- the worker's cycle ------------------------------------------------
    def claim_next(self, worker: WorkerRef, now: datetime, lease_until: datetime,
                   queues: Sequence[str] | None = None) -> Job | None:
        control = read_control(self._db)  # a pause or a limit is honoured by every later claim
        scope = control.paused.claim_scope(queues)
        if scope.nothing:
            return None
        limited = [queue for queue in relevant(control.limits, queues) if scope.admits(queue)]
        now, lease_until = ms(now), ms(lease_until)
        for _ in range(_SLOT_TRIES):
            slots: dict[str, str | None] = {}
            if limited:  # the slot each limited queue has free (None: full); limits.py
                slots = limits.pick_slots(control.limits, limited, limits.running(self._jobs, limited))
            full = [queue for queue, slot in slots.items() if slot is None]
            query: dict[str, Any] = {"state": {"$in": _WAITING}, "run_at": {"$lte": now}}
            if scope.only is not None:
                only = [queue for queue in scope.only if queue not in full]
                if not only:
                    return None
                query["queue"] = {"$in": only}
            elif scope.skip or full:
                query["queue"] = {"$nin": sorted({*scope.skip, *full})}
            free = {queue: slot for queue, slot in slots.items() if slot is not None}
            claim = _claim_pipeline(worker, uuid.uuid4().hex, now, lease_until, free if limited else None)
            try:
                after = self._claim_or_refused(query, claim)
            except limits.SlotTaken:  # a racing claim took the slot picked: read the running jobs again
                limits.free_strays(self._jobs, free.values())
                continue
            return None if after is None else self._claimed(after, worker, now)
        log.info("claim by %s gave up after %d slots were taken by racing claims", worker.id, _SLOT_TRIES)
        return None

    def _claim_or_refused(self, query: dict[str, Any], claim: list[dict]) -> dict[str, Any] | None:
        try:
            return self._claim(query, claim)
        except OperationFailure as error:
            if not refused_for_good(error):
                raise
            return self._claim_refused(query, claim)

    def _claimed(self, after: dict[str, Any], worker: WorkerRef, now: datetime) -> Job:
        # The job as this very write left it (the pipeline mirrors ``Job.claim``): an update or a
        # retry that landed just before the claim is in it. The servers that run the write as a
        # find and a re-checked write (the CI test server) hand back a stale pre-image.
        job = job_from_document(after)
        job.history = [Attempt(job.attempts, worker.id, worker.host, now)]
        if after.get(dependencies.HAS_DEPENDENTS):  # its outcome releases them at once
            self._waited_for[job.id] = True
        return job

    def _claim(self, query: dict[str, Any], claim: list[dict]) -> dict[str, Any] | None:
        """The claim's one write; ``limits.SlotTaken`` (nothing written) when its limit slot was taken."""
        try:
            return self._jobs.find_one_and_update(query, claim, sort=_CLAIM_SORT, projection=WITHOUT_HISTORY,
                                                  return_document=ReturnDocument.AFTER)
        except DuplicateKeyError as error:
            limits.raise_if_slot_taken(error)
            raise

    def _claim_refused(self, query: dict[str, Any], claim: list[dict]) -> dict[str, Any] | None:
        """The claim was refused for good: find the job it picked and claim it alone, so that a
        second refusal (``OutcomeRejected``) surely names that job."""
        picked = self._jobs.find_one(query, {"_id": 1}, sort=_CLAIM_SORT)
        if picked is None:
            return None
        with self._db.rejecting(picked["_id"]):
            return self._claim({**query, "_id": picked["_id"]}, claim)

    def renew_lease(self, job_id: str, token: str, until: datetime) -> bool:
        result = self._jobs.update_one({"_id": job_id, "lease_token": token, "state": _PROCESSING},
                                       {"$set": {"lease_until": until}})
        return result.matched_count == 1

    def record_outcome(self, job: Job, token: str, output: str | None = None,
                       history_max: int = defaults.HISTORY_MAX) -> bool:
        closing = None
        if job.history:
            closing = attempt_document(job.history[-1], token)
            if output is not None:
                closing["output"] = output
        ended = job.state in FINAL  # the same write marks it if a job waits for it (dependencies.py)
        update = [{"$set": {**literals(mutable_fields(job, worker=True)), HELD_KEY: held_key_expression(job),
                            SLOT: slot_expression(job), "history": closing_history(closing, token, history_max),
                            **(dependencies.RELEASE_IF_WAITED_FOR if ended else {})}}]
        with self._db.rejecting(job.id):
            result = self._jobs.update_one({"_id": job.id, "lease_token": token, "state": _PROCESSING}, update)
        if result.matched_count != 1:
            return False
        if self._waited_for.pop(job.id, False) and ended:
            # Waited for when claimed: release now. A dependent enqueued while it ran is released
            # by the next upkeep sweep (this very write marked it) unless its enqueue saw the end.
            self._release([(job.id, job.updated_at)])
        return True

    def bury(self, job: Job, token: str | None) -> bool:
        """Dead with the refusal, every stored output dropped (they are what grows); if even that is
        refused, only the state and the lease, a write that can only shrink the document."""
        fence: dict[str, Any] = ({"_id": job.id, "state": {"$in": _WAITING}} if token is None
                                 else {"_id": job.id, "lease_token": token, "state": _PROCESSING})
        fields, options = {**mutable_fields(job, worker=True), dependencies.RELEASE_DUE: True}, {}
        if token is not None and job.history:
            fields.update(attempt_fields(job.history[-1], f"history.$[{_OPEN}]"))
            options["array_filters"] = [{f"{_OPEN}.token": token}]
        try:
            result = self._jobs.update_one(
                fence, held_key_update(job, {"$set": fields, "$unset": {"history.$[].output": ""}}), **options)
        except OperationFailure as error:
            if not refused_for_good(error):
                raise
            shrinking = {name: fields[name] for name in (*_SHRINKING, dependencies.RELEASE_DUE)}
            result = self._jobs.update_one(fence, held_key_update(job, {"$set": shrinking}))
        if result.matched_count != 1:
            return False
        self._release([(job.id, job.updated_at)])
        return True

    def release_dependents(self, now: datetime, limit: int = defaults.RECOVERY_BATCH) -> int:
        return dependencies.sweep(self._jobs, limit)

    def _release(self, ended: Sequence[dependencies.Ended]) -> None:
        """Release the dependents of jobs whose ending write just set the mark. The ending is
        recorded whatever happens here: a failure leaves the mark for any worker's upkeep."""
        try:
            dependencies.release(self._jobs, ended)
        except PyMongoError as error:
            log.warning("dependents of %s not released yet (%s); a worker's upkeep will", ended[0][0], error)

    # -- operator moves ----------------------------------------------------
    def cancel(self, job_id: str, now: datetime) -> Job:
        now = ms(now)
        return self._move(job_id, lambda job: job.cancel(now))

    def cancel_all(self, now: datetime, states: Collection[JobState], queue: str | None = None) -> int:
        now = ms(now)
        return self._move_all("cancel", states, queue, lambda job: job.cancel(now))

    def retry(self, job_id: str, now: datetime, only_dead: bool = False) -> Job:
        now = ms(now)
        return self._move(job_id, lambda job: job.retry(now, only_dead))

    def retry_all(self, now: datetime, states: Collection[JobState] = frozenset({JobState.DEAD}),
                  queue: str | None = None) -> int:
        now = ms(now)
        return self._move_all("retry", states, queue, lambda job: job.retry(now))

    def update(self, job_id: str, now: datetime, changes: Mapping[str, object]) -> Job:
        now = ms(now)
        return self._move(job_id, lambda job: job.update(now, changes))

    def _move_all(self, name: str, states: Collection[JobState], queue: str | None,
                  move: Callable[[Job], None]) -> int:
        """One move on every job in ``states`` (those the move allows) of ``queue``, each written
        only if it is still as read: a job claimed or moved meanwhile is left alone, not counted."""
        query: dict[str, Any] = {"state": {"$in": [state.value for state in states if state in MOVES_FROM[name]]}}
        if queue is not None:
            query["queue"] = queue
        writes, ended = [], []
        for doc in self._jobs.find(query, WITHOUT_OUTPUT).sort("seq", 1):
            job = job_from_document(doc)
            read = (job.state, job.lease_token, job.updated_at)
            move(job)
            fence, update, array_filters = _guarded_write(job, *read)
            writes.append(UpdateOne(fence, update, array_filters=array_filters))
            if job.state in FINAL:
                ended.append((job.id, job.updated_at))
        moved = 0
        for start in range(0, len(writes), _BULK_CHUNK):
            try:
                moved += self._jobs.bulk_write(writes[start:start + _BULK_CHUNK], ordered=False).matched_count
            except BulkWriteError as error:  # a job whose key another holds is left as it was
                if any(failure.get("code") != _DUPLICATE_KEY for failure in error.details.get("writeErrors", [])):
                    raise
                moved += int(error.details.get("nMatched", 0))
        for start in range(0, len(ended), _BULK_CHUNK):
            self._release(ended[start:start + _BULK_CHUNK])
        return moved

    def remove(self, job_ids: Sequence[str]) -> list[Job]:
        """Checks every job first, then deletes each only while it is still in the state checked."""
        ids = list(dict.fromkeys(job_ids))
        found = {doc["_id"]: job_from_document(doc)
                 for doc in self._jobs.find({"_id": {"$in": ids}}, WITHOUT_HISTORY)}
        for job_id in ids:
            if job_id not in found:
                raise JobNotFound(job_id)
            found[job_id].check_removable()
        return [found[job_id] for job_id in ids if self._delete(found[job_id], {})]

    def prune(self, states: Collection[JobState], finished_before: datetime, limit: int) -> list[Job]:
        names = [state.value for state in states if state in FINAL]
        if not names or limit <= 0:
            return []
        guard = {"finished_at": {"$lt": finished_before}}
        cursor = (self._jobs.find({"state": {"$in": names}, **guard}, WITHOUT_HISTORY)
                  .sort("seq", 1).limit(limit))
        return [job for job in map(job_from_document, cursor) if self._delete(job, guard)]

    def _delete(self, job: Job, guard: dict[str, Any]) -> bool:
        """Delete the job if it is still in the state it was read in (a retry may have moved it)."""
        return self._jobs.delete_one({"_id": job.id, "state": job.state.value, **guard}).deleted_count == 1

    def _move(self, job_id: str, move: Callable[[Job], None]) -> Job:
        """Read, let the model move the job (it may refuse), write back if nothing changed meanwhile."""
        jobs = self._jobs
        for _ in range(_SWAP_TRIES):
            doc = jobs.find_one({"_id": job_id}, WITHOUT_OUTPUT)
            if doc is None:
                raise JobNotFound(job_id)
            job = job_from_document(doc)
            read = (job.state, job.lease_token, job.updated_at)
            move(job)
            fence, update, array_filters = _guarded_write(job, *read)
            try:
                if jobs.update_one(fence, update, array_filters=array_filters).matched_count == 1:
                    if job.state in FINAL:  # its write set the mark: its dependents follow now
                        self._release([(job.id, job.updated_at)])
                    return job
            except DuplicateKeyError:
                held = self._key_held(job)
                if held is not None:
                    raise held from None
        raise ConcurrentUpdate(job_id)


def _guarded_write(job: Job, state: JobState, token: str | None,
                   updated_at: datetime) -> tuple[dict, dict, list | None]:
    """A moved job's write, fenced by what was read: its state, lease token and last change (every
    move sets ``updated_at``: a job claimed and released in between is not the job read)."""
    fields, array_filters = mutable_fields(job), None
    if job.state in FINAL:  # ended by this move (cancel): its dependents are to be released
        fields[dependencies.RELEASE_DUE] = True
    if token is not None and job.lease_token is None and job.history:
        # the move ended the running attempt: close the entry its claim opened
        fields.update(attempt_fields(job.history[-1], f"history.$[{_OPEN}]"))
        array_filters = [{f"{_OPEN}.token": token}]
    fence = {"_id": job.id, "state": state.value, "lease_token": token, "updated_at": updated_at}
    return fence, held_key_update(job, {"$set": fields}), array_filters


def _claim_pipeline(worker: WorkerRef, token: str, now: datetime, lease_until: datetime,
                    slots: Mapping[str, str] | None = None) -> list[dict]:
    """The update ``Job.claim`` decides, as one pipeline stage (values wrapped in
    ``$literal`` so that a string starting with ``$`` is never read as a field path).
    ``slots``: while a queue the claim may take from is limited, the limit slot to take
    for each such queue with room (``limits.py``); the job of any other queue takes none."""
    attempt = {"$add": ["$attempts", 1]}
    entry = {"attempt": attempt, "worker": _lit(worker.id), "host": _lit(worker.host),
             "started_at": _lit(now), "finished_at": None, "exit_code": None, "error": None,
             "outcome": None, "token": _lit(token)}
    fields = {
        "state": _lit(_PROCESSING), "attempts": attempt, "worker": _lit(worker.id),
        "lease_token": _lit(token), "lease_until": _lit(lease_until), "started_at": _lit(now),
        "finished_at": None, "exit_code": None, "updated_at": _lit(now),
        "history": {"$concatArrays": [{"$ifNull": ["$history", []]}, [entry]]},
    }
    if slots is not None:
        fields[SLOT] = limits.slot_expression(slots)
    return [{"$set": fields}]


def _lit(value: Any) -> dict[str, Any]:
    return {"$literal": value}


def _duplicates(jobs: Sequence[Job], existing: set[str]) -> list[str]:
    """The ids ``add_many`` refused, in input order: stored already, or repeated in ``jobs``."""
    seen: set[str] = set()
    duplicates = []
    for job in jobs:
        if job.id in seen or job.id in existing:
            duplicates.append(job.id)
        seen.add(job.id)
    return duplicates
