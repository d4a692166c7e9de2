"""The store contract of per-queue limits (SPEC 9.7 ``queue limit NAME N``), on every store.

At most N jobs of a limited queue are ``processing`` at once: the claim reads
the limits and counts the running jobs in its own atomic step, skips a full
queue and takes no more of a queue in one batch than it has free. Time is a
fixed fake ``NOW``; nothing sleeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from queuectl.container import build_container
from queuectl.domain import defaults
from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import InvalidJob
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Outcome, Store, WorkerRef

NOW = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)
LEASE = timedelta(seconds=30)
WORKER = WorkerRef("worker-1", "host-a")


def add(store: Store, job_id: str, queue: str = "default", priority: int = 0) -> None:
    store.jobs.add(Job.new(job_id, f"echo {job_id}", NOW, queue=queue, priority=priority))


def claim(store: Store, queues=None, now: datetime = NOW) -> Job | None:
    return store.jobs.claim_next(WORKER, now, now + LEASE, queues)


def batch(store: Store, limit: int, queues=None, outcomes=()) -> list[str]:
    """What a worker asking for ``limit`` jobs gets: a store may claim one at a time (MongoDB), so
    it asks again until it has ``limit`` or a call brings nothing."""
    _, jobs = store.jobs.settle_and_claim(list(outcomes), WORKER, NOW, NOW + LEASE, queues, limit)
    taken = [job.id for job in jobs]
    while jobs and len(taken) < limit:
        _, jobs = store.jobs.settle_and_claim([], WORKER, NOW, NOW + LEASE, queues, limit - len(taken))
        taken += [job.id for job in jobs]
    return taken


def finish(store: Store, job: Job) -> None:
    token = job.lease_token
    job.succeed(NOW)
    assert store.jobs.record_outcome(job, token)


def test_no_queue_is_limited_in_a_new_store(store):
    assert store.queues.limits() == {}


def test_a_limit_is_stored_changed_and_removed_by_zero(store):
    store.queues.set_limit("deploys", 1)
    store.queues.set_limit("emails", 5)
    store.queues.set_limit("emails", 3)
    assert store.queues.limits() == {"deploys": 1, "emails": 3}
    store.queues.set_limit("deploys", 0)
    store.queues.set_limit("never-limited", 0)
    assert store.queues.limits() == {"emails": 3}


@pytest.mark.parametrize("queue, limit", [("deploys", -1), ("deploys", defaults.QUEUE_LIMIT_MAX + 1),
                                          ("deploys", 1.5), ("deploys", True), ("deploys", "2"),
                                          ("bad name", 1), ("", 1)])
def test_an_invalid_limit_or_queue_name_is_refused_and_nothing_stored(store, queue, limit):
    store.queues.set_limit("emails", 2)
    with pytest.raises(InvalidJob):
        store.queues.set_limit(queue, limit)
    assert store.queues.limits() == {"emails": 2}


def test_a_limit_of_one_leaves_the_second_job_waiting_while_the_first_runs(store):
    add(store, "deploy-1", "deploys")
    add(store, "deploy-2", "deploys")
    store.queues.set_limit("deploys", 1)
    first = claim(store)
    assert first is not None and first.id == "deploy-1"
    assert claim(store) is None
    assert store.jobs.get("deploy-2").state is JobState.PENDING
    finish(store, first)
    assert claim(store).id == "deploy-2"


def test_another_store_object_on_the_same_url_honours_the_limit(store, store_url, home):
    if store_url.startswith("memory"):
        pytest.skip("the in-memory store is one process's own")
    add(store, "deploy-1", "deploys")
    add(store, "deploy-2", "deploys")
    other = build_container(store_url, str(home)).store()
    try:
        other.queues.set_limit("deploys", 1)
        assert claim(store).id == "deploy-1"
        assert claim(other) is None
    finally:
        other.close()


def test_a_batch_claim_takes_no_more_of_a_queue_than_it_has_free_and_fills_up_from_others(store):
    for n in range(6):
        add(store, f"deploy-{n}", "deploys", priority=9)  # first in claim order
    for n in range(4):
        add(store, f"mail-{n}", "emails")
    store.queues.set_limit("deploys", 3)
    assert claim(store).id == "deploy-0"  # one running: two free
    assert batch(store, 8) == ["deploy-1", "deploy-2", "mail-0", "mail-1", "mail-2", "mail-3"]
    assert store.jobs.count([JobState.PROCESSING], "deploys") == 3


def test_a_batch_that_settles_a_job_of_a_full_queue_may_take_its_place(store):
    add(store, "deploy-1", "deploys")
    add(store, "deploy-2", "deploys")
    store.queues.set_limit("deploys", 1)
    first = claim(store)
    token = first.lease_token
    first.succeed(NOW)
    assert batch(store, 4, outcomes=[Outcome(first, token)]) == ["deploy-2"]


def test_queues_without_a_limit_are_unaffected(store):
    add(store, "deploy-1", "deploys")
    add(store, "deploy-2", "deploys")
    for n in range(3):
        add(store, f"mail-{n}", "emails")
    store.queues.set_limit("deploys", 1)
    ids = [job.id for job in iter(lambda: claim(store), None)]
    assert ids == ["deploy-1", "mail-0", "mail-1", "mail-2"]


def test_removing_a_limit_lets_the_waiting_jobs_run(store):
    add(store, "deploy-1", "deploys")
    add(store, "deploy-2", "deploys")
    store.queues.set_limit("deploys", 1)
    assert claim(store).id == "deploy-1"
    assert claim(store) is None
    store.queues.set_limit("deploys", 0)
    assert claim(store).id == "deploy-2"


def test_a_processing_job_whose_lease_expired_counts_until_it_is_recovered(store):
    add(store, "deploy-1", "deploys")
    add(store, "deploy-2", "deploys")
    store.queues.set_limit("deploys", 1)
    assert claim(store).id == "deploy-1"
    later = NOW + LEASE + timedelta(seconds=5)
    assert claim(store, now=later) is None  # its worker may only be paused: the command may still run
    [lost] = store.jobs.expired_leases(later)
    token = lost.lease_token
    lost.lose_lease(later, BackoffPolicy(base=2, maximum=3600))
    assert store.jobs.record_outcome(lost, token)
    assert claim(store, now=later + timedelta(hours=2)) is not None


def test_a_limit_of_a_queue_the_worker_does_not_serve_is_ignored(store):
    add(store, "deploy-1", "deploys")
    add(store, "mail-1", "emails")
    add(store, "mail-2", "emails")
    store.queues.set_limit("deploys", 1)
    assert claim(store, ["deploys"]).id == "deploy-1"
    assert batch(store, 8, ["emails"]) == ["mail-1", "mail-2"]


def test_a_worker_serving_a_full_queue_only_gets_nothing(store):
    add(store, "deploy-1", "deploys")
    add(store, "deploy-2", "deploys")
    store.queues.set_limit("deploys", 1)
    assert claim(store).id == "deploy-1"
    assert batch(store, 8, ["deploys"]) == []


def test_pause_and_limit_together_each_hold(store):
    for n in range(3):
        add(store, f"deploy-{n}", "deploys")
    add(store, "report-1", "reports")
    store.queues.set_limit("deploys", 2)
    store.queues.pause(["reports"])
    assert batch(store, 8) == ["deploy-0", "deploy-1"]
    store.queues.pause(["deploys"])
    store.queues.resume(["reports"])
    store.queues.set_limit("deploys", 0)
    assert batch(store, 8) == ["report-1"]
    store.queues.resume(None)
    assert batch(store, 8) == ["deploy-2"]


def test_pausing_every_queue_wins_over_free_room_under_a_limit(store):
    add(store, "deploy-1", "deploys")
    store.queues.set_limit("deploys", 5)
    store.queues.pause(None)
    assert batch(store, 8) == []
    store.queues.resume(["deploys"])
    assert batch(store, 8) == ["deploy-1"]
