"""A worker's upkeep between jobs: heartbeat, recovery of lost jobs, retention."""

from __future__ import annotations

import logging
from datetime import datetime

from . import defaults
from .backoff import BackoffPolicy
from .commands import CommandRunner
from .errors import StoreUnavailable
from .model import FINAL
from .outage import Outage
from .ports import Clock, Outcome, OutputFiles, Store, WorkerInfo
from .schedule_service import ScheduleRunner
from .settings import Settings
from .timeutil import bounded_timedelta as _seconds

log = logging.getLogger("queuectl.domain.execution")


class Upkeep:
    """Mixed into ``Worker``: what it does on every turn of its loop besides running jobs."""

    store: Store
    clock: Clock
    runner: CommandRunner
    info: WorkerInfo
    outage: Outage
    outputs: OutputFiles | None
    prune_batch: int
    _beat_at: datetime | None
    _prune_at: datetime | None
    scheduler: ScheduleRunner | None

    def enqueue_scheduled(self, now: datetime, settings: Settings) -> list[str]:
        """The due runs of schedules (SPEC 9.3), at most one store query a second; errors are logged."""
        return self.scheduler.run_due(now, settings) if self.scheduler is not None else []

    def beat(self, now: datetime, current_job: str | None, settings: Settings) -> None:
        """Registry heartbeat and lost-job recovery, at most every lease/3; sooner again after a failure."""
        if self._beat_at is not None and now < self._beat_at:
            return
        try:
            alive = self.store.workers.heartbeat(self.info.id, now, current_job)
            if not self.outage.settling(now):  # just back: let live workers renew their leases first
                self.recover_lost(now, settings)
                self.store.jobs.release_dependents(now)  # a release a crash cut short (MongoDB)
        except StoreUnavailable as error:
            self._beat_at = now + _seconds(self.outage.failed(error, now))
            return
        self._answered()
        self._beat_at = now + _seconds(settings.lease_seconds / 3)
        if not alive:
            self.control.stop = True

    def recover_lost(self, now: datetime, settings: Settings) -> int:
        recovered = 0
        for job in self.store.jobs.expired_leases(now):
            token = job.lease_token
            if token:
                self.runner.reap(job, token)
            output = self.outputs.tail(job, token) if self.outputs and token else ""  # what it printed
            job.lose_lease(now, BackoffPolicy.from_settings(settings))
            if token and self._write(Outcome(job, token, output or None, settings.history_max)):
                log.warning("job %s: worker %s lost; attempt %d failed", job.id, job.worker, job.attempts)
                recovered += 1
        return recovered

    def prune_expired(self, now: datetime, settings: Settings) -> int:
        """With ``retention`` set, delete one batch of final jobs (and their output
        files here) that finished longer ago, at most every few minutes; sooner
        while batches come back full. Workers pruning at once delete each job once.
        Then old output files on this host go too, whoever deleted their jobs."""
        if not settings.retention or (self._prune_at is not None and now < self._prune_at):
            return 0
        jobs = self.store.jobs.prune(FINAL, now - _seconds(settings.retention), self.prune_batch)
        full = len(jobs) == self.prune_batch
        self._prune_at = now + _seconds(settings.poll_interval if full else defaults.RETENTION_INTERVAL_SECONDS)
        if self.outputs is not None:
            self.outputs.delete(jobs)
            if not full:  # files of jobs deleted elsewhere (another host's worker, remove, prune)
                self.outputs.sweep(now - _seconds(settings.retention))
        if jobs:
            log.info("retention: deleted %d jobs finished more than %gs ago", len(jobs), settings.retention)
        return len(jobs)
