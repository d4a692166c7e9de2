"""The store contract for ``count``: every store counts in the store what ``list`` would return."""

from __future__ import annotations

from queuectl.domain.model import FINAL, WAITING, JobState
from queuectl.domain.ports import Page

from .test_store_contract import NOW, claim, make_dead, new_job


def _fill(store) -> None:
    make_dead(store, "broken")  # default queue; first, as it claims the next due job
    for n in range(3):
        store.jobs.add(new_job(f"mail-{n}", queue="emails"))
    store.jobs.add(new_job("report", queue="reports"))
    store.jobs.cancel("mail-0", NOW)


def test_count_with_no_filter_counts_every_job(store):
    _fill(store)
    assert store.jobs.count() == 5 == len(store.jobs.list(Page(limit=0)))


def test_count_filters_by_states_and_queue_like_list(store):
    _fill(store)
    assert store.jobs.count(queue="emails") == 3
    assert store.jobs.count([JobState.PENDING], "emails") == 2
    assert store.jobs.count(FINAL) == 2
    assert store.jobs.count(FINAL, "reports") == 0
    assert store.jobs.count(WAITING | {JobState.PROCESSING}) == 3
    assert store.jobs.count(queue="nowhere") == 0


def test_count_sees_a_claimed_job_as_processing(store):
    store.jobs.add(new_job("a"))
    claim(store)
    assert store.jobs.count([JobState.PROCESSING]) == 1
    assert store.jobs.count(WAITING) == 0


def test_count_of_an_empty_state_set_is_zero(store):
    store.jobs.add(new_job("a"))
    assert store.jobs.count(frozenset()) == 0


def test_count_by_queue_counts_each_queue_per_state_in_the_store(store):
    _fill(store)
    zeros = {state: 0 for state in JobState}
    assert store.jobs.count_by_queue() == {
        "default": {**zeros, JobState.DEAD: 1},
        "emails": {**zeros, JobState.PENDING: 2, JobState.CANCELLED: 1},
        "reports": {**zeros, JobState.PENDING: 1},
    }


def test_count_by_queue_of_an_empty_store_is_empty(store):
    assert store.jobs.count_by_queue() == {}
