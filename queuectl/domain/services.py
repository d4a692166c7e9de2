"""Use cases behind the CLI: enqueue, inspect, cancel, DLQ, configuration, status, stats."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Collection, Iterable, Sequence

from . import defaults
from .errors import DuplicateJob, InvalidJob, JobNotFound, QueuectlError, UniqueKeyHeld, UnknownDependency
from .model import FINAL, ID_PATTERN, MOVES_FROM, QUEUED, WAITING, Job, JobState
from .pausing import NOTHING_PAUSED, Paused
from .ports import AttemptLog, Clock, Finished, Notifier, OutcomeWaiter, OutputFiles, Page, Store, WorkerInfo
from .settings import Settings, normalise_key, parse_value
from .specs import JobChanges, JobSpec
from .stats import DURATION_BUCKETS, AttemptTotals, QueueStats, RunningTotals
from .timeutil import earlier
from .waiting import JobWait, WaitResult


@dataclass(frozen=True)
class RunningJob:
    """A processing job as ``status`` lists it: how long its attempt has run."""

    job: Job
    host: str | None  # its worker's host; None when that worker is not live (lost, or its lease is ending)
    elapsed_seconds: float


@dataclass(frozen=True)
class Status:
    jobs: dict[JobState, int]
    workers: list[WorkerInfo] = field(default_factory=list)
    running: list[RunningJob] = field(default_factory=list)  # longest running first
    paused: Paused = NOTHING_PAUSED


@dataclass(frozen=True)
class BulkResult:
    stored: list[Job]
    duplicates: list[str]
    invalid: dict[int, str] = field(default_factory=dict)  # position of a spec in the input -> why


@dataclass(frozen=True)
class JobResult:
    """What a command on several jobs did to one of them: the moved job, or why not."""

    job_id: str
    job: Job | None = None
    error: QueuectlError | None = None

    def unwrap(self) -> Job:
        """The moved job; the error if it was refused."""
        if self.error is not None:
            raise self.error
        assert self.job is not None
        return self.job


def _check_not_a_run_id(spec: JobSpec) -> None:
    """A user's job never takes an id of the ``NAME@tick`` form: those belong to schedule runs,
    whose id is their exactly-once guard."""
    if spec.id is not None and not ID_PATTERN.fullmatch(spec.id):
        raise InvalidJob(f"job id '{spec.id}' has the form of a schedule run (NAME@tick); those ids are reserved")


def _allowed(move: str, states: Collection[JobState]) -> frozenset[JobState]:
    """``states`` if ``move`` accepts each of them; otherwise ``InvalidJob`` naming those it accepts."""
    accepted = MOVES_FROM[move]
    if not states or not set(states) <= accepted:
        names = ", ".join(state.value for state in JobState if state in accepted)
        raise InvalidJob(f"{move} --all takes only the states {names}")
    return frozenset(states)


class JobService:
    def __init__(self, store: Store, clock: Clock, notifier: Notifier | None = None,
                 outputs: OutputFiles | None = None,
                 waiters: Callable[[], OutcomeWaiter] | None = None) -> None:
        self.store = store
        self.clock = clock
        self.notifier = notifier
        self.outputs = outputs
        self.waiters = waiters  # opens a same-host wait for final states (``wait``)

    def _wake(self) -> None:
        if self.notifier is not None:
            self.notifier.jobs_changed()

    def settings(self) -> Settings:
        return Settings.from_stored(self.store.settings.load())

    def _settings_to_write(self) -> Settings:
        self.store.create()  # a writing use case creates a missing store; a read never does
        return self.settings()

    def enqueue(self, spec: JobSpec) -> Job:
        _check_not_a_run_id(spec)
        job = spec.to_job(self.clock.now(), self._settings_to_write())
        self.store.jobs.add(job)
        self._wake()
        return job

    def enqueue_many(self, specs: Iterable[JobSpec]) -> BulkResult:
        """Store every spec that makes a job now; one that does not (a delay past year 9999) is ``invalid``."""
        now, settings = self.clock.now(), self._settings_to_write()
        jobs, invalid = [], {}
        for position, spec in enumerate(specs):
            try:
                _check_not_a_run_id(spec)
                jobs.append(spec.to_job(now, settings))
            except InvalidJob as error:
                invalid[position] = str(error)
        self._require_known_dependencies(jobs)
        duplicates, refused = self._add_in_order(jobs, invalid)
        self._wake()
        return BulkResult([job for job in jobs if job.id not in duplicates and id(job) not in refused],
                          sorted(duplicates), invalid)

    def _require_known_dependencies(self, jobs: list[Job]) -> None:
        """``UnknownDependency`` before anything is stored, when jobs with a key (stored one by one)
        share the batch with jobs that have dependencies: an unknown one still fails the whole batch."""
        if not any(job.unique_key for job in jobs) or not any(job.after for job in jobs):
            return  # ``add_many`` (or each ``add``) checks them all before writing
        known: set[str] = set()
        for job in jobs:
            for dependency in job.after:
                if dependency not in known:
                    try:
                        self.store.jobs.get(dependency)
                    except JobNotFound:
                        raise UnknownDependency(dependency) from None
                    known.add(dependency)
            known.add(job.id)

    def _add_in_order(self, jobs: list[Job], invalid: dict[int, str]) -> tuple[set[str], set[int]]:
        """``add_many`` for runs of jobs without a unique key, ``add`` for each with one (its key is
        checked by the store's unique index), in input order. A job refused for its key goes into
        ``invalid`` at its position; returns the duplicate ids and the refused jobs' ``id()``."""
        positions = [p for p in range(len(jobs) + len(invalid)) if p not in invalid]
        duplicates: set[str] = set()
        refused: set[int] = set()
        run: list[Job] = []
        for position, job in zip(positions, jobs):
            if job.unique_key is None:
                run.append(job)
                continue
            duplicates.update(self.store.jobs.add_many(run) if run else ())
            run = []
            try:
                self.store.jobs.add(job)
            except DuplicateJob:
                duplicates.add(job.id)
            except UniqueKeyHeld as error:
                invalid[position] = str(error)
                refused.add(id(job))
        duplicates.update(self.store.jobs.add_many(run) if run else ())
        return duplicates, refused

    def get(self, job_id: str) -> Job:
        return self.store.jobs.get(job_id)

    def list(self, page: Page) -> list[Job]:
        return self.store.jobs.list(page)

    def dependency_states(self, job: Job) -> list[tuple[str, JobState | None]]:
        """Each job ``job`` waits for (``after``) with its state now; None for one removed since."""
        states: list[tuple[str, JobState | None]] = []
        for dependency in job.after:
            try:
                states.append((dependency, self.store.jobs.get(dependency).state))
            except JobNotFound:
                states.append((dependency, None))
        return states

    def count(self, page: Page) -> int:
        """How many jobs match ``page``'s filters, whatever its limit (counted in the store)."""
        return self.store.jobs.count(None if page.state is None else [page.state], page.queue)

    def logs(self, job_id: str) -> list[AttemptLog]:
        return self.store.jobs.logs(job_id)

    def ids_starting(self, prefix: str, limit: int = defaults.COMPLETION_LIMIT) -> list[str]:
        """The newest job ids that start with ``prefix`` (the shell's completion); none for a
        prefix no id can start with."""
        if prefix and not ID_PATTERN.fullmatch(prefix):  # a prefix of an id is an id, or empty
            return []
        return self.store.jobs.ids_starting(prefix, min(limit, defaults.COMPLETION_LIMIT))

    def cancel(self, job_id: str) -> Job:
        job = self.store.jobs.cancel(job_id, self.clock.now())
        self._wake()  # a worker running it notices at once and kills the command
        if self.notifier is not None:
            self.notifier.jobs_finished([Finished(job.id, job.queue)])
        return job

    def cancel_many(self, job_ids: Sequence[str]) -> list[JobResult]:
        """Cancel each job on its own: one refused (final, unknown) leaves the others cancelled."""
        results = self._each(job_ids, self.store.jobs.cancel)
        self._wake()  # the workers running any of them notice at once and kill the command
        self._finished([Finished(r.job.id, r.job.queue) for r in results if r.job is not None])
        return results

    def cancel_all(self, queue: str | None = None, states: Collection[JobState] | None = None) -> int:
        """Cancel every job in ``states`` (default: the waiting and blocked ones) of ``queue``; how many.
        Running jobs only when ``states`` names ``processing``: their workers kill the command."""
        count = self.store.jobs.cancel_all(self.clock.now(), _allowed("cancel", states or QUEUED), queue)
        self._wake()
        if count:
            self._finished([Finished.UNKNOWN])  # this host's waits read the store again
        return count

    def retry(self, job_ids: Sequence[str]) -> list[JobResult]:
        """Run each job again (completed, failed, dead or cancelled): pending now, attempts reset,
        history kept. Each on its own: one refused leaves the others retried."""
        results = self._each(job_ids, self.store.jobs.retry)
        self._wake()
        return results

    def retry_all(self, states: Collection[JobState] = frozenset({JobState.DEAD}), queue: str | None = None) -> int:
        """Every job in ``states`` (of ``queue``) back to pending; how many."""
        count = self.store.jobs.retry_all(self.clock.now(), _allowed("retry", states), queue)
        self._wake()
        return count

    def update(self, job_id: str, changes: JobChanges) -> Job:
        """Change a waiting job's settings; any other state is ``InvalidTransition`` and changes nothing."""
        now = self.clock.now()
        job = self.store.jobs.update(job_id, now, changes.values(now))
        self._wake()  # it may be due sooner, or in a queue a sleeping worker serves
        return job

    def _each(self, job_ids: Sequence[str], move: Callable[[str, datetime], Job]) -> list[JobResult]:
        results = []
        for job_id in dict.fromkeys(job_ids):
            try:
                results.append(JobResult(job_id, job=move(job_id, self.clock.now())))
            except QueuectlError as error:
                results.append(JobResult(job_id, error=error))
        return results

    def _finished(self, finished: Sequence[Finished]) -> None:
        if self.notifier is not None and finished:
            self.notifier.jobs_finished(finished)

    def wait(self, ids: Sequence[str] = (), queue: str | None = None, timeout: float | None = None) -> WaitResult:
        """Block until the jobs ``ids`` (or every job of ``queue``, or every job) are final,
        or ``timeout`` seconds pass; reads the store at most every ``poll_interval``."""
        if self.waiters is None:
            raise RuntimeError("wait needs an OutcomeWaiter")
        waiter: OutcomeWaiter | None = None
        started = self.clock.now()  # a job ending from here on counts, also while the socket is made
        try:  # Ctrl-C at any point after the socket exists still closes it
            waiter = self.waiters()  # listening before the first read: no report falls in between
            return JobWait(self.store.jobs, self.clock, waiter, ids, queue, self.settings().poll_interval,
                           timeout, started).run()
        finally:
            if waiter is not None:
                waiter.close()

    def remove(self, job_ids: Sequence[str]) -> list[Job]:
        """Delete final jobs and their output files; any other state deletes none."""
        jobs = self.store.jobs.remove(job_ids)
        if self.outputs is not None:
            self.outputs.delete(jobs)
        return jobs

    def prune(self, older_than: float = defaults.PRUNE_OLDER_THAN,
              states: Collection[JobState] = FINAL) -> int:
        """Delete final jobs in ``states`` that finished more than ``older_than`` seconds ago,
        with their output files, a batch at a time; returns how many."""
        if not states or not set(states) <= FINAL:
            names = ", ".join(sorted(state.value for state in FINAL))
            raise InvalidJob(f"prune deletes only final jobs: states {names}")
        cutoff, pruned = self.clock.now() - timedelta(seconds=older_than), 0
        while True:
            jobs = self.store.jobs.prune(states, cutoff, defaults.PRUNE_BATCH)
            if jobs and self.outputs is not None:
                self.outputs.delete(jobs)
            pruned += len(jobs)
            if len(jobs) < defaults.PRUNE_BATCH:
                return pruned

    def dead_letters(self, limit: int = 0) -> list[Job]:
        return self.store.jobs.list(Page(state=JobState.DEAD, limit=limit))

    def retry_dead(self, job_id: str) -> Job:
        """``dlq retry``: a dead job only."""
        job = self.store.jobs.retry(job_id, self.clock.now(), only_dead=True)
        self._wake()
        return job

    def retry_all_dead(self) -> int:
        return self.retry_all({JobState.DEAD})

    def status(self) -> Status:
        now, processing = self.clock.now(), self.store.jobs.list(Page(state=JobState.PROCESSING, limit=0))
        workers = self.live_workers(processing)
        hosts = {worker.id: worker.host for worker in workers}
        running = [RunningJob(job, hosts.get(job.worker or ""),
                              max(0.0, (now - (job.started_at or now)).total_seconds())) for job in processing]
        running.sort(key=lambda r: -r.elapsed_seconds)
        return Status(self.store.jobs.count_by_state(), workers, running, paused=self.store.queues.paused())

    def live_workers(self, processing: list[Job] | None = None) -> list[WorkerInfo]:
        """Workers whose heartbeat is within the lease, oldest first, with their current job and how many
        of their slots are busy (from ``processing``, the processing jobs, when the caller has read them)."""
        now, lease = self.clock.now(), self.settings().lease_seconds
        live = [w for w in self.store.workers.workers() if w.is_live(now, lease)]
        if live:  # a worker's current job is whatever it holds in the store now
            if processing is None:
                processing = self.store.jobs.list(Page(state=JobState.PROCESSING, limit=0))
            running: dict[str | None, list[str]] = {}
            for job in processing:
                running.setdefault(job.worker, []).append(job.id)
            live = [replace(w, current_job=(running.get(w.id) or [None])[-1], busy=len(running.get(w.id, ())))
                    for w in live]
        return sorted(live, key=lambda w: w.started_at)


class ConfigService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def show(self) -> dict[str, Any]:
        return Settings.from_stored(self.store.settings.load()).as_dict()

    def get(self, key: str) -> tuple[str, Any]:
        name = normalise_key(key)
        return name, self.show()[name]

    def set(self, key: str, raw: Any) -> tuple[str, Any]:
        name = normalise_key(key)
        value = parse_value(name, raw)
        self.store.settings.save(name, value)
        return name, value


class StatsService:
    """``stats``, the dashboard's figures and the metrics: all computed in the store."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._totals = RunningTotals(lambda since, until: store.stats.totals(DURATION_BUCKETS, since, until))

    def stats(self, window: timedelta) -> QueueStats:
        now = self.clock.now()
        return self.store.stats.stats(now, earlier(now, window))

    def totals(self) -> AttemptTotals:
        """Every attempt so far; after the first call each call reads only recent attempts."""
        return self._totals.totals(self.clock.now())

    def live_workers(self) -> int:
        now = self.clock.now()
        lease = Settings.from_stored(self.store.settings.load()).lease_seconds
        return sum(1 for worker in self.store.workers.workers() if worker.is_live(now, lease))
