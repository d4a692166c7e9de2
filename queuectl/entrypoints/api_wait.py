"""``Client.wait``: ``JobService.wait`` (the CLI's ``wait``), its timeout raised as ``WaitTimeout``.

The service reads the store at most every ``poll_interval`` and wakes at once
when a worker on this host reports a job final.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from queuectl.domain.errors import QueuectlError
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


def wait_for(service: "JobService", ids: Sequence[str], queue: str | None,
             timeout: float | None) -> list["StoredJob"]:
    """The jobs ``ids`` (or, with none, every job of ``queue`` or of the store that became final
    meanwhile) once all are final; ``WaitTimeout`` after ``timeout`` seconds."""
    from queuectl.domain.model import validate_timeout

    if timeout is not None:
        validate_timeout(timeout)
    result = service.wait(ids, queue, timeout)
    if result.timed_out:
        raise WaitTimeout(timeout or 0, result.unfinished, [Job.of(job) for job in result.jobs])
    return result.jobs
