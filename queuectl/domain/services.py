"""Use cases behind the CLI: enqueue, inspect, cancel, DLQ, configuration, status, stats."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Collection, Iterable, Sequence

from . import defaults
from .errors import InvalidJob, JobNotFound, QueuectlError
from .model import FINAL, MOVES_FROM, QUEUED, Job, JobState
from .pausing import NOTHING_PAUSED, Paused
from .ports import AttemptLog, Clock, Notifier, OutputFiles, Page, Store, WorkerInfo
from .settings import Settings, normalise_key, parse_value
from .specs import JobChanges, JobSpec
from .stats import DURATION_BUCKETS, AttemptTotals, QueueStats, RunningTotals
from .timeutil import earlier


@dataclass(frozen=True)
class Status:
    jobs: dict[JobState, int]
    workers: list[WorkerInfo] = field(default_factory=list)
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


def _allowed(move: str, states: Collection[JobState]) -> frozenset[JobState]:
    """``states`` if ``move`` accepts each of them; otherwise ``InvalidJob`` naming those it accepts."""
    accepted = MOVES_FROM[move]
    if not states or not set(states) <= accepted:
        names = ", ".join(state.value for state in JobState if state in accepted)
        raise InvalidJob(f"{move} --all takes only the states {names}")
    return frozenset(states)


class JobService:
    def __init__(self, store: Store, clock: Clock, notifier: Notifier | None = None,
                 outputs: OutputFiles | None = None) -> None:
        self.store = store
        self.clock = clock
        self.notifier = notifier
        self.outputs = outputs

    def _wake(self) -> None:
        if self.notifier is not None:
            self.notifier.jobs_changed()

    def settings(self) -> Settings:
        return Settings.from_stored(self.store.settings.load())

    def _settings_to_write(self) -> Settings:
        self.store.create()  # a writing use case creates a missing store; a read never does
        return self.settings()

    def enqueue(self, spec: JobSpec) -> Job:
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
                jobs.append(spec.to_job(now, settings))
            except InvalidJob as error:
                invalid[position] = str(error)
        duplicates = set(self.store.jobs.add_many(jobs))
        self._wake()
        return BulkResult([job for job in jobs if job.id not in duplicates], sorted(duplicates), invalid)

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

    def logs(self, job_id: str) -> list[AttemptLog]:
        return self.store.jobs.logs(job_id)

    def cancel(self, job_id: str) -> Job:
        job = self.store.jobs.cancel(job_id, self.clock.now())
        self._wake()  # a worker running it notices at once and kills the command
        return job

    def cancel_many(self, job_ids: Sequence[str]) -> list[JobResult]:
        """Cancel each job on its own: one refused (final, unknown) leaves the others cancelled."""
        results = self._each(job_ids, self.store.jobs.cancel)
        self._wake()  # the workers running any of them notice at once and kill the command
        return results

    def cancel_all(self, queue: str | None = None, states: Collection[JobState] | None = None) -> int:
        """Cancel every job in ``states`` (default: the waiting and blocked ones) of ``queue``; how many.
        Running jobs only when ``states`` names ``processing``: their workers kill the command."""
        count = self.store.jobs.cancel_all(self.clock.now(), _allowed("cancel", states or QUEUED), queue)
        self._wake()
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
        return Status(self.store.jobs.count_by_state(), self.live_workers(),
                      paused=self.store.queues.paused())

    def live_workers(self) -> list[WorkerInfo]:
        """Workers whose heartbeat is within the lease, oldest first, with their current job."""
        now, lease = self.clock.now(), self.settings().lease_seconds
        live = [w for w in self.store.workers.workers() if w.is_live(now, lease)]
        if live:  # a worker's current job is whatever it holds in the store now
            running = {j.worker: j.id for j in self.store.jobs.list(Page(state=JobState.PROCESSING, limit=0))}
            live = [replace(w, current_job=running.get(w.id)) for w in live]
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
