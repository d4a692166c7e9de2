"""The store contract of paused queues (SPEC 9.2 ``pause`` / ``resume``), on every store.

A claim never takes a job of a paused queue; the pause is stored, so another
store object on the same URL (another worker, another host) honours it at
its next claim. Time is a fixed fake ``NOW``; nothing sleeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from queuectl.container import build_container
from queuectl.domain.errors import InvalidJob
from queuectl.domain.model import Job, JobState
from queuectl.domain.pausing import Paused
from queuectl.domain.ports import Outcome, Store, WorkerRef

NOW = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)
LEASE = timedelta(seconds=30)
WORKER = WorkerRef("worker-1", "host-a")


def add(store: Store, job_id: str, queue: str = "default", priority: int = 0) -> None:
    store.jobs.add(Job.new(job_id, f"echo {job_id}", NOW, queue=queue, priority=priority))


def claimed_ids(store: Store, queues=None) -> list[str]:
    ids = []
    while (job := store.jobs.claim_next(WORKER, NOW, NOW + LEASE, queues)) is not None:
        ids.append(job.id)
    return ids


def test_nothing_is_paused_in_a_new_store(store):
    assert store.queues.paused() == Paused()


def test_a_paused_queue_is_never_claimed_and_the_other_queues_are(store):
    add(store, "nightly-1", "nightly", priority=9)
    add(store, "default-1")
    assert store.queues.pause(["nightly"]) == Paused(queues=frozenset({"nightly"}))

    assert claimed_ids(store) == ["default-1"]
    assert claimed_ids(store, ["nightly"]) == []
    assert store.jobs.get("nightly-1").state is JobState.PENDING


def test_a_resumed_queue_is_claimed_again(store):
    add(store, "nightly-1", "nightly")
    store.queues.pause(["nightly"])
    assert claimed_ids(store) == []
    assert store.queues.resume(["nightly"]) == Paused()
    assert claimed_ids(store) == ["nightly-1"]


def test_pausing_every_queue_blocks_queues_first_used_after_it(store):
    add(store, "old", "default")
    assert store.queues.pause(None) == Paused(all=True)
    add(store, "new", "brand-new-queue")

    assert claimed_ids(store) == [] and claimed_ids(store, ["brand-new-queue"]) == []
    assert store.queues.resume(None) == Paused()
    assert sorted(claimed_ids(store)) == ["new", "old"]


def test_resuming_one_queue_under_a_global_pause_lets_only_that_queue_run(store):
    add(store, "urgent-1", "urgent")
    add(store, "nightly-1", "nightly", priority=9)
    store.queues.pause(None)
    assert store.queues.resume(["urgent"]) == Paused(all=True, resumed=frozenset({"urgent"}))

    assert claimed_ids(store) == ["urgent-1"]
    assert claimed_ids(store, ["nightly"]) == []
    assert store.queues.paused().is_paused("nightly")


def test_pausing_a_queue_with_no_jobs_is_fine_and_holds_for_jobs_added_later(store):
    store.queues.pause(["empty"])
    add(store, "later", "empty")
    assert claimed_ids(store) == []
    assert store.queues.paused() == Paused(queues=frozenset({"empty"}))


def test_a_batch_claim_skips_paused_queues_and_still_records_outcomes(store):
    for n in range(3):
        add(store, f"p{n}", "paused")
        add(store, f"r{n}", "running")
    running = store.jobs.claim_next(WORKER, NOW, NOW + LEASE, ["running"])
    store.queues.pause(["paused", "running"])
    token = running.lease_token
    running.succeed(NOW, 0)

    recorded, claimed = store.jobs.settle_and_claim([Outcome(running, token)], WORKER, NOW, NOW + LEASE, None, 16)

    assert recorded == [True] and claimed == []
    store.queues.resume(["running"])
    taken: list[str] = []
    while claimed := store.jobs.settle_and_claim([], WORKER, NOW, NOW + LEASE, None, 16)[1]:
        taken += [job.id for job in claimed]  # a batch where the store claims several at once
    assert sorted(taken) == ["r1", "r2"]


def test_a_job_running_when_its_queue_is_paused_goes_on_and_finishes(store):
    add(store, "long", "nightly")
    job = store.jobs.claim_next(WORKER, NOW, NOW + LEASE)
    token = job.lease_token
    store.queues.pause(None)

    assert store.jobs.renew_lease("long", token, NOW + 2 * LEASE)
    job.succeed(NOW + LEASE, 0)
    assert store.jobs.record_outcome(job, token)
    assert store.jobs.get("long").state is JobState.COMPLETED


def test_pause_and_resume_are_idempotent(store):
    store.queues.pause(["a"])
    assert store.queues.pause(["a"]) == Paused(queues=frozenset({"a"}))
    store.queues.resume(None)
    assert store.queues.resume(None) == Paused()


def test_an_invalid_queue_name_is_refused_and_nothing_is_stored(store):
    store.queues.pause(["good"])
    with pytest.raises(InvalidJob, match="invalid queue name"):
        store.queues.pause(["fine", "bad name"])
    assert store.queues.paused() == Paused(queues=frozenset({"good"}))


def test_a_pause_is_seen_by_every_other_opening_of_the_store(shared_store_url, home):
    first = build_container(shared_store_url, str(home)).store()
    second = build_container(shared_store_url, str(home)).store()  # another worker, another host
    try:
        add(first, "nightly-1", "nightly")
        first.queues.pause(["nightly"])
        assert second.queues.paused() == Paused(queues=frozenset({"nightly"}))
        assert claimed_ids(second) == []
        first.queues.resume(None)
        assert claimed_ids(second) == ["nightly-1"]
    finally:
        first.close()
        second.close()


def test_pauses_from_several_processes_at_once_are_all_kept(shared_store_url, home):
    """Each pause reads, decides and writes atomically: none overwrites another."""
    import threading

    stores = [build_container(shared_store_url, str(home)).store() for _ in range(4)]
    stores[0].create()
    go = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def pause_ten(store: Store, n: int) -> None:
        go.wait()
        try:
            for k in range(10):
                store.queues.pause([f"q{n}-{k}"])
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=pause_ten, args=(store, n)) for n, store in enumerate(stores)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert stores[0].queues.paused().queues == {f"q{n}-{k}" for n in range(4) for k in range(10)}
    finally:
        for store in stores:
            store.close()
