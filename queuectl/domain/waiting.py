"""``wait``: block until jobs reach a final state, reading the store at most every ``poll_interval``.

Two kinds of wait:

- named jobs (``ids``): each is read until it is final; an unknown id is ``JobNotFound``.
- a queue, or every queue (no ids): done when the store counts no unfinished job there
  (jobs enqueued meanwhile count too); the result holds the jobs that reached a final
  state since the wait began.

Between reads it idles on an ``OutcomeWaiter``, which returns early when a job reaches a
final state on this host: a report about one of the jobs waited for (or the queue) reads
the store at once, any other report resumes the idle wait without a read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Sequence

from .model import FINAL, Job, JobState
from .ports import Clock, Finished, JobRepository, OutcomeWaiter, Page
from .timeutil import bounded_timedelta

UNFINISHED = frozenset(JobState) - FINAL


@dataclass(frozen=True)
class WaitResult:
    jobs: list[Job] = field(default_factory=list)  # the jobs that reached a final state
    unfinished: int = 0  # jobs still not final when the timeout expired

    @property
    def timed_out(self) -> bool:
        return self.unfinished > 0

    @property
    def failed(self) -> list[Job]:
        """The final jobs that did not complete (dead or cancelled)."""
        return [job for job in self.jobs if job.state is not JobState.COMPLETED]

    @property
    def ok(self) -> bool:
        return not self.timed_out and not self.failed


class JobWait:
    """One wait, from its first read to its result."""

    def __init__(self, jobs: JobRepository, clock: Clock, waiter: OutcomeWaiter, ids: Sequence[str],
                 queue: str | None, poll: float, timeout: float | None, started: datetime | None = None) -> None:
        self.jobs, self.clock, self.waiter, self.poll = jobs, clock, waiter, poll
        self.queue = queue
        self.order = list(dict.fromkeys(ids))
        self.pending = list(self.order)  # named jobs not final yet
        self.named = bool(ids)
        self.final: dict[str, Job] = {}
        self.started = clock.now() if started is None else started  # before anything can end unseen
        self.since = self.started.replace(microsecond=self.started.microsecond // 1000 * 1000)  # stores keep ms
        self.deadline = None if timeout is None else self.started + bounded_timedelta(timeout)

    def run(self) -> WaitResult:
        while True:
            unfinished = self._read()
            if not unfinished:
                return WaitResult(self._final_jobs())
            left = self._left(self.clock.now())
            if left is not None and left <= 0:
                return WaitResult(self._final_jobs(), unfinished)
            self._idle(self.poll if left is None else min(self.poll, left))

    def _left(self, now: datetime) -> float | None:
        return None if self.deadline is None else (self.deadline - now).total_seconds()

    def _read(self) -> int:
        """One look at the store: how many of the jobs waited for are not final yet."""
        if not self.named:
            return self.jobs.count(UNFINISHED, self.queue)
        for job_id in list(self.pending):
            job = self.jobs.get(job_id)
            if job.state in FINAL:
                self.final[job_id] = job
                self.pending.remove(job_id)
        return len(self.pending)

    def _idle(self, seconds: float) -> None:
        """Idle ``seconds``, or until this host reports a job waited for as finished."""
        until = self.clock.now() + bounded_timedelta(seconds)
        while (left := (until - self.clock.now()).total_seconds()) > 0:
            if any(self._concerns(finished) for finished in self.waiter.wait(left)):
                return

    def _concerns(self, finished: Finished) -> bool:
        if finished == Finished.UNKNOWN:
            return True
        if self.named:
            return finished.job_id in self.pending
        return self.queue is None or finished.queue == self.queue

    def _final_jobs(self) -> list[Job]:
        if self.named:
            return [self.final[job_id] for job_id in self.order if job_id in self.final]
        return [job for state in sorted(FINAL) for job in self.jobs.list(Page(state=state, queue=self.queue, limit=0))
                if job.finished_at is not None and job.finished_at >= self.since]
