"""The interfaces the application needs from the outside world.

Each repository method is one atomic use-case verb. Adapters implement them
for memory, SQLite and MongoDB; ``tests/integration/test_store_contract.py``
holds every adapter to the same behaviour.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Collection, Iterable, Mapping, Sequence

from . import defaults
from .model import Attempt, Job, JobState
from .pausing import Paused
from .schedules import Schedule
from .stats import AttemptTotals, QueueStats

OUTPUT_TAIL_BYTES = 64 * 1024


@dataclass(frozen=True)
class WorkerRef:
    """Who claims: the worker's id and the host it runs on."""

    id: str
    host: str


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    pid_started_at: float  # the process start time, to tell a reused PID apart
    queues: tuple[str, ...]
    started_at: datetime
    last_heartbeat: datetime
    current_job: str | None = None
    stop_requested: bool = False
    slots: int = 1  # how many jobs the worker process runs at once (``worker run --concurrency``)
    busy: int = 0  # not stored: how many of its jobs are processing now (``live_workers`` counts them)

    def is_live(self, now: datetime, lease_seconds: float) -> bool:
        return (now - self.last_heartbeat).total_seconds() <= lease_seconds


@dataclass(frozen=True)
class AttemptLog:
    attempt: Attempt
    output: str


@dataclass(frozen=True)
class Outcome:
    """A finished attempt waiting to be written: the moved job and its claim's token.

    ``history_max``: the job's history keeps that many newest attempts in full when this is written.
    """

    job: Job
    token: str
    output: str | None = None
    history_max: int = defaults.HISTORY_MAX


@dataclass(frozen=True)
class Page:
    """What ``list`` asks for: optional filters and a limit (0 = all)."""

    state: JobState | None = None
    queue: str | None = None
    limit: int = defaults.LIST_LIMIT


class JobRepository(ABC):
    @abstractmethod
    def add(self, job: Job) -> None:
        """Store a new job; ``DuplicateJob`` if its id exists, ``UniqueKeyHeld`` if another job that is
        not final holds its unique key (nothing changes): the store's unique index decides."""

    @abstractmethod
    def add_many(self, jobs: Sequence[Job]) -> list[str]:
        """Store every job whose id is new; return the ids that already existed.

        Jobs without a unique key only: ``JobService`` sends keyed jobs through ``add``."""

    @abstractmethod
    def get(self, job_id: str) -> Job:
        """The job with its whole history; ``JobNotFound`` if absent."""

    @abstractmethod
    def list(self, page: Page) -> list[Job]:
        """Jobs newest first (by store order), without history."""

    @abstractmethod
    def ids_starting(self, prefix: str, limit: int) -> list[str]:
        """At most ``limit`` ids that start with ``prefix`` (case-sensitive, literal), newest
        first; found through the id index. ``prefix`` holds only characters of ``ID_PATTERN``
        (it may be empty). The shell's completion; ``limit`` < 1 gives nothing."""

    @abstractmethod
    def count_by_state(self) -> dict[JobState, int]:
        """Every state with its count, zeros included."""

    @abstractmethod
    def count_by_queue(self) -> dict[str, dict[JobState, int]]:
        """Every queue that has jobs, with the count of each state (zeros included): one grouped
        query in the store, never loading the jobs (``queue list``)."""

    @abstractmethod
    def count(self, states: Collection[JobState] | None = None, queue: str | None = None) -> int:
        """How many jobs are in one of ``states`` (any when None) and ``queue`` (any when None),
        counted in the store (``list``'s "showing N of M", ``wait``'s unfinished jobs)."""

    @abstractmethod
    def claim_next(self, worker: WorkerRef, now: datetime, lease_until: datetime,
                   queues: Sequence[str] | None = None) -> Job | None:
        """Atomically claim the next due job: priority desc, run_at, then store order.

        Never from a paused queue, nor from a queue whose limit (``QueueControl.set_limit``) its
        running jobs reach: both are read, and the running jobs counted, in the same atomic step.

        The returned job is ``processing`` with a fresh ``lease_token``; its
        history holds only the new attempt. None when nothing is due.
        """

    @abstractmethod
    def renew_lease(self, job_id: str, token: str, until: datetime) -> bool:
        """Extend the lease if ``token`` still holds it; False otherwise."""

    @abstractmethod
    def record_outcome(self, job: Job, token: str, output: str | None = None,
                       history_max: int = defaults.HISTORY_MAX) -> bool:
        """Persist ``job`` (after a model move) only if ``token`` still holds its lease.

        ``output`` is the attempt's captured output tail. The stored history then
        keeps its newest ``history_max`` attempts in full, the older ones in
        summary (``model.trim_history``). False, and nothing written, when the
        lease was taken over, the job cancelled, or it is gone.
        ``OutcomeRejected`` when the store refuses the write for good.
        """

    @abstractmethod
    def bury(self, job: Job, token: str | None) -> bool:
        """Persist ``job`` after ``Job.refuse``: ``dead``, the refusal as ``last_error``, no lease.

        The smallest write the store can make (no output; where stored outputs
        are what made the job too big, they go). Fenced by ``token`` like
        ``record_outcome``; with no token (its claim was refused) only while the
        job is waiting. False when nothing was written.
        """

    @abstractmethod
    def expired_leases(self, now: datetime, limit: int = defaults.RECOVERY_BATCH) -> list[Job]:
        """Processing jobs whose lease ended before ``now`` (with their token)."""

    @abstractmethod
    def cancel(self, job_id: str, now: datetime) -> Job:
        """Cancel a waiting or running job; ``InvalidTransition`` if it is final."""

    @abstractmethod
    def cancel_all(self, now: datetime, states: Collection[JobState], queue: str | None = None) -> int:
        """Cancel every job in ``states`` (of ``queue``), each only while it is still in the
        state it was read in; returns how many. Final states are skipped."""

    @abstractmethod
    def retry(self, job_id: str, now: datetime, only_dead: bool = False) -> Job:
        """``Job.retry`` (a final or failed job back to pending, attempts reset), written only if
        the job is still in the state it was read in; ``InvalidTransition`` otherwise. ``UniqueKeyHeld``
        (nothing changes) when another job holds its unique key; ``retry_all`` skips such a job."""

    @abstractmethod
    def retry_all(self, now: datetime, states: Collection[JobState] = frozenset({JobState.DEAD}),
                  queue: str | None = None) -> int:
        """Every job in ``states`` (of ``queue``) back to pending, each only while it is still in
        that state; returns how many. States ``retry`` does not accept are skipped."""

    @abstractmethod
    def update(self, job_id: str, now: datetime, changes: Mapping[str, object]) -> Job:
        """``Job.update`` on a waiting job, written only if it is still waiting as read (a claim
        in between makes it ``InvalidTransition`` or ``ConcurrentUpdate``, nothing written)."""

    @abstractmethod
    def logs(self, job_id: str) -> list[AttemptLog]:
        """Each attempt with its stored output tail, newest first."""

    @abstractmethod
    def remove(self, job_ids: Sequence[str]) -> list[Job]:
        """Delete these jobs, each in a final state, with their history and output tails.

        All or nothing: ``JobNotFound`` for an unknown id, ``InvalidTransition``
        for a job that is not final, and then nothing is deleted. Returns the
        deleted jobs without history.
        """

    @abstractmethod
    def prune(self, states: Collection[JobState], finished_before: datetime, limit: int) -> list[Job]:
        """Delete at most ``limit`` jobs in ``states`` (final states only) whose
        ``finished_at`` is before ``finished_before``, oldest enqueued first;
        returns them without history."""

    def settle_and_claim(self, outcomes: Sequence[Outcome], worker: WorkerRef, now: datetime,
                         lease_until: datetime, queues: Sequence[str] | None = None,
                         limit: int = 1) -> tuple[list[bool], list[Job]]:
        """Record finished attempts, then claim up to ``limit`` due jobs, in claim order.

        The worker's hot path: a store that can does both in one atomic step
        (one transaction instead of two per job) and claims a batch. This
        default does one write per outcome and claims at most one job: a batch
        taken one round trip at a time saves nothing and only holds leases
        longer. Returns whether each outcome was recorded (see
        ``record_outcome``) and the claimed jobs (at least one when any is due
        and ``limit`` > 0). ``OutcomeRejected`` names a job whose outcome or
        claim the store refused for good; neither the outcomes after it nor
        the claim are then written (those before it may be).
        """
        recorded = [self.record_outcome(o.job, o.token, o.output, o.history_max) for o in outcomes]
        job = self.claim_next(worker, now, lease_until, queues) if limit > 0 else None
        return recorded, [job] if job is not None else []

    def release_dependents(self, now: datetime, limit: int = defaults.RECOVERY_BATCH) -> int:
        """Finish releasing the dependents of jobs that ended (SPEC 9.3) where a crash may have cut
        it short: every worker's upkeep calls it. Returns how many ended jobs it settled. A store
        whose release is in the transaction that ends the job (SQLite, memory) has nothing to do."""
        return 0


class StatsRepository(ABC):
    """Aggregates computed in the store: never by loading every job into Python."""

    @abstractmethod
    def stats(self, now: datetime, since: datetime) -> QueueStats:
        """Jobs per queue and state, the oldest due waiting job, and the attempts
        that closed in ``[since, now]``: counts per outcome and run-time percentiles."""

    @abstractmethod
    def totals(self, buckets: Sequence[float], since: datetime | None = None,
               until: datetime | None = None) -> AttemptTotals:
        """The closed attempts that finished in ``[since, until)`` (unbounded where
        None), per outcome, with a cumulative histogram of the run times of those
        that ran (upper bounds ``buckets``)."""


class QueueControl(ABC):
    """Paused and limited queues, stored so that every worker on every host honours them.

    Each call is atomic; ``JobRepository.claim_next`` and ``settle_and_claim`` read
    the paused queues (``Paused.claim_scope``) and the limits (``limits.Budget``)
    in their own atomic step.
    """

    @abstractmethod
    def pause(self, queues: Collection[str] | None) -> Paused:
        """Pause ``queues`` (every queue, also those first used later, when None); what is paused now."""

    @abstractmethod
    def resume(self, queues: Collection[str] | None) -> Paused:
        """Resume ``queues`` (every queue when None); what is paused now."""

    @abstractmethod
    def paused(self) -> Paused: ...

    @abstractmethod
    def set_limit(self, queue: str, limit: int) -> None:
        """At most ``limit`` jobs of ``queue`` run at once (0: no limit); both validated by
        ``limits.with_limit`` (``InvalidJob``, nothing stored)."""

    @abstractmethod
    def limits(self) -> dict[str, int]:
        """Every limited queue with its limit."""


class ScheduleRepository(ABC):
    """Schedules (``schedules.Schedule``), one per name; each call is atomic."""

    @abstractmethod
    def add(self, schedule: Schedule) -> None:
        """Store a new schedule; ``DuplicateSchedule`` (nothing changed) if the name is taken."""

    @abstractmethod
    def get(self, name: str) -> Schedule: ...

    @abstractmethod
    def list(self) -> list[Schedule]:
        """Every schedule, by name."""

    @abstractmethod
    def remove(self, name: str) -> Schedule: ...

    @abstractmethod
    def set_paused(self, name: str, paused: bool, next_run: datetime | None = None) -> Schedule:
        """Pause or resume ``name`` (a resume also sets its next run); ``ScheduleNotFound`` if absent."""

    @abstractmethod
    def due(self, now: datetime, limit: int) -> list[Schedule]:
        """Running schedules whose ``next_run`` has come and whose lease is free: one indexed query."""

    @abstractmethod
    def take(self, name: str, now: datetime, until: datetime, token: str) -> Schedule | None:
        """Lease ``name`` until ``until`` if it is still due, running and free (compare-and-set); else None."""

    @abstractmethod
    def advance(self, name: str, token: str, last_run: datetime, next_run: datetime) -> bool:
        """Record a run and the next tick, and free the lease, if ``token`` still holds it."""


class CronCalendar(ABC):
    """Five-field cron arithmetic in a time zone; every time given and returned is aware (UTC out)."""

    @abstractmethod
    def validate(self, expr: str, tz: str) -> None:
        """``InvalidSchedule`` unless ``expr`` is a five-field expression with ticks to come."""

    @abstractmethod
    def next_after(self, expr: str, tz: str, t: datetime) -> datetime:
        """The first tick strictly after ``t``."""

    @abstractmethod
    def last_at_or_before(self, expr: str, tz: str, t: datetime) -> datetime | None:
        """The latest tick at or before ``t`` (None if there is none)."""


class SettingsRepository(ABC):
    @abstractmethod
    def load(self) -> dict[str, object]:
        """Every stored key (normalised) and its value."""

    @abstractmethod
    def save(self, key: str, value: object) -> None:
        """Store one validated value."""


class WorkerRegistry(ABC):
    @abstractmethod
    def register(self, info: WorkerInfo) -> None: ...

    @abstractmethod
    def heartbeat(self, worker_id: str, now: datetime, current_job: str | None) -> bool:
        """Record liveness; False when the worker should stop (asked to, or removed)."""

    @abstractmethod
    def workers(self) -> list[WorkerInfo]:
        """Every registered worker, live or not; callers filter by heartbeat age."""

    @abstractmethod
    def request_stop(self, worker_ids: Iterable[str]) -> None: ...

    @abstractmethod
    def deregister(self, worker_id: str) -> None: ...


class ProcessCheck(enum.Enum):
    """What a worker record's PID turned out to be."""

    OURS = "ours"  # a live queuectl worker of this user on this host: may be signalled
    GONE = "gone"  # no such process any more, or its PID now runs something else
    FOREIGN = "foreign"  # a queuectl worker of another user (or one we may not inspect)
    REMOTE = "remote"  # on another host: reached through the store only


class ProcessControl(ABC):
    """This host's processes, as far as worker administration needs them."""

    @abstractmethod
    def hostname(self) -> str: ...

    @abstractmethod
    def started_at(self, pid: int) -> float | None:
        """When ``pid`` started (epoch seconds: ``WorkerInfo.pid_started_at``); None if it is gone."""

    @abstractmethod
    def check(self, info: WorkerInfo) -> ProcessCheck:
        """What ``info``'s PID is now; only ``OURS`` may be signalled."""

    @abstractmethod
    def signal_stop(self, info: WorkerInfo) -> bool:
        """SIGTERM a verified worker (a second one: stop now); False, nothing sent, if not ``OURS``."""

    @abstractmethod
    def spawn_worker(self, queues: Sequence[str], url: str, log_name: str, concurrency: int = 1) -> tuple[int, str]:
        """Start a detached worker handed ``url`` running ``concurrency`` jobs at once; its PID and the log
        file (``log_name`` in the home's logs)."""

    @abstractmethod
    def running(self, pid: int) -> bool:
        """True while ``pid`` runs (a zombie has exited)."""

    @abstractmethod
    def last_log_line(self, log_path: str) -> str:
        """The last line of a worker's log (the error it died of), or ''."""


class Waiter(ABC):
    @abstractmethod
    def wait(self, seconds: float) -> bool | None:
        """Idle for up to ``seconds``; returns early when new work or a signal arrives.

        True when woken from outside the process (not only by ``wake``), where the waiter can tell."""

    def wake(self) -> None:
        """Cut a wait in progress (or the next one) short; callable from any thread."""
        raise NotImplementedError(f"{type(self).__name__} cannot be woken")


@dataclass(frozen=True)
class Finished:
    """A job that reached a final state, as a same-host wake-up names it (``UNKNOWN``: some job)."""

    job_id: str
    queue: str

    UNKNOWN: ClassVar["Finished"]


Finished.UNKNOWN = Finished("", "")


class OutcomeWaiter(ABC):
    """What ``wait`` idles on: returns early when a job reaches a final state on this host."""

    @abstractmethod
    def wait(self, seconds: float) -> list[Finished]:
        """Idle for up to ``seconds``; the jobs reported finished meanwhile (empty: the time ran out)."""

    def close(self) -> None:  # pragma: no cover - default holds nothing
        """Stop listening."""


class Notifier(ABC):
    @abstractmethod
    def jobs_changed(self) -> None:
        """Jobs became due or were cancelled: wake waiting workers (best effort)."""

    def jobs_finished(self, jobs: Sequence[Finished]) -> None:
        """These jobs reached a final state: wake this host's ``wait``s (best effort)."""


class OutputFiles(ABC):
    """The attempts' output files kept on this host (each attempt that printed has one)."""

    @abstractmethod
    def path(self, job: Job, token: str) -> str:
        """The file of ``job``'s current attempt, claimed with ``token`` (it may not exist)."""

    @abstractmethod
    def tail(self, job: Job, token: str) -> str:
        """The last ``OUTPUT_TAIL_BYTES`` of that file; "" when there is none here."""

    @abstractmethod
    def delete(self, jobs: Sequence[Job]) -> int:
        """Delete every output file of these jobs' attempts; returns how many were deleted."""

    @abstractmethod
    def sweep(self, before: datetime) -> int:
        """Delete the files last written before ``before`` of attempts claimed before
        that day: whatever job they belonged to (another host may have deleted it)."""


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime: ...


class Store(ABC):
    """One opened store: its repositories share a connection."""

    jobs: JobRepository
    settings: SettingsRepository
    workers: WorkerRegistry
    stats: StatsRepository
    queues: QueueControl
    schedules: ScheduleRepository

    def create(self) -> None:
        """Make sure the store exists: a writing command's first step (a read never creates one)."""

    def close(self) -> None:  # pragma: no cover - default does nothing
        """Release connections."""
