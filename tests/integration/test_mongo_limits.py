"""Per-queue limits (SPEC 9.7 ``queue limit``) on MongoDB: exact across claimers, hosts and recoveries.

The MongoDB claim keeps a limit with limit slots under a unique index
(``adapters/mongo/limits.py``). These tests run on the server named by
``QUEUECTL_TEST_MONGO_URI`` (skipped without it), each in a database of its
own; the hammer at the end races six processes on one limited queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pymongo
import pytest

from queuectl.container import build_container
from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import InvalidJob
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Page, Store, WorkerRef

from .processes import drop_store, mongo_url_for_test
from .test_store_concurrency import run_together

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
W1, W2 = WorkerRef("w1", "host-a"), WorkerRef("w2", "host-b")
HOLDER = Path(__file__).with_name("limit_holder.py")


@pytest.fixture
def url() -> Iterator[str]:
    url = mongo_url_for_test()
    yield url
    drop_store(url)


@pytest.fixture
def store(url: str, home: Path) -> Iterator[Store]:
    opened = build_container(url, str(home)).store()
    yield opened
    opened.close()


@pytest.fixture
def other_host(url: str, tmp_path: Path) -> Iterator[Store]:
    """The same store opened as a second host would: its own client and home."""
    opened = build_container(url, str(tmp_path / "host-b")).store()
    yield opened
    opened.close()


def enqueue(store: Store, queue: str, count: int, prefix: str | None = None) -> list[str]:
    ids = [f"{prefix or queue}-{n}" for n in range(count)]
    assert store.jobs.add_many([Job.new(job_id, "true", NOW, queue=queue) for job_id in ids]) == []
    return ids


def claim(store: Store, worker: WorkerRef = W1, queues: list[str] | None = None,
          now: datetime = NOW, lease: timedelta = HOUR) -> Job | None:
    return store.jobs.claim_next(worker, now, now + lease, queues)


def finish(store: Store, job: Job) -> None:
    token = job.lease_token
    job.succeed(NOW)
    assert store.jobs.record_outcome(job, token)


def running(store: Store, queue: str) -> int:
    return store.jobs.count({JobState.PROCESSING}, queue)


def test_a_limit_of_one_lets_a_second_claim_on_another_host_wait_until_the_first_job_ends(store, other_host):
    enqueue(store, "tight", 3)
    store.queues.set_limit("tight", 1)
    first = claim(store)
    assert first is not None and first.queue == "tight"
    assert claim(other_host, W2) is None
    assert claim(store) is None
    finish(store, first)
    second = claim(other_host, W2)
    assert second is not None and second.id != first.id
    assert running(store, "tight") == 1


def test_claims_never_take_more_of_a_queue_than_its_limit_however_many_they_ask_for(store, other_host):
    enqueue(store, "tight", 6)
    enqueue(store, "free", 2)
    store.queues.set_limit("tight", 2)
    claimed = []
    for opened, worker in [(store, W1), (other_host, W2)] * 3:
        claimed += opened.jobs.settle_and_claim((), worker, NOW, NOW + HOUR, ["tight"], limit=5)[1]
    assert len(claimed) == 2 and {job.queue for job in claimed} == {"tight"}
    everything = [claim(store, queues=None) for _ in range(4)]
    assert sorted(job.queue for job in everything if job is not None) == ["free", "free"]
    assert running(store, "tight") == 2


def test_a_limit_set_to_zero_is_removed_and_claims_take_the_queue_again(store):
    enqueue(store, "tight", 3)
    store.queues.set_limit("tight", 1)
    assert store.queues.limits() == {"tight": 1}
    assert claim(store) is not None and claim(store) is None
    store.queues.set_limit("tight", 0)
    assert store.queues.limits() == {}
    assert claim(store) is not None and claim(store) is not None
    assert running(store, "tight") == 3


def test_a_job_whose_lease_expired_counts_until_it_is_recovered(store):
    enqueue(store, "tight", 2)
    store.queues.set_limit("tight", 1)
    lost = claim(store, lease=timedelta(seconds=30))
    later = NOW + timedelta(minutes=5)  # its lease ran out; its worker may only be paused
    assert claim(store, W2, now=later) is None
    [expired] = store.jobs.expired_leases(later)
    assert expired.id == lost.id
    token = expired.lease_token
    expired.lose_lease(later, BackoffPolicy(base=2, maximum=60))
    assert store.jobs.record_outcome(expired, token)
    taken = claim(store, W2, now=later)
    assert taken is not None and taken.id != lost.id


def test_a_cancelled_or_released_running_job_frees_its_place(store):
    enqueue(store, "tight", 3)
    store.queues.set_limit("tight", 1)
    first = claim(store)
    store.jobs.cancel(first.id, NOW)
    second = claim(store)
    assert second is not None
    token = second.lease_token
    second.release(NOW)  # handed back unstarted (worker stop)
    assert store.jobs.record_outcome(second, token)
    third = claim(store)
    assert third is not None and running(store, "tight") == 1


def test_jobs_running_before_a_limit_was_set_or_lowered_count_against_it(store):
    enqueue(store, "tight", 6)
    early = [claim(store) for _ in range(2)]  # no limit yet
    store.queues.set_limit("tight", 2)
    assert claim(store) is None
    store.queues.set_limit("tight", 3)
    third = claim(store)
    assert third is not None and claim(store) is None
    store.queues.set_limit("tight", 1)  # lowered below the three running
    finish(store, early[0])
    finish(store, third)
    assert claim(store) is None  # one still runs: the queue is full
    finish(store, early[1])
    assert claim(store) is not None and claim(store) is None


def test_a_lowered_limit_holds_against_the_jobs_claimed_under_the_old_one(store):
    # Each queue's three jobs hold slots picked at random under the old limit: over five queues the
    # one left running holds a slot other than the lowest, which a claim must not reuse, almost surely.
    for n in range(5):
        queue = f"q{n}"
        enqueue(store, queue, 4)
        store.queues.set_limit(queue, 3)
        claimed = [claim(store, queues=[queue]) for _ in range(3)]
        store.queues.set_limit(queue, 1)
        finish(store, claimed[0])
        finish(store, claimed[1])
        assert claim(store, queues=[queue]) is None, queue
        finish(store, claimed[2])
        assert claim(store, queues=[queue]) is not None


def test_a_full_queue_holds_back_only_its_own_jobs(store, other_host):
    enqueue(store, "tight", 3)
    enqueue(store, "free", 3)
    store.queues.set_limit("tight", 1)
    assert claim(store, queues=["tight"]) is not None
    assert claim(other_host, W2, queues=["tight"]) is None
    assert claim(other_host, W2, queues=["tight", "free"]).queue == "free"
    assert claim(other_host, W2, queues=None).queue == "free"
    assert claim(store, queues=["free"]).queue == "free"
    assert running(store, "free") == 3 and running(store, "tight") == 1


def test_one_claim_keeps_to_each_of_several_limited_queues_it_serves(store, other_host):
    enqueue(store, "one", 3)
    enqueue(store, "two", 4)
    enqueue(store, "free", 1)
    store.queues.set_limit("one", 1)
    store.queues.set_limit("two", 2)
    claimed = [job for job in (claim(opened, worker) for opened, worker in [(store, W1), (other_host, W2)] * 4) if job]
    assert sorted(job.queue for job in claimed) == ["free", "one", "two", "two"]
    assert (running(store, "one"), running(store, "two")) == (1, 2)


def test_limits_and_paused_queues_share_their_document_without_losing_each_other(store):
    store.queues.pause(["a"])
    store.queues.set_limit("b", 4)
    store.queues.set_limit("c", 2)
    store.queues.resume(["a"])
    store.queues.pause(["d"])
    store.queues.set_limit("c", 0)
    assert store.queues.limits() == {"b": 4}
    assert store.queues.paused().queues == frozenset({"d"})


@pytest.mark.parametrize("queue, limit", [("bad name", 1), ("", 1), ("tight", -1), ("tight", 100_001),
                                          ("tight", True), ("tight", 1.5), ("tight", "2")])
def test_a_bad_queue_or_limit_is_refused_and_nothing_is_stored(store, queue, limit):
    store.queues.set_limit("kept", 3)
    with pytest.raises(InvalidJob):
        store.queues.set_limit(queue, limit)
    assert store.queues.limits() == {"kept": 3}


def test_a_slot_lives_exactly_as_long_as_the_job_is_processing(store, url):
    enqueue(store, "tight", 1)
    enqueue(store, "free", 1)
    store.queues.set_limit("tight", 1)
    tight, free = claim(store, queues=["tight"]), claim(store, queues=["free"])
    jobs = pymongo.MongoClient(url).get_default_database()["jobs"]
    assert "limit_slot" in jobs.find_one({"_id": tight.id}) and "limit_slot" not in jobs.find_one({"_id": free.id})
    finish(store, tight)
    assert "limit_slot" not in jobs.find_one({"_id": tight.id})


def test_a_slot_left_on_a_job_that_no_longer_runs_does_not_block_the_queue(store, url):
    enqueue(store, "tight", 2)
    store.queues.set_limit("tight", 1)
    first = claim(store)
    jobs = pymongo.MongoClient(url).get_default_database()["jobs"]
    slot = jobs.find_one({"_id": first.id})["limit_slot"]
    finish(store, first)
    jobs.update_one({"_id": first.id}, {"$set": {"limit_slot": slot}})  # as a worker of an older version leaves it
    second = claim(store)
    assert second is not None and jobs.find_one({"_id": second.id})["limit_slot"] == slot
    assert "limit_slot" not in jobs.find_one({"_id": first.id})


def overlap(intervals: list[tuple[int, int]]) -> int:
    """The most intervals that share an instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                   key=lambda edge: (edge[0], edge[1]))  # an end before a start at the same instant
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def test_six_processes_hammering_a_queue_limited_to_two_never_run_three_of_its_jobs_at_once(store, url, home):
    tight = enqueue(store, "tight", 20)
    enqueue(store, "free", 20)
    store.queues.set_limit("tight", 2)
    outputs = run_together([[url, str(home), f"holder-{n}", "40"] for n in range(6)], script=HOLDER)
    assert outputs == [[]] * 6  # each holder printed nothing: no limit it saw exceeded
    jobs = store.jobs.list(Page(limit=100))
    assert {job.state for job in jobs} == {JobState.COMPLETED} and len(jobs) == 40
    assert {job.attempts for job in jobs} == {1}
    spans = []
    for job_id in tight:
        [attempt] = store.jobs.logs(job_id)
        start, end = map(int, attempt.output.split())
        spans.append((start, end))
    assert overlap(spans) == 2  # never three at once, and the limit was used
