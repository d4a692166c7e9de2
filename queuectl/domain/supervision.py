"""One job: start its command, keep its lease alive while it runs, enforce its timeout, keep its outcome.

A lapsed lease with no outage seen means this worker was paused: the command
is killed first (SPEC 9.4). Through an outage the command runs on and the
renewal decides.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime

from .backoff import BackoffPolicy
from .commands import CommandRunner, RunningCommand, RunResult
from .errors import StoreUnavailable
from .model import Job
from .outage import Outage
from .retry_rules import Failure
from .ports import Clock, Outcome, Store
from .settings import Settings
from .timeutil import bounded_timedelta as _seconds

log = logging.getLogger("queuectl.domain.execution")


@dataclass
class Lease:
    """The lease on the one job running here, and when to renew it."""

    job: Job
    token: str
    renew_at: datetime
    deadline: datetime | None
    expires: datetime | None  # the lease last granted: past it, another worker may run the job

    def lapsed(self, now: datetime) -> bool:
        return self.expires is not None and now >= self.expires


class JobSupervision:
    """Mixed into ``Worker``: running one claimed job to its outcome."""

    store: Store
    clock: Clock
    runner: CommandRunner
    outage: Outage
    prefetch_window: float
    outcomes_ride_with_claim: bool
    _unsettled: list[Outcome]
    _settings: Settings | None
    _typical_seconds: float

    def execute(self, job: Job, settings: Settings) -> None:
        started = self.clock.now()
        lease = Lease(job, job.lease_token or "", started + _seconds(settings.lease_seconds / 3),
                       started + _seconds(job.timeout) if job.timeout else None, job.lease_until)
        handle = self.runner.start(job, settings.output_max)
        try:
            result = self._supervise(lease, handle, settings)
        except BaseException:  # the store was lost, say: no command outlives its worker
            handle.kill("worker stopped")
            raise
        ended = self.clock.now()  # serves the run time and the outcome alike: one clock read fewer per job
        self._typical_seconds = 0.75 * self._typical_seconds + 0.25 * (ended - started).total_seconds()
        if result is not None:
            self._record(lease, result, settings, ended)

    def _supervise(self, lease: Lease, handle: RunningCommand, settings: Settings) -> RunResult | None:
        """Run to the end, renewing the lease; None when the job is no longer ours."""
        if self._held or self._unsettled:
            result = handle.wait(self.prefetch_window)
            if result is not None:
                return result
            if not lease.lapsed(self.clock.now()):
                with contextlib.suppress(StoreUnavailable):  # if the store is out, they wait for the next claim
                    self.flush(patient=False)  # a long one: nobody should wait for what this worker holds
        while True:
            now = self.clock.now()
            until = min(t for t in (lease.renew_at, lease.deadline) if t is not None)
            result = handle.wait(max(0.0, (until - now).total_seconds()))
            if result is not None:
                return result
            now = self.clock.now()
            if lease.lapsed(now) and not self.outage.down:
                # Past the lease without having seen the store fail: this worker was paused (SIGSTOP,
                # a suspended VM) and another may run the job already. Kill first, then ask.
                # Through an outage it saw, the command runs on and the renewal decides (SPEC 9.4).
                self._abandon(lease, handle, settings)
                return None
            if self.control.stop_now:
                self._release(lease, handle.kill("released: worker stopped"), settings)
                return None
            if lease.deadline is not None and now >= lease.deadline:
                return replace(handle.kill(f"timed out after {lease.job.timeout:g}s"), timed_out=True)
            # A renew is due, or something woke us early (a cancel, say): check the lease now.
            if not self._renew(lease, now, settings):
                handle.kill("lease lost")
                log.warning("job %s: lease lost or job cancelled; command killed", lease.job.id)
                return None

    def _renew(self, lease: Lease, now: datetime, settings: Settings) -> bool:
        """False when the lease is gone; True when renewed, or when the store did not answer
        (the command keeps running and the renewal is tried again soon).

        The lease first, then the heartbeat and its recovery of expired
        leases: after an outage longer than the lease, this job's own lease
        is among the expired ones, and it is still running here.
        """
        until = now + _seconds(settings.lease_seconds)
        try:
            held = self.store.jobs.renew_lease(lease.job.id, lease.token, until)
        except StoreUnavailable as error:
            lease.renew_at = now + _seconds(self.outage.failed(error, now))
            return True
        self._answered()
        lease.renew_at = now + _seconds(settings.lease_seconds / 3)
        if held:
            lease.expires = until
            self.beat(now, lease.job.id, settings)
            self.enqueue_scheduled(now, settings)  # a long job does not hold up schedules' runs
        return held

    def _abandon(self, lease: Lease, handle: RunningCommand, settings: Settings) -> None:
        """Woken past the lease (paused): kill first, as another host may run the job already, then
        ask the store. The attempt counts as lost, unless whoever took the job over said so first;
        with the store out, whoever recovers the expired lease records it."""
        result = handle.kill("lease lost")
        lease.job.lose_lease(self.clock.now(), BackoffPolicy.from_settings(settings))
        try:
            written = self._write(Outcome(lease.job, lease.token, result.output, settings.history_max))
        except StoreUnavailable:
            written = False
        if written:
            log.warning("job %s: lease ran out while this worker was paused; command killed", lease.job.id)
        else:
            log.warning("job %s: taken over while this worker was paused (or the store is out); "
                        "command killed, outcome left to whoever recovers the lease", lease.job.id)

    def _release(self, lease: Lease, result: RunResult, settings: Settings) -> None:
        lease.job.release(self.clock.now())
        # written as the worker leaves
        self._unsettled.append(Outcome(lease.job, lease.token, result.output, settings.history_max))

    def _record(self, lease: Lease, result: RunResult, settings: Settings, now: datetime) -> None:
        job = lease.job
        if result.error is None:
            job.succeed(now, result.exit_code or 0)
        else:
            job.fail(now, result.error, BackoffPolicy.from_settings(settings), result.exit_code,
                     Failure.of(result.exit_code, result.timed_out))
        self._unsettled.append(Outcome(job, lease.token, result.output, settings.history_max))
        if not self.outcomes_ride_with_claim:
            self._write_outcomes()
