"""Per-queue limits on MongoDB (SPEC 9.7): slots, taken by the claim itself under a unique index.

A claim is one ``find_one_and_update`` on one job document; it cannot count
the other documents. What makes the limit exact is a second, server-enforced
rule: while a job of a limited queue is ``processing`` its document holds a
*slot*, the field ``limit_slot = "QUEUE/EPOCH/K"``, under a sparse unique index
(``limit_slot_unique``). Two jobs can never hold one slot: the claim's write
that would give a second job a taken slot fails (``E11000``) and claims
nothing. The claim's own update pipeline sets the slot (chosen per queue with
a ``$switch`` on the job's queue), so taking the job and taking the slot are
one atomic write; every write that ends the attempt (outcome, lease recovery,
cancel, release, bury) removes the slot in that same write, like ``held_key``
for unique keys. A claimer that crashes, or a worker paused past its lease,
leaves nothing behind to clean up: the slot is held exactly while the job is
processing (an expired lease still counts until the job is recovered).

Which slots a claim may take. For each limited queue it may take from, the
claim reads the queue's processing jobs (one ``find`` for all of them,
projected to queue and slot): ``n`` running, of which ``taken`` hold a slot of
the current epoch and ``u = n - taken`` do not (jobs claimed before the limit
was set or last changed). It may take a free slot number in ``[0, limit - u)``;
none free: the queue is full and left out of the claim's filter, like a paused
queue. Why at most ``limit`` jobs of a queue are ever processing at once:

- within an epoch no job joins ``u`` (every claim under it takes a slot of
  it), so ``u`` only shrinks, and a count read before a claim is at least
  ``u`` at the claim and any time after (a document a read does not see
  changed during it is counted once);
- every slot held is thus below ``limit - u(now)``, and slots are distinct:
  at most ``limit - u`` jobs hold one, plus the ``u`` that do not.

A new epoch on every change of the limit keeps this true when it is lowered
(slots numbered under the old limit count as ``u``). A claim that read the
limits before ``queue limit`` returned still claims under the old limit, as a
claim past its read of the paused queues may still take a paused queue's job.
When racing claimers pick the same free slot, one wins; the others re-read and
try again (a random free slot, so that they rarely meet). A claim refused a slot
also frees it from any job that holds it without processing (``free_strays``):
no write leaves one so, but a slot held that way would block its number for good.

Claims when no queue the worker may take from is limited cost what they cost
before: the limits come with the paused queues in one read, and the pipeline
is the old one. A worker serving a limited queue (or every queue, while one is
limited) reads the limited queues' running jobs once per claim: one more
indexed read (``state``, ``queue``), whose size is those queues' running jobs.
"""

from __future__ import annotations

import random
from typing import Any, Iterable, Mapping, Sequence

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from queuectl.domain.model import JobState

from .documents import SLOT, SLOT_INDEX
from .queues import Limit

_SAMPLES = 8  # random picks tried before the free slots are listed
_PROCESSING = JobState.PROCESSING.value


class SlotTaken(Exception):
    """A racing claim took the slot this claim picked: nothing was written; read again."""


def slot_name(queue: str, epoch: str, number: int) -> str:
    return f"{queue}/{epoch}/{number}"  # "/" is in no queue name (``model.ID_PATTERN``)


def running(jobs: Collection, queues: Sequence[str]) -> list[Mapping[str, Any]]:
    """The queue and slot of every processing job of ``queues``: one indexed read."""
    return list(jobs.find({"state": _PROCESSING, "queue": {"$in": list(queues)}}, {"_id": 0, "queue": 1, SLOT: 1}))


def pick_slots(limits: Mapping[str, Limit], queues: Iterable[str], rows: Iterable[Mapping[str, Any]],
               rng: random.Random | None = None) -> dict[str, str | None]:
    """For each of ``queues`` (all limited), the slot a claim may take now, or None: it is full.

    ``rows``: the queue and slot of each of their processing jobs (``running``)."""
    rng = rng or random
    counts: dict[str, int] = {}
    taken: dict[str, set[int]] = {}
    for row in rows:
        queue = row.get("queue")
        counts[queue] = counts.get(queue, 0) + 1
        number = _slot_number(row.get(SLOT), queue, limits.get(queue))
        if number is not None:
            taken.setdefault(queue, set()).add(number)
    chosen: dict[str, str | None] = {}
    for queue in queues:
        limit, held = limits[queue], taken.get(queue, set())
        room = limit.limit - (counts.get(queue, 0) - len(held))  # slot numbers below this may be taken
        number = _free_number(room, held, rng)
        chosen[queue] = None if number is None else slot_name(queue, limit.epoch, number)
    return chosen


def _slot_number(slot: Any, queue: Any, limit: Limit | None) -> int | None:
    """The number of a slot of ``limit``'s epoch; None for no slot or one of an older epoch."""
    if limit is None or not isinstance(slot, str):
        return None
    prefix = f"{queue}/{limit.epoch}/"
    if not slot.startswith(prefix) or not slot[len(prefix):].isdigit():
        return None
    return int(slot[len(prefix):])


def _free_number(room: int, held: set[int], rng: Any) -> int | None:
    """A random number in ``[0, room)`` not in ``held``; None if there is none."""
    free = room - len({number for number in held if number < room})
    if free <= 0:
        return None
    for _ in range(_SAMPLES):
        number = rng.randrange(room)
        if number not in held:
            return number
    # eight misses: most numbers are held, and listing the free ones costs about what the held did to read
    return rng.choice([number for number in range(room) if number not in held])


def slot_expression(slots: Mapping[str, str]) -> Any:
    """The claim pipeline's value of ``SLOT``: the slot picked for the claimed job's queue, else none."""
    branches = [{"case": {"$eq": ["$queue", {"$literal": queue}]}, "then": {"$literal": slot}}
                for queue, slot in sorted(slots.items())]
    return {"$switch": {"branches": branches, "default": "$$REMOVE"}} if branches else "$$REMOVE"


def free_strays(jobs: Collection, slots: Iterable[str]) -> None:
    """Remove ``slots`` from jobs that hold one without processing (never written so: a worker of an
    older version that recovered a job, or a document edited by hand), so that they can be taken."""
    jobs.update_many({SLOT: {"$in": sorted(slots)}, "state": {"$ne": _PROCESSING}}, {"$unset": {SLOT: ""}})


def raise_if_slot_taken(error: DuplicateKeyError) -> None:
    """``SlotTaken`` when the unique index that refused a claim is the slots' one."""
    pattern = (error.details or {}).get("keyPattern") or {}
    if SLOT in pattern or SLOT_INDEX in str(error) or f"{SLOT}_1" in str(error):
        raise SlotTaken() from None
