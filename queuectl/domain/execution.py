"""Claim -> run -> record: what one worker does, independent of processes and stores.

The worker loop keeps its lease alive while a command runs, enforces the
job's timeout, recovers jobs whose worker vanished, and writes an outcome only
while its fencing token still holds the job.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Sequence

from .backoff import BackoffPolicy
from .model import Job
from .ports import Clock, Outcome, Store, Waiter, WorkerInfo, WorkerRef
from .settings import Settings
from .timeutil import bounded_seconds

log = logging.getLogger(__name__)

SETTINGS_REFRESH_SECONDS = 5.0
# A worker may claim ahead as many jobs as it expects to finish in this time
# (from how long its recent jobs took), at most PREFETCH_MAX: short jobs then
# cost one store transaction per batch instead of one each. If a job runs past
# the window, the jobs claimed ahead are handed back at once, unrun and
# uncounted, so no other worker waits behind it.
PREFETCH_WINDOW = 0.02
PREFETCH_MAX = 16


@dataclass(frozen=True)
class RunResult:
    """How a command ended. ``error`` is None exactly when it succeeded."""

    exit_code: int | None
    error: str | None
    output: str = ""


class RunningCommand(ABC):
    @abstractmethod
    def wait(self, seconds: float) -> RunResult | None:
        """Wait up to ``seconds`` (less if the worker is woken); None while it still runs."""

    @abstractmethod
    def kill(self, reason: str) -> RunResult:
        """Kill the command's whole process group; the result's error is ``reason``."""


class CommandRunner(ABC):
    @abstractmethod
    def start(self, job: Job) -> RunningCommand:
        """Start the job's current attempt."""

    def reap(self, job: Job, token: str) -> None:
        """Kill what is left of an attempt whose worker vanished, if it ran here."""


@dataclass
class WorkerControl:
    """Stop requests, set from signal handlers or the registry."""

    stop: bool = False       # finish the current job, then exit
    stop_now: bool = False   # kill the current job, release it, exit


@dataclass
class _Lease:
    job: Job
    token: str
    renew_at: datetime
    deadline: datetime | None


@dataclass
class Worker:
    store: Store
    clock: Clock
    runner: CommandRunner
    waiter: Waiter
    info: WorkerInfo
    control: WorkerControl = field(default_factory=WorkerControl)
    _settings: Settings | None = None
    _settings_at: datetime | None = None
    _beat_at: datetime | None = None
    # Finished attempts not yet written: each is written together with the
    # next claim, in one store transaction, right after the command ends.
    prefetch_window: float = PREFETCH_WINDOW
    _unsettled: list[Outcome] = field(default_factory=list)
    _held: deque[Job] = field(default_factory=deque)  # claimed ahead, not started
    _typical_seconds: float = PREFETCH_WINDOW  # moving average of recent run times

    @property
    def ref(self) -> WorkerRef:
        return WorkerRef(self.info.id, self.info.host)

    @property
    def queues(self) -> Sequence[str] | None:
        return self.info.queues or None

    def settings(self, now: datetime) -> Settings:
        if self._settings is None or (now - self._settings_at).total_seconds() >= SETTINGS_REFRESH_SECONDS:
            self._settings = Settings.from_stored(self.store.settings.load())
            self._settings_at = now
        return self._settings

    # -- the loop ---------------------------------------------------------
    def run(self) -> None:
        self.store.workers.register(self.info)
        log.info("worker %s started (pid %s, queues %s)", self.info.id, self.info.pid,
                 ", ".join(self.info.queues) or "all")
        try:
            while not self.stopping:
                if self.run_once() is None and not self.stopping:
                    self.waiter.wait(self.settings(self.clock.now()).poll_interval)
        finally:
            self.flush()
            self.store.workers.deregister(self.info.id)
            log.info("worker %s stopped", self.info.id)

    def run_once(self) -> Job | None:
        """Beat, recover lost jobs, write the last outcome and claim, run one job.

        None when nothing was due. The outcome of the job run here is written
        by the next call or by ``flush``.
        """
        now = self.clock.now()
        settings = self.settings(now)
        self.beat(now, None, settings)
        if self.stopping:
            return None
        if not self._held:
            outcomes, self._unsettled = self._unsettled, []
            recorded, claimed = self.store.jobs.settle_and_claim(
                outcomes, self.ref, now, now + _seconds(settings.lease_seconds), self.queues,
                limit=self._batch_size())
            _warn_discarded(outcomes, recorded)
            self._held.extend(claimed)
        if not self._held:
            return None
        job = self._held.popleft()
        if self._still_ours(job, settings):
            self.execute(job, settings)
        return job

    def _still_ours(self, job: Job, settings: Settings) -> bool:
        """A job claimed ahead may have waited its turn: renew a lease that has aged a third."""
        now = self.clock.now()
        if job.lease_until is not None and job.lease_until - now >= _seconds(settings.lease_seconds * 2 / 3):
            return True
        until = now + _seconds(settings.lease_seconds)
        if not self.store.jobs.renew_lease(job.id, job.lease_token or "", until):
            log.warning("job %s: lease lost before it started; not run", job.id)
            return False
        job.renew(until)
        return True

    @property
    def stopping(self) -> bool:
        return self.control.stop or self.control.stop_now

    def _batch_size(self) -> int:
        return max(1, min(PREFETCH_MAX, int(self.prefetch_window / max(self._typical_seconds, 1e-6))))

    def flush(self) -> None:
        """Write finished attempts still waiting for the next claim; hand back jobs claimed ahead."""
        now = self.clock.now()
        while self._held:
            job = self._held.popleft()
            token = job.lease_token or ""
            job.release(now, "released: not started (claimed ahead)")
            self._unsettled.append(Outcome(job, token))
        self._write_outcomes()

    def _write_outcomes(self) -> None:
        outcomes, self._unsettled = self._unsettled, []
        if outcomes:
            now = self.clock.now()
            recorded, _ = self.store.jobs.settle_and_claim(outcomes, self.ref, now, now, self.queues, limit=0)
            _warn_discarded(outcomes, recorded)

    def beat(self, now: datetime, current_job: str | None, settings: Settings) -> None:
        """Registry heartbeat and lost-job recovery, at most every lease/3."""
        if self._beat_at is not None and now < self._beat_at:
            return
        self._beat_at = now + _seconds(settings.lease_seconds / 3)
        if not self.store.workers.heartbeat(self.info.id, now, current_job):
            self.control.stop = True
        self.recover_lost(now, settings)

    def recover_lost(self, now: datetime, settings: Settings) -> int:
        recovered = 0
        for job in self.store.jobs.expired_leases(now):
            token = job.lease_token
            if token:
                self.runner.reap(job, token)
            job.lose_lease(now, BackoffPolicy.from_settings(settings))
            if token and self.store.jobs.record_outcome(job, token):
                log.warning("job %s: worker %s lost; attempt %d failed", job.id, job.worker, job.attempts)
                recovered += 1
        return recovered

    # -- one job ----------------------------------------------------------
    def execute(self, job: Job, settings: Settings) -> None:
        started = self.clock.now()
        lease = _Lease(job, job.lease_token or "", started + _seconds(settings.lease_seconds / 3),
                       started + _seconds(job.timeout) if job.timeout else None)
        handle = self.runner.start(job)
        result = self._supervise(lease, handle, settings)
        ended = self.clock.now()  # serves the run time and the outcome alike: one clock read fewer per job
        self._typical_seconds = 0.75 * self._typical_seconds + 0.25 * (ended - started).total_seconds()
        if result is not None:
            self._record(lease, result, settings, ended)

    def _supervise(self, lease: _Lease, handle: RunningCommand, settings: Settings) -> RunResult | None:
        """Run to the end, renewing the lease; None when the job is no longer ours."""
        if self._held or self._unsettled:
            result = handle.wait(self.prefetch_window)
            if result is not None:
                return result
            self.flush()  # a long one: nobody should wait for what this worker holds
        while True:
            now = self.clock.now()
            until = min(t for t in (lease.renew_at, lease.deadline) if t is not None)
            result = handle.wait(max(0.0, (until - now).total_seconds()))
            if result is not None:
                return result
            now = self.clock.now()
            if self.control.stop_now:
                self._release(lease, handle.kill("released: worker stopped"))
                return None
            if lease.deadline is not None and now >= lease.deadline:
                return handle.kill(f"timed out after {lease.job.timeout:g}s")
            # A renew is due, or something woke us early (a cancel, say): check the lease now.
            if not self._renew(lease, now, settings):
                handle.kill("lease lost")
                log.warning("job %s: lease lost or job cancelled; command killed", lease.job.id)
                return None

    def _renew(self, lease: _Lease, now: datetime, settings: Settings) -> bool:
        lease.renew_at = now + _seconds(settings.lease_seconds / 3)
        self.beat(now, lease.job.id, settings)
        return self.store.jobs.renew_lease(lease.job.id, lease.token, now + _seconds(settings.lease_seconds))

    def _release(self, lease: _Lease, result: RunResult) -> None:
        lease.job.release(self.clock.now())
        self.store.jobs.record_outcome(lease.job, lease.token, result.output)

    def _record(self, lease: _Lease, result: RunResult, settings: Settings, now: datetime) -> None:
        job = lease.job
        if result.error is None:
            job.succeed(now, result.exit_code or 0)
        else:
            job.fail(now, result.error, BackoffPolicy.from_settings(settings), result.exit_code)
        self._unsettled.append(Outcome(job, lease.token, result.output))
        if not self.store.jobs.settles_with_claim:
            self._write_outcomes()  # now: the next claim may be a slow round trip away


def _warn_discarded(outcomes: list[Outcome], recorded: list[bool]) -> None:
    for outcome, written in zip(outcomes, recorded):
        if not written:
            log.warning("job %s: outcome discarded, the lease was taken over", outcome.job.id)


def _seconds(value: float) -> timedelta:
    """Bounded first: a row stored before the bounds (a timeout of inf, NaN) must not end the worker."""
    return timedelta(seconds=bounded_seconds(value))

