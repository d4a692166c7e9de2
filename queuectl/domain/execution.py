"""Claim -> run -> record: what one worker does, independent of processes and stores.

The worker loop keeps its lease alive while a command runs, enforces the
job's timeout, recovers jobs whose worker vanished, and writes an outcome only
while its fencing token still holds the job. A store that stops answering is
an outage to ride out (``outage.py``): calls are retried with backoff while a
running command keeps running, and the work resumes when the store answers.
"""

from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Sequence, TypeVar

from . import defaults
from .backoff import BackoffPolicy
from .errors import JobNotFound, OutcomeRejected, StoreLost, StoreUnavailable
from .model import FINAL, WAITING, Job
from .ports import Clock, Outcome, OutputFiles, Store, Waiter, WorkerInfo, WorkerRef
from .outage import Outage
from .settings import Settings
from .timeutil import bounded_seconds

log = logging.getLogger(__name__)
T = TypeVar("T")

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
    def start(self, job: Job, output_max: int = defaults.OUTPUT_MAX) -> RunningCommand:
        """Start the job's current attempt, keeping at most ``output_max`` bytes of its output."""

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
    expires: datetime | None  # the lease last granted: past it, another worker may run the job

    def lapsed(self, now: datetime) -> bool:
        return self.expires is not None and now >= self.expires


@dataclass
class Worker:
    store: Store
    clock: Clock
    runner: CommandRunner
    waiter: Waiter
    info: WorkerInfo
    control: WorkerControl = field(default_factory=WorkerControl)
    outputs: OutputFiles | None = None  # this host's output files: lost attempts' output, retention
    _settings: Settings | None = None
    _settings_at: datetime | None = None
    _beat_at: datetime | None = None
    # Finished attempts not yet written: each is written together with the
    # next claim, in one store transaction, right after the command ends.
    prefetch_window: float = PREFETCH_WINDOW
    _unsettled: list[Outcome] = field(default_factory=list)
    _held: deque[Job] = field(default_factory=deque)  # claimed ahead, not started
    _typical_seconds: float = PREFETCH_WINDOW  # moving average of recent run times
    outage: Outage = field(default_factory=Outage)
    prune_batch: int = defaults.PRUNE_BATCH  # final jobs deleted per retention tick
    # True where the store's ``settle_and_claim`` is one local transaction (SQLite, memory): a finished
    # job's outcome waits for the next claim. False for a networked store (MongoDB): each outcome is
    # written the moment its command ends, as the next claim may be a slow round trip away and the
    # lease must not run out between the end and the write. The container chooses per store kind.
    outcomes_ride_with_claim: bool = True
    _prune_at: datetime | None = None

    @property
    def ref(self) -> WorkerRef:
        return WorkerRef(self.info.id, self.info.host)

    @property
    def queues(self) -> Sequence[str] | None:
        return self.info.queues or None

    def settings(self, now: datetime) -> Settings:
        """The stored settings, re-read every few seconds; the last ones read while the store is out.

        A read that succeeds does not end an outage: SQLite serves reads while
        another process holds the write lock.
        """
        if self._settings is not None and (now - self._settings_at).total_seconds() < SETTINGS_REFRESH_SECONDS:
            return self._settings
        if self._settings is None:
            stored = self._call(self.store.settings.load)
        else:
            try:
                stored = self.store.settings.load()
            except StoreUnavailable as error:
                self.outage.failed(error, now)
                self._settings_at = now
                return self._settings
        self._settings, self._settings_at = Settings.from_stored(stored), now
        return self._settings

    # -- store calls through an outage ------------------------------------
    def _call(self, action: Callable[[], T], patient: bool = True) -> T:
        """``action()``, tried again with backoff while the store is unavailable.

        Gives up (raises ``StoreUnavailable``) at once when not ``patient``,
        else once the worker is asked to stop. ``action`` is called afresh
        each time, so it reads the clock itself.
        """
        while True:
            try:
                result = action()
            except StoreUnavailable as error:
                pause = self.outage.failed(error, self.clock.now())
                if self.stopping or not patient:
                    raise
                self.waiter.wait(pause)
                continue
            self._answered()
            return result

    def _answered(self) -> None:
        if self.outage.down:
            self.outage.answered(self.clock.now())

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
        wait = min(self.settings(now).poll_interval, SETTINGS_REFRESH_SECONDS)
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
        _warn_discarded(outcomes, recorded)
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
        return max(1, min(PREFETCH_MAX, int(self.prefetch_window / max(self._typical_seconds, 1e-6))))

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

    def beat(self, now: datetime, current_job: str | None, settings: Settings) -> None:
        """Registry heartbeat and lost-job recovery, at most every lease/3; sooner again after a failure."""
        if self._beat_at is not None and now < self._beat_at:
            return
        try:
            alive = self.store.workers.heartbeat(self.info.id, now, current_job)
            if not self.outage.settling(now):  # just back: let live workers renew their leases first
                self.recover_lost(now, settings)
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

    # -- one job ----------------------------------------------------------
    def execute(self, job: Job, settings: Settings) -> None:
        started = self.clock.now()
        lease = _Lease(job, job.lease_token or "", started + _seconds(settings.lease_seconds / 3),
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

    def _supervise(self, lease: _Lease, handle: RunningCommand, settings: Settings) -> RunResult | None:
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
        lease.renew_at = now + _seconds(settings.lease_seconds / 3)
        if held:
            lease.expires = until
            self.beat(now, lease.job.id, settings)
        return held

    def _abandon(self, lease: _Lease, handle: RunningCommand, settings: Settings) -> None:
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

    def _release(self, lease: _Lease, result: RunResult) -> None:
        now = self.clock.now()
        lease.job.release(now)
        history_max = self._settings.history_max if self._settings else defaults.HISTORY_MAX
        self._unsettled.append(Outcome(lease.job, lease.token, result.output, history_max))  # written as it leaves

    def _record(self, lease: _Lease, result: RunResult, settings: Settings, now: datetime) -> None:
        job = lease.job
        if result.error is None:
            job.succeed(now, result.exit_code or 0)
        else:
            job.fail(now, result.error, BackoffPolicy.from_settings(settings), result.exit_code)
        self._unsettled.append(Outcome(job, lease.token, result.output, settings.history_max))
        if not self.outcomes_ride_with_claim:
            self._write_outcomes()

    # -- what the store refuses for good (SPEC 9.4) ------------------------
    def _write(self, outcome: Outcome) -> bool:
        """One outcome written at once (a lost job's, a released one's)."""
        try:
            return self.store.jobs.record_outcome(outcome.job, outcome.token, outcome.output, outcome.history_max)
        except OutcomeRejected as rejected:
            self._bury(rejected, [outcome])
            return False

    def _bury(self, rejected: OutcomeRejected, outcomes: list[Outcome]) -> list[Outcome]:
        """Close ``dead`` the job whose outcome (or claim) was refused; returns the other outcomes."""
        mine = next((o for o in outcomes if o.job.id == rejected.job_id), None)
        try:
            job = mine.job if mine else self.store.jobs.get(rejected.job_id)
        except JobNotFound:  # removed meanwhile: nothing left to close
            return outcomes
        if mine is not None or job.state in WAITING:
            job.refuse(self.clock.now(), rejected.reason, ran=mine is not None)
            if self.store.jobs.bury(job, mine.token if mine else None):
                log.error("%s; job %s is dead", rejected, job.id)
        return [o for o in outcomes if o is not mine]


def _warn_discarded(outcomes: list[Outcome], recorded: list[bool]) -> None:
    for outcome, written in zip(outcomes, recorded):
        if not written:
            log.warning("job %s: outcome discarded, the lease was taken over", outcome.job.id)


def _seconds(value: float) -> timedelta:
    """Bounded first: a row stored before the bounds (a timeout of inf, NaN) must not end the worker."""
    return timedelta(seconds=bounded_seconds(value))

