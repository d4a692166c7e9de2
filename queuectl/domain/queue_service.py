"""Pausing and resuming queues: the use cases behind ``pause``, ``resume``, the dashboard and ``status``."""

from __future__ import annotations

from typing import Sequence

from .errors import QueuectlError
from .pausing import Paused
from .ports import Notifier, Store


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

    # Dashboard branch scaffolding: the "limits" branch has the real versions (every store keeps
    # limits there); until it is merged, a store without them has no limits and refuses to set one.
    def set_limit(self, queue: str, limit: int) -> None:
        """At most ``limit`` jobs of ``queue`` run at once across all workers; 0 removes the limit."""
        setter = getattr(self.store.queues, "set_limit", None)
        if setter is None:
            raise QueuectlError("this store does not keep queue limits")
        self.store.create()
        setter(queue, limit)

    def limits(self) -> dict[str, int]:
        """Each limited queue's most running jobs."""
        limits = getattr(self.store.queues, "limits", None)
        return limits() if limits is not None else {}
