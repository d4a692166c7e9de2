"""Which limit slot a MongoDB claim may take (``adapters/mongo/limits.pick_slots``): no server needed.

The slots' unique index makes a claim exact; these rules decide which numbers
a claim may try, from the limited queues' processing jobs it read.
"""

from __future__ import annotations

import random

from queuectl.adapters.mongo.limits import SLOT, pick_slots, slot_expression, slot_name
from queuectl.adapters.mongo.queues import Limit

LIMITS = {"tight": Limit(2, "e2"), "wide": Limit(100_000, "e9")}


def rows(queue: str, *slots: str | None) -> list[dict]:
    return [{"queue": queue, **({SLOT: slot} if slot is not None else {})} for slot in slots]


def number(slot: str | None) -> int:
    return int(slot.rsplit("/", 1)[1])


def test_an_idle_limited_queue_offers_a_slot_of_its_current_limit():
    chosen = pick_slots(LIMITS, ["tight"], [], random.Random(1))
    assert chosen["tight"] in {slot_name("tight", "e2", 0), slot_name("tight", "e2", 1)}


def test_a_queue_whose_slots_are_all_held_is_full():
    held = rows("tight", "tight/e2/0", "tight/e2/1")
    assert pick_slots(LIMITS, ["tight"], held) == {"tight": None}


def test_the_only_free_slot_is_the_one_offered():
    for seed in range(20):
        chosen = pick_slots(LIMITS, ["tight"], rows("tight", "tight/e2/1"), random.Random(seed))
        assert chosen == {"tight": "tight/e2/0"}


def test_jobs_without_a_slot_of_the_current_limit_shrink_the_numbers_a_claim_may_take():
    # one job claimed before the limit, one under an older limit: both count; nothing is left
    assert pick_slots(LIMITS, ["tight"], rows("tight", None, "tight/e1/0")) == {"tight": None}
    # one such job: only number 0 of the two may be taken, and it is held
    assert pick_slots(LIMITS, ["tight"], rows("tight", None, "tight/e2/0")) == {"tight": None}
    for seed in range(20):
        assert number(pick_slots(LIMITS, ["tight"], rows("tight", None), random.Random(seed))["tight"]) == 0


def test_other_queues_jobs_and_foreign_slot_names_do_not_count():
    assert pick_slots(LIMITS, ["tight"], rows("wide", "wide/e9/0", "wide/e9/1"))["tight"] is not None
    taken = rows("tight", "tight/e2/x", "tight/e22/0")  # not a slot of epoch e2: counted as slotless
    assert pick_slots(LIMITS, ["tight"], taken) == {"tight": None}


def test_a_wide_limit_picks_a_free_number_however_many_are_held():
    held = rows("wide", *(f"wide/e9/{n}" for n in range(99_990)))
    for seed in range(5):
        assert 99_990 <= number(pick_slots(LIMITS, ["wide"], held, random.Random(seed))["wide"]) < 100_000


def test_the_claim_takes_the_slot_of_the_claimed_jobs_queue_and_none_for_any_other():
    expression = slot_expression({"tight": "tight/e2/1"})
    [branch] = expression["$switch"]["branches"]
    assert branch == {"case": {"$eq": ["$queue", {"$literal": "tight"}]}, "then": {"$literal": "tight/e2/1"}}
    assert expression["$switch"]["default"] == "$$REMOVE"
    assert slot_expression({}) == "$$REMOVE"
