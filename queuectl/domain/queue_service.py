"""Pausing, resuming and limiting queues: the use cases behind ``pause``, ``resume``, ``queue limit``,
``queue list``, the dashboard and ``status``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from .limits import with_limit
from .model import JobState
from .pausing import Paused
from .ports import Notifier, Store


@dataclass(frozen=True)
class QueueSummary:
    """One queue in ``queue list``: its jobs per state (every state), its limit (None: none), paused or not."""

    name: str
    jobs: Mapping[JobState, int]
    limit: int | None
    paused: bool


def summarise(counts: Mapping[str, Mapping[JobState, int]], limits: Mapping[str, int],
              paused: Paused) -> list[QueueSummary]:
    """Every known queue (with jobs, a limit, or paused or resumed by name), by name."""
    names = set(counts) | set(limits) | paused.queues | paused.resumed
    zeros = {state: 0 for state in JobState}
    return [QueueSummary(name, {**zeros, **counts.get(name, {})}, limits.get(name), paused.is_paused(name))
            for name in sorted(names)]


class QueueService:
    def __init__(self, store: Store, notifier: Notifier | None = None) -> None:
        self.store = store
        self.notifier = notifier

    def pause(self, queues: Sequence[str] | None) -> Paused:
        """No job of ``queues`` (of any queue, also one first used later, when None) is claimed
        from now on; running jobs go on. Returns what is paused now."""
        self.store.create()  # a writing use case creates a missing store
        return self.store.queues.pause(queues)

    def resume(self, queues: Sequence[str] | None) -> Paused:
        """``queues`` (every queue when None) run again; idle workers on this host claim at once."""
        self.store.create()
        paused = self.store.queues.resume(queues)
        if self.notifier is not None:
            self.notifier.jobs_changed()
        return paused

    def paused(self) -> Paused:
        return self.store.queues.paused()

    def set_limit(self, queue: str, limit: int) -> int:
        """At most ``limit`` jobs of ``queue`` run at once across every worker (0: no limit); returns it.

        Checked before the store is touched (``InvalidJob``: nothing stored)."""
        with_limit({}, queue, limit)
        self.store.create()
        self.store.queues.set_limit(queue, limit)
        if self.notifier is not None:  # a higher limit, or none, lets idle workers claim
            self.notifier.jobs_changed()
        return limit

    def limits(self) -> dict[str, int]:
        return self.store.queues.limits()

    def summaries(self) -> list[QueueSummary]:
        """``queue list``: every known queue with its counts per state, limit and pause."""
        return summarise(self.store.jobs.count_by_queue(), self.store.queues.limits(), self.store.queues.paused())
