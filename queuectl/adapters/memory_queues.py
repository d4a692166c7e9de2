"""InMemoryQueueControl: the paused queues of the in-memory store.

Kept on the job repository and written under its lock, so a pause and a claim
never interleave: every claim that starts after ``pause`` returned honours it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Collection

from queuectl.domain.pausing import Paused
from queuectl.domain.ports import QueueControl

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .memory import InMemoryJobRepository


class InMemoryQueueControl(QueueControl):
    def __init__(self, jobs: InMemoryJobRepository) -> None:
        self._jobs = jobs
        self._limits: dict[str, int] = {}  # storage only in this branch: claims do not read it yet

    def pause(self, queues: Collection[str] | None) -> Paused:
        with self._jobs._lock:
            self._jobs.paused = self._jobs.paused.pause(queues)
            return self._jobs.paused

    def resume(self, queues: Collection[str] | None) -> Paused:
        with self._jobs._lock:
            self._jobs.paused = self._jobs.paused.resume(queues)
            return self._jobs.paused

    def paused(self) -> Paused:
        return self._jobs.paused

    def set_limit(self, queue: str, limit: int) -> None:
        with self._jobs._lock:
            if limit:
                self._limits[queue] = limit
            else:
                self._limits.pop(queue, None)

    def limits(self) -> dict[str, int]:
        with self._jobs._lock:
            return dict(self._limits)
