"""Paused queues (SPEC 9.2 ``pause`` / ``resume``): what is paused, and what a claim may take.

The rule lives here once; every store keeps a ``Paused`` value and applies
``pause`` / ``resume`` to it atomically, and every claim asks ``claim_scope``
which queues it may take from, in the same atomic step as the claim.

``pause`` without queues pauses every queue, also queues first used after it.
``resume --queue X`` while every queue is paused lets X run and keeps the
others paused (pueue's ``start --group X`` after ``pause --all``): X is kept
in ``resumed`` until the next ``pause`` or ``resume`` of every queue.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Collection, Mapping, Sequence

from . import defaults
from .errors import InvalidJob
from .model import validate_id


@dataclass(frozen=True)
class ClaimScope:
    """The queues a claim may take from: ``only`` these (None: any queue), never those in ``skip``."""

    only: tuple[str, ...] | None = None
    skip: tuple[str, ...] = ()

    @property
    def nothing(self) -> bool:
        """Every queue the claim serves is paused: the store need not look at a job."""
        return self.only == ()

    def admits(self, queue: str) -> bool:
        return (self.only is None or queue in self.only) and queue not in self.skip


@dataclass(frozen=True)
class Paused:
    """``all``: every queue is paused except ``resumed``; otherwise exactly ``queues`` are.

    Normalised: ``queues`` is empty while ``all``, ``resumed`` empty otherwise.
    """

    all: bool = False
    queues: frozenset[str] = field(default_factory=frozenset)
    resumed: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.all and self.queues or not self.all and self.resumed:
            raise ValueError("Paused is normalised: queues only when not all, resumed only when all")

    def as_dict(self) -> dict[str, Any]:
        """``{"all": bool, "queues": [...], "resumed": [...]}``: what stores keep and ``--json`` shows."""
        return {"all": self.all, "queues": sorted(self.queues), "resumed": sorted(self.resumed)}

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any] | None) -> Paused:
        """What ``as_dict`` wrote (nothing stored: nothing paused)."""
        if not stored:
            return NOTHING_PAUSED
        if stored.get("all"):
            return cls(all=True, resumed=frozenset(stored.get("resumed") or ()))
        return cls(queues=frozenset(stored.get("queues") or ()))

    @property
    def anything(self) -> bool:
        return self.all or bool(self.queues)

    def is_paused(self, queue: str) -> bool:
        return queue not in self.resumed if self.all else queue in self.queues

    def pause(self, queues: Collection[str] | None) -> Paused:
        """Paused ``queues`` too (every queue when None)."""
        if queues is None:
            return Paused(all=True)
        names = queue_names(queues)
        if self.all:
            return Paused(all=True, resumed=self.resumed - names)
        return _bounded(Paused(queues=self.queues | names))

    def resume(self, queues: Collection[str] | None) -> Paused:
        """``queues`` running again (every queue when None)."""
        if queues is None:
            return Paused()
        names = queue_names(queues)
        if self.all:
            return _bounded(Paused(all=True, resumed=self.resumed | names))
        return Paused(queues=self.queues - names)

    def claim_scope(self, serving: Sequence[str] | None) -> ClaimScope:
        """What a worker serving ``serving`` (None or empty: every queue) may claim now.

        Asked on every claim, mostly about the same values: remembered (``_claim_scope``).
        """
        return _claim_scope(self, tuple(serving) if serving else None)


@functools.lru_cache(maxsize=64)
def _claim_scope(paused: Paused, serving: tuple[str, ...] | None) -> ClaimScope:
    if serving:
        return ClaimScope(only=tuple(name for name in serving if not paused.is_paused(name)))
    if paused.all:
        return ClaimScope(only=tuple(sorted(paused.resumed)))
    return ClaimScope(skip=tuple(sorted(paused.queues)))


NOTHING_PAUSED = Paused()


def queue_names(queues: Collection[str]) -> frozenset[str]:
    """Every name validated in full (the id pattern); at least one."""
    names = frozenset(validate_id(name, "queue name") for name in queues)
    if not names:
        raise InvalidJob("name at least one queue (or none at all, for every queue)")
    return names


def _bounded(paused: Paused) -> Paused:
    """Every claim reads the names: at most ``PAUSED_QUEUES_MAX`` of them."""
    if len(paused.queues | paused.resumed) > defaults.PAUSED_QUEUES_MAX:
        raise InvalidJob(f"at most {defaults.PAUSED_QUEUES_MAX} queues can be paused (or resumed while"
                         " every queue is paused) by name: pause every queue instead")
    return paused
