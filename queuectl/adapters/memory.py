"""In-memory store: a real, thread-safe implementation of every port.

Used by the unit tests and by ``sqlite://``-free quick runs; it holds the same
contract as the persistent stores (``tests/integration/test_store_contract.py``).
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime
from typing import Callable, Collection, Iterable, Iterator, Mapping, Sequence

from queuectl.domain.errors import DuplicateJob, JobNotFound, UniqueKeyHeld
from queuectl.domain import defaults, dependencies
from queuectl.domain.model import FINAL, MOVES_FROM, WAITING, Attempt, Job, JobState, trim_history
from queuectl.domain.pausing import NOTHING_PAUSED, Paused
from queuectl.domain.ports import (AttemptLog, JobRepository, Outcome, Page, SettingsRepository, StatsRepository,
                                   Store, WorkerInfo, WorkerRef, WorkerRegistry)
from queuectl.domain.stats import RAN, AttemptTotals, Durations, QueueStats, nearest_rank

from .memory_queues import InMemoryQueueControl
from .memory_schedules import InMemoryScheduleRepository


class InMemoryJobRepository(JobRepository):

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._seq: dict[str, int] = {}
        self._outputs: dict[tuple[str, int], str] = {}
        self._counter = itertools.count(1)
        self._dependents: dict[str, set[str]] = defaultdict(set)  # job id -> the jobs waiting for it
        self.paused: Paused = NOTHING_PAUSED  # written under the lock by InMemoryQueueControl
        self.limits: dict[str, int] = {}  # likewise

    def add(self, job: Job) -> None:
        with self._lock:
            if job.id in self._jobs:
                raise DuplicateJob(job.id)
            self._admit(job)
            self._check_key(job)
            self._put(job)

    def add_many(self, jobs: Sequence[Job]) -> list[str]:
        new, duplicates = [], []
        with self._lock:
            seen = set(self._jobs)
            for job in jobs:
                if job.id in seen:
                    duplicates.append(job.id)
                else:
                    seen.add(job.id)
                    new.append(job)
            known = set(self._jobs)
            for job in new:  # every dependency checked first (it may come earlier in the batch): all or nothing
                dependencies.require_known(job, known)
                known.add(job.id)
            for job in new:
                self._admit(job)
                self._check_key(job)
                self._put(job)
        return duplicates

    def _admit(self, job: Job) -> None:
        """Check a new job's dependencies and settle it against them (``dependencies.admit``)."""
        if job.after:
            dependencies.admit(job, self._states(job.after), job.created_at)

    def _states(self, ids: Iterable[str]) -> dict[str, JobState]:
        return {name: self._jobs[name].state for name in ids if name in self._jobs}

    def _release(self, finished: Iterable[Job]) -> None:
        """Settle the blocked jobs waiting for the ``finished`` ones, and theirs in turn (under the lock)."""
        work = [(job.id, job.updated_at) for job in finished if job.state in FINAL]
        while work:
            done, now = work.pop()
            for name in self._dependents.get(done, ()):
                waiting = self._jobs.get(name)
                if waiting is None or not dependencies.settle(waiting, self._states(waiting.after), now):
                    continue
                if waiting.state in FINAL:
                    work.append((waiting.id, now))

    def _check_key(self, job: Job) -> None:
        """Under the lock, as a unique index on the held keys would: ``UniqueKeyHeld`` if another job holds
        the key ``job`` would hold."""
        key = job.held_key
        if key is None:
            return
        holder = next((other for other in self._jobs.values() if other.held_key == key and other.id != job.id), None)
        if holder is not None:
            raise UniqueKeyHeld(key, holder.id, holder.state.value)

    def _put(self, job: Job) -> None:
        self._jobs[job.id] = copy.deepcopy(job)
        self._seq[job.id] = next(self._counter)
        for name in job.after:
            self._dependents[name].add(job.id)

    def get(self, job_id: str) -> Job:
        with self._lock:
            return copy.deepcopy(self._find(job_id))

    def _find(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise JobNotFound(job_id) from None

    def list(self, page: Page) -> list[Job]:
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: self._seq[j.id], reverse=True)
            jobs = [j for j in jobs if (page.state is None or j.state is page.state)
                    and (page.queue is None or j.queue == page.queue)]
            if page.limit:
                jobs = jobs[:page.limit]
            return [replace(copy.deepcopy(j), history=[]) for j in jobs]

    def ids_starting(self, prefix: str, limit: int) -> list[str]:
        with self._lock:
            found = [job_id for job_id in self._jobs if job_id.startswith(prefix)]
        return sorted(found, key=self._seq.__getitem__, reverse=True)[:max(limit, 0)]

    def count_by_state(self) -> dict[JobState, int]:
        with self._lock:
            counts = {state: 0 for state in JobState}
            for job in self._jobs.values():
                counts[job.state] += 1
            return counts

    def count(self, states: Collection[JobState] | None = None, queue: str | None = None) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values()
                       if (states is None or j.state in states) and (queue is None or j.queue == queue))

    def claim_next(self, worker: WorkerRef, now: datetime, lease_until: datetime,
                   queues: Sequence[str] | None = None) -> Job | None:
        with self._lock:
            scope = self.paused.claim_scope(queues)
            due = [j for j in self._jobs.values() if j.state in WAITING and j.run_at <= now
                   and scope.admits(j.queue)]
            if not due:
                return None
            job = min(due, key=lambda j: (-j.priority, j.run_at, self._seq[j.id]))
            token = uuid.uuid4().hex
            job = self._move(job.id, lambda moved: moved.claim(worker.id, worker.host, token, now, lease_until))
            return replace(job, history=[job.history[-1]])

    def settle_and_claim(self, outcomes: Sequence[Outcome], worker: WorkerRef, now: datetime,
                         lease_until: datetime, queues: Sequence[str] | None = None,
                         limit: int = 1) -> tuple[list[bool], list[Job]]:
        """Atomic under the store's lock, a batch like the SQLite store's."""
        with self._lock:
            recorded = [self.record_outcome(o.job, o.token, o.output, o.history_max) for o in outcomes]
            claimed: list[Job] = []
            while len(claimed) < limit:
                job = self.claim_next(worker, now, lease_until, queues)
                if job is None:
                    break
                claimed.append(job)
            return recorded, claimed

    def renew_lease(self, job_id: str, token: str, until: datetime) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.lease_token != token or job.state is not JobState.PROCESSING:
                return False
            job.renew(until)
            return True

    def record_outcome(self, job: Job, token: str, output: str | None = None,
                       history_max: int = defaults.HISTORY_MAX) -> bool:
        with self._lock:
            if not self._holds(job.id, token):
                return False
            stored = self._jobs[job.id]
            history = trim_history(stored.history[:-1] + job.history[-1:], history_max)
            _write_back(stored, job, history, Job.WORKER_FIELDS)
            if output is not None and history:
                self._outputs[(job.id, len(history) - 1)] = output
            for position in range(len(history) - history_max):
                self._outputs.pop((job.id, position), None)
            self._release([stored])
            return True

    def bury(self, job: Job, token: str | None) -> bool:
        with self._lock:
            stored = self._jobs.get(job.id)
            if token is None:
                if stored is None or stored.state not in WAITING:
                    return False
                history = stored.history
            elif self._holds(job.id, token):
                history = stored.history[:-1] + job.history[-1:]
            else:
                return False
            _write_back(stored, job, history, Job.WORKER_FIELDS)
            self._release([stored])
            return True

    def _holds(self, job_id: str, token: str) -> bool:
        stored = self._jobs.get(job_id)
        return stored is not None and stored.lease_token == token and stored.state is JobState.PROCESSING

    def expired_leases(self, now: datetime, limit: int = defaults.RECOVERY_BATCH) -> list[Job]:
        with self._lock:
            jobs = [copy.deepcopy(j) for j in self._jobs.values()
                    if j.state is JobState.PROCESSING and j.lease_until is not None and j.lease_until < now]
            return sorted(jobs, key=lambda j: j.lease_until)[:limit]

    def cancel(self, job_id: str, now: datetime) -> Job:
        with self._lock:
            return self._move(job_id, lambda job: job.cancel(now))

    def cancel_all(self, now: datetime, states: Collection[JobState], queue: str | None = None) -> int:
        return self._move_all("cancel", states, queue, lambda job: job.cancel(now))

    def retry(self, job_id: str, now: datetime, only_dead: bool = False) -> Job:
        with self._lock:
            return self._move(job_id, lambda job: job.retry(now, only_dead))

    def retry_all(self, now: datetime, states: Collection[JobState] = frozenset({JobState.DEAD}),
                  queue: str | None = None) -> int:
        return self._move_all("retry", states, queue, lambda job: job.retry(now))

    def update(self, job_id: str, now: datetime, changes: Mapping[str, object]) -> Job:
        with self._lock:
            return self._move(job_id, lambda job: job.update(now, changes))

    def _move_all(self, name: str, states: Collection[JobState], queue: str | None,
                  move: Callable[[Job], None]) -> int:
        """One move on every job in ``states`` (those the move allows) of ``queue``, under the lock."""
        with self._lock:
            chosen = [j.id for j in self._jobs.values() if j.state in states and j.state in MOVES_FROM[name]
                      and (queue is None or j.queue == queue)]
            moved: list[str] = []
            for job_id in chosen:
                try:
                    self._move(job_id, move, release=False)
                except UniqueKeyHeld:  # its key is held by another job: left as it was
                    continue
                moved.append(job_id)
            self._release([self._jobs[job_id] for job_id in moved])  # once all moved, as one transaction
            return len(moved)

    def _move(self, job_id: str, move: Callable[[Job], None], release: bool = True) -> Job:
        """Let the model move a copy of the job, then store what a persistent store would: the declared fields."""
        stored = self._find(job_id)
        moved = copy.deepcopy(stored)
        move(moved)
        self._check_key(moved)
        _write_back(stored, moved, moved.history)
        if release:
            self._release([stored])
        return copy.deepcopy(stored)

    def logs(self, job_id: str) -> list[AttemptLog]:
        with self._lock:
            job = self._find(job_id)
            entries = [AttemptLog(a, self._outputs.get((job_id, i), "")) for i, a in enumerate(job.history)]
            return entries[::-1]

    def remove(self, job_ids: Sequence[str]) -> list[Job]:
        with self._lock:
            jobs = []
            for job_id in dict.fromkeys(job_ids):  # the first id that cannot go decides, as in the other stores
                jobs.append(self._find(job_id))
                jobs[-1].check_removable()
            return [self._delete(job) for job in jobs]

    def prune(self, states: Collection[JobState], finished_before: datetime, limit: int) -> list[Job]:
        with self._lock:
            old = [j for j in self._jobs.values() if j.state in states and j.state in FINAL
                   and j.finished_at is not None and j.finished_at < finished_before]
            old.sort(key=lambda j: self._seq[j.id])
            return [self._delete(job) for job in old[:limit]]

    def _delete(self, job: Job) -> Job:
        del self._jobs[job.id], self._seq[job.id]
        for index in range(len(job.history)):
            self._outputs.pop((job.id, index), None)
        return replace(job, history=[])


def _write_back(stored: Job, moved: Job, history: list[Attempt],
                fields: Sequence[str] = Job.MUTABLE_FIELDS) -> None:
    """Only ``fields`` (``Job.MUTABLE_FIELDS``, or a worker's ``WORKER_FIELDS``) and the history, like
    SQLite and MongoDB: a move that changed another field is lost here as it is there."""
    for name in fields:
        setattr(stored, name, copy.deepcopy(getattr(moved, name)))
    stored.history = copy.deepcopy(history)


class InMemoryStatsRepository(StatsRepository):
    """The same aggregates as the persistent stores, by walking the jobs under the lock."""

    def __init__(self, jobs: InMemoryJobRepository) -> None:
        self._jobs = jobs

    def _closed_attempts(self) -> Iterator[Attempt]:
        for job in self._jobs._jobs.values():
            yield from (a for a in job.history if a.finished_at is not None and a.outcome is not None)

    def stats(self, now: datetime, since: datetime) -> QueueStats:
        by_queue: dict[str, Counter] = defaultdict(Counter)
        oldest: datetime | None = None
        with self._jobs._lock:
            for job in self._jobs._jobs.values():
                by_queue[job.queue][job.state] += 1
                if job.state in WAITING and job.run_at <= now and (oldest is None or job.run_at < oldest):
                    oldest = job.run_at
            window = [a for a in self._closed_attempts() if since <= a.finished_at <= now]
        outcomes = Counter(a.outcome for a in window)
        runs = sorted(_seconds(a) for a in window if a.outcome in RAN)
        durations = Durations(len(runs), nearest_rank(runs, 0.5), nearest_rank(runs, 0.95),
                              runs[-1] if runs else None)
        return QueueStats(now, since, {q: dict(c) for q, c in by_queue.items()}, dict(outcomes),
                          durations, oldest)

    def totals(self, buckets: Sequence[float], since: datetime | None = None,
               until: datetime | None = None) -> AttemptTotals:
        with self._jobs._lock:
            attempts = [a for a in self._closed_attempts() if (since is None or a.finished_at >= since)
                        and (until is None or a.finished_at < until)]
        runs = [_seconds(a) for a in attempts if a.outcome in RAN]
        cumulative = tuple((bound, sum(1 for run in runs if run <= bound)) for bound in buckets)
        return AttemptTotals(dict(Counter(a.outcome for a in attempts)), cumulative, len(runs), sum(runs))


def _seconds(attempt: Attempt) -> float:
    return round((attempt.finished_at - attempt.started_at).total_seconds(), 6)


class InMemorySettingsRepository(SettingsRepository):
    def __init__(self) -> None:
        self._values: dict[str, object] = {}
        self._lock = threading.Lock()

    def load(self) -> dict[str, object]:
        with self._lock:
            return dict(self._values)

    def save(self, key: str, value: object) -> None:
        with self._lock:
            self._values[key] = value


class InMemoryWorkerRegistry(WorkerRegistry):
    def __init__(self) -> None:
        self._workers: dict[str, WorkerInfo] = {}
        self._lock = threading.Lock()

    def register(self, info: WorkerInfo) -> None:
        with self._lock:
            self._workers[info.id] = info

    def heartbeat(self, worker_id: str, now: datetime, current_job: str | None) -> bool:
        with self._lock:
            info = self._workers.get(worker_id)
            if info is None:
                return False
            self._workers[worker_id] = replace(info, last_heartbeat=now, current_job=current_job)
            return not info.stop_requested

    def workers(self) -> list[WorkerInfo]:
        with self._lock:
            return list(self._workers.values())

    def request_stop(self, worker_ids: Iterable[str]) -> None:
        with self._lock:
            for worker_id in worker_ids:
                if worker_id in self._workers:
                    self._workers[worker_id] = replace(self._workers[worker_id], stop_requested=True)

    def deregister(self, worker_id: str) -> None:
        with self._lock:
            self._workers.pop(worker_id, None)


class InMemoryStore(Store):
    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self.jobs = InMemoryJobRepository()
        self.settings = InMemorySettingsRepository()
        self.workers = InMemoryWorkerRegistry()
        self.stats = InMemoryStatsRepository(self.jobs)
        self.queues = InMemoryQueueControl(self.jobs)
        self.schedules = InMemoryScheduleRepository()
