"""Live workers with the jobs each one runs now (SPEC 9.7: a worker runs up to ``slots`` jobs).

One read of the processing jobs serves both: ``live_workers`` takes it, and
the same jobs, grouped by the worker holding them (oldest first), are each
worker's running jobs. ``busy / slots`` is what the overview shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Page, WorkerInfo

SHOWN_RUNNING = 5  # the overview lists this many running jobs of a worker, then "+N more"


@dataclass(frozen=True)
class WorkerRow:
    worker: WorkerInfo
    running: list[Job] = field(default_factory=list)  # oldest first

    @property
    def busy(self) -> int:
        return self.worker.busy  # counted once, by ``live_workers``, from the same processing jobs


def worker_rows(jobs: Any) -> list[WorkerRow]:
    """Every live worker (oldest first) with the processing jobs it holds."""
    processing = jobs.list(Page(state=JobState.PROCESSING, limit=0))
    held: dict[str, list[Job]] = {}
    for job in processing:
        if job.worker:
            held.setdefault(job.worker, []).append(job)
    return [WorkerRow(worker, sorted(held.get(worker.id, []), key=lambda job: _started(job, worker)))
            for worker in jobs.live_workers(processing)]


def _started(job: Job, worker: WorkerInfo) -> tuple[datetime, str]:
    return job.started_at or worker.started_at, job.id
