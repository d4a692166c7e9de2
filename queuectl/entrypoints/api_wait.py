"""``Client.wait``: block until named jobs are final, reading the store every ``poll_interval``.

The CLI's ``wait`` (SPEC 9.2) is one service call in branch i13-obs; until it
is in main this reads each unfinished job at most every ``poll_interval``
seconds (the shared setting an idle worker polls at).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence

from queuectl.domain.errors import QueuectlError
from queuectl.domain.model import FINAL
from queuectl.domain.timeutil import duration_text

from .api_job import Job

if TYPE_CHECKING:
    from queuectl.domain.model import Job as StoredJob
    from queuectl.domain.services import JobService


class WaitTimeout(QueuectlError):
    """``wait``'s timeout expired: ``jobs`` are those already final, ``unfinished`` how many were not."""

    def __init__(self, timeout: float, unfinished: int, jobs: Sequence[Job] = ()) -> None:
        super().__init__(timeout_message(timeout, unfinished))
        self.unfinished = unfinished
        self.jobs = list(jobs)


def timeout_message(timeout: float, unfinished: int) -> str:
    """The CLI's ``wait --timeout`` line, without ``Error: ``."""
    return f"timed out after {duration_text(timeout)}: {unfinished} job{'s' if unfinished != 1 else ''} " \
           "still unfinished"


def wait_for(service: "JobService", ids: Sequence[str], timeout: float | None) -> list["StoredJob"]:
    """The jobs ``ids`` once every one is final, in that order; ``WaitTimeout`` after ``timeout`` s."""
    from queuectl.domain.model import validate_timeout

    if timeout is not None:
        validate_timeout(timeout)
    order = list(dict.fromkeys(ids))
    final: dict[str, StoredJob] = {}
    poll = service.settings().poll_interval
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for job_id in order:
            if job_id not in final and (job := service.get(job_id)).state in FINAL:
                final[job_id] = job
        unfinished = len(order) - len(final)
        if not unfinished:
            return [final[job_id] for job_id in order]
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise WaitTimeout(timeout or 0, unfinished, [Job.of(final[i]) for i in order if i in final])
        time.sleep(poll if left is None else min(poll, left))
