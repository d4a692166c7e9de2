"""Per-queue limits (SPEC 9.7 ``queue limit NAME N``): at most N jobs of a queue run at once.

The rules live here once. Every store keeps the limits as ``{queue: N}`` and
changes them through ``with_limit``; every claim, in its own atomic step,
counts the running (``processing``) jobs of the limited queues it could take
from and lets a ``Budget`` decide which of the due jobs it reads it may take:
a full queue's jobs are skipped, and a batch takes no more of a queue than
the queue has free. A processing job whose lease expired still counts until
it is recovered: its worker may only be paused, and the command still running.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from . import defaults
from .errors import InvalidJob
from .model import quoted, validate_id


def validate_limit(value: object) -> int:
    """A queue's limit: a whole number 0..``QUEUE_LIMIT_MAX`` (0: no limit)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= defaults.QUEUE_LIMIT_MAX:
        raise InvalidJob(f"invalid queue limit {quoted(value)}: use a whole number from 0 (no limit)"
                         f" to {defaults.QUEUE_LIMIT_MAX}")
    return value


def with_limit(limits: Mapping[str, int], queue: object, limit: object) -> dict[str, int]:
    """``limits`` with ``queue`` limited to ``limit`` (0: its limit removed); both validated in full."""
    name, limit = validate_id(queue, "queue name"), validate_limit(limit)
    changed = dict(limits)
    if limit:
        changed[name] = limit
    else:
        changed.pop(name, None)
    if len(changed) > defaults.LIMITED_QUEUES_MAX:
        raise InvalidJob(f"at most {defaults.LIMITED_QUEUES_MAX} queues can have a limit")
    return changed


def relevant(limits: Mapping[str, int], serving: Sequence[str] | None) -> list[str]:
    """The limited queues a worker serving ``serving`` (None or empty: every queue) could take from, sorted
    (the order PostgreSQL locks their rows in: two claims never wait for each other in a cycle)."""
    return sorted(limits if not serving else set(limits) & set(serving))


class Budget:
    """What one claim may still take: ``wanted`` jobs, at most ``free[q]`` of each limited queue ``q``.

    A claim reads due jobs in claim order (never of the queues in ``full``),
    asks ``take`` which of them it keeps, and reads again only if ``again``:
    it skipped a job of a queue that is now full and still wants more. Each
    new read skips one more queue, so a claim reads at most once per limited queue more.
    """

    def __init__(self, limits: Mapping[str, int], running: Mapping[str, int], wanted: int) -> None:
        self.free = {queue: max(limit - running.get(queue, 0), 0) for queue, limit in limits.items()}
        self.wanted = wanted
        self._skipped = False

    @property
    def full(self) -> tuple[str, ...]:
        return tuple(sorted(queue for queue, free in self.free.items() if free <= 0))

    def take(self, queues: Iterable[str]) -> list[int]:
        """The positions of the jobs (by their queues, in claim order) this claim keeps."""
        kept, self._skipped = [], False
        for position, queue in enumerate(queues):
            if not self.wanted:
                break
            if queue in self.free:
                if self.free[queue] <= 0:
                    self._skipped = True
                    continue
                self.free[queue] -= 1
            kept.append(position)
            self.wanted -= 1
        return kept

    @property
    def again(self) -> bool:
        return self._skipped and self.wanted > 0
