"""Claim -> run -> record: what one worker does, independent of processes and stores.

The worker loop keeps its lease alive while a command runs, enforces the
job's timeout, recovers jobs whose worker vanished, and writes an outcome only
while its fencing token still holds the job. A store that stops answering is
an outage to ride out (``outage.py``): calls are retried with backoff while a
running command keeps running, and the work resumes when the store answers.

The loop and its claiming live here; the rest is split by concern and mixed in:
``store_calls`` (calls through an outage), ``upkeep`` (heartbeat, recovery,
retention), ``supervision`` (one job's lease and command), ``refusals`` (what
the store refuses for good). The command-runner port is in ``commands``,
re-exported here.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from . import defaults
from .commands import CommandRunner, RunningCommand, RunResult
from .errors import OutcomeRejected, StoreLost, StoreUnavailable
from .model import Job
from .outage import Outage
from .ports import Clock, Notifier, Outcome, OutputFiles, Store, Waiter, WorkerInfo, WorkerRef
from .refusals import RefusedOutcomes, warn_discarded
from .schedule_service import ScheduleRunner
from .settings import Settings
from .store_calls import StoreCalls
from .supervision import JobSupervision
from .timeutil import bounded_timedelta as _seconds
from .upkeep import Upkeep

__all__ = ["CommandRunner", "RunResult", "RunningCommand", "Worker", "WorkerControl"]

log = logging.getLogger(__name__)

# A worker claims ahead as many jobs as it expects to finish in ``defaults.PREFETCH_WINDOW``:
# short jobs then cost one store transaction per batch instead of one each. If a job runs
# past the window, the jobs claimed ahead are handed back at once, unrun and uncounted,
# so no other worker waits behind it.


@dataclass
class WorkerControl:
    """Stop requests, set from signal handlers or the registry."""

    stop: bool = False       # finish the current job, then exit
    stop_now: bool = False   # kill the current job, release it, exit


@dataclass
class Worker(StoreCalls, Upkeep, JobSupervision, RefusedOutcomes):
    store: Store
    clock: Clock
    runner: CommandRunner
    waiter: Waiter
    info: WorkerInfo
    control: WorkerControl = field(default_factory=WorkerControl)
    outputs: OutputFiles | None = None  # this host's output files: lost attempts' output, retention
    notifier: Notifier | None = None  # tells this host's ``wait``s when a job reached a final state
    _settings: Settings | None = None
    _settings_at: datetime | None = None
    _beat_at: datetime | None = None
    # Finished attempts not yet written: each is written together with the
    # next claim, in one store transaction, right after the command ends.
    prefetch_window: float = defaults.PREFETCH_WINDOW
    _unsettled: list[Outcome] = field(default_factory=list)
    _held: deque[Job] = field(default_factory=deque)  # claimed ahead, not started
    _typical_seconds: float = defaults.PREFETCH_WINDOW  # moving average of recent run times
    outage: Outage = field(default_factory=Outage)
    prune_batch: int = defaults.PRUNE_BATCH  # final jobs deleted per retention tick
    # True where the store's ``settle_and_claim`` is one local transaction (SQLite, memory): a finished
    # job's outcome waits for the next claim. False for a networked store (MongoDB): each outcome is
    # written the moment its command ends, as the next claim may be a slow round trip away and the
    # lease must not run out between the end and the write. The container chooses per store kind.
    outcomes_ride_with_claim: bool = True
    _prune_at: datetime | None = None
    scheduler: ScheduleRunner | None = None  # enqueues schedules' due runs (the container provides it)

    @property
    def ref(self) -> WorkerRef:
        return WorkerRef(self.info.id, self.info.host)

    @property
    def queues(self) -> Sequence[str] | None:
        return self.info.queues or None

    # -- the loop ---------------------------------------------------------
    def run(self) -> None:
        self._call(lambda: self.store.workers.register(self.info))
        log.info("worker %s started (pid %s, queues %s)", self.info.id, self.info.pid,
                 ", ".join(self.info.queues) or "all")
        lost = False
        try:
            while not self.stopping:
                try:
                    idle = self.run_once() is None
                except StoreUnavailable as error:  # stopping, or a call not retried in place: the loop retries
                    if not self.stopping:
                        self.waiter.wait(self.outage.failed(error, self.clock.now()))
                    continue
                if idle and not self.stopping:
                    self.waiter.wait(self._idle_seconds())
        except StoreLost as error:
            lost = True
            log.error("stopping: %s", error)
            raise
        finally:
            if not lost:
                self._leave()
            log.info("worker %s stopped", self.info.id)

    def _idle_seconds(self) -> float:
        """The poll interval, cut short by the next heartbeat and settings refresh."""
        now = self.clock.now()
        wait = min(self.settings(now).poll_interval, defaults.SETTINGS_REFRESH_SECONDS)
        if self._beat_at is not None:
            wait = min(wait, (self._beat_at - now).total_seconds())
        return max(0.0, wait)

    def _leave(self) -> None:
        """Write what can be written and deregister; an outage does not hold the exit up."""
        try:
            self.flush()
            self._call(lambda: self.store.workers.deregister(self.info.id))
        except StoreUnavailable as error:
            log.warning("exiting while the store is unavailable (%s): jobs this worker could not"
                        " record are recovered once their lease ends", error)

    def run_once(self) -> Job | None:
        """Beat, recover lost jobs, write the last outcome and claim, run one job.

        None when nothing was due. The outcome of the job run here is written
        by the next call or by ``flush``.
        """
        now = self.clock.now()
        settings = self.settings(now)
        self.beat(now, None, settings)
        self.prune_expired(now, settings)
        self.enqueue_scheduled(now, settings)
        if self.stopping:
            return None
        if not self._held:
            self._held.extend(self._settle_and_claim(settings.lease_seconds, self._batch_size()))
        if not self._held:
            return None
        job = self._held.popleft()
        if self._still_ours(job, settings):
            self.execute(job, settings)
        return job

    def _settle_and_claim(self, lease_seconds: float, limit: int, patient: bool = True) -> list[Job]:
        """Write the finished attempts and claim up to ``limit`` jobs (0: only write), through an outage.

        A job whose outcome (or claim) the store refuses for good is closed dead and the rest written.
        """
        outcomes, taken = self._unsettled, len(self._unsettled)

        def attempt() -> tuple[list[bool], list[Job]]:
            nonlocal outcomes
            while True:
                now = self.clock.now()
                until = now + _seconds(lease_seconds) if limit else now
                try:
                    return self.store.jobs.settle_and_claim(outcomes, self.ref, now, until, self.queues,
                                                            limit=limit)
                except OutcomeRejected as rejected:
                    outcomes = self._bury(rejected, outcomes)

        recorded, claimed = self._call(attempt, patient)  # on giving up, the outcomes stay unsettled
        self._unsettled = self._unsettled[taken:]
        self._report_final([o.job for o, written in zip(outcomes, recorded) if written])
        warn_discarded(outcomes, recorded)
        return claimed

    def _still_ours(self, job: Job, settings: Settings) -> bool:
        """A job claimed ahead may have waited its turn: renew a lease that has aged a third."""
        now = self.clock.now()
        if job.lease_until is not None and job.lease_until - now >= _seconds(settings.lease_seconds * 2 / 3):
            return True

        def renew() -> datetime | None:
            until = self.clock.now() + _seconds(settings.lease_seconds)
            return until if self.store.jobs.renew_lease(job.id, job.lease_token or "", until) else None

        try:
            until = self._call(renew)
        except StoreUnavailable:
            self._held.appendleft(job)  # stopping: handed back (or left to its lease) with the others
            raise
        if until is None:
            log.warning("job %s: lease lost before it started; not run", job.id)
            return False
        job.renew(until)
        return True

    @property
    def stopping(self) -> bool:
        return self.control.stop or self.control.stop_now

    def _batch_size(self) -> int:
        return max(1, min(defaults.PREFETCH_MAX, int(self.prefetch_window / max(self._typical_seconds, 1e-6))))

    def flush(self, patient: bool = True) -> None:
        """Write finished attempts still waiting for the next claim; hand back jobs claimed ahead."""
        now = self.clock.now()
        while self._held:
            job = self._held.popleft()
            token = job.lease_token or ""
            job.release(now, "released: not started (claimed ahead)")
            self._unsettled.append(Outcome(job, token))
        self._write_outcomes(patient)

    def _write_outcomes(self, patient: bool = True) -> None:
        if self._unsettled:
            self._settle_and_claim(0.0, 0, patient)
