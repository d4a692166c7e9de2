"""What the store refuses for good (SPEC 9.4): the job is closed dead, the rest written."""

from __future__ import annotations

import logging
from typing import Sequence

from .errors import JobNotFound, OutcomeRejected
from .model import FINAL, WAITING, Job
from .ports import Clock, Finished, Notifier, Outcome, Store

log = logging.getLogger("queuectl.domain.execution")


class RefusedOutcomes:
    """Mixed into ``Worker``: writing one outcome, and burying a job whose outcome cannot be written."""

    store: Store
    clock: Clock
    notifier: Notifier | None

    def _report_final(self, jobs: Sequence[Job]) -> None:
        """Wake this host's ``wait``s for the written jobs that are now final (best effort)."""
        final = [Finished(job.id, job.queue) for job in jobs if job.state in FINAL]
        if final and self.notifier is not None:
            try:
                self.notifier.jobs_finished(final)
            except Exception as error:  # a wake-up is never worth a worker
                log.warning("could not wake waiters: %s", error)

    def _write(self, outcome: Outcome) -> bool:
        """One outcome written at once (a lost job's, a released one's)."""
        try:
            written = self.store.jobs.record_outcome(outcome.job, outcome.token, outcome.output,
                                                     outcome.history_max)
            if written:
                self._report_final([outcome.job])
            return written
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
                self._report_final([job])
        return [o for o in outcomes if o is not mine]


def warn_discarded(outcomes: list[Outcome], recorded: list[bool]) -> None:
    for outcome, written in zip(outcomes, recorded):
        if not written:
            log.warning("job %s: outcome discarded, the lease was taken over", outcome.job.id)

