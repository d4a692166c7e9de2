"""The MongoDB change stream's filter on a real server: what wakes idle workers on other hosts, and what does not.

A worker's watch (``adapters/mongo/wakeups.py``) must fire for every change that
can make a job claimable (an enqueue, a retry, an update, a resume) and stay
quiet for the workers' own traffic (a claim, a cancel), or idle workers would
wake each other at every job.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from queuectl.adapters.mongo.store import MongoStore
from queuectl.adapters.mongo.wakeups import MongoChangeWatch
from queuectl.domain.model import Job
from queuectl.domain.ports import WorkerRef

from .processes import drop_mongo_database, mongo_url_for_test

QUIET = 0.6  # seconds a change that must not wake is given to arrive anyway
WORKER = WorkerRef("w-1", "hosta")


@pytest.fixture
def watched():
    url = mongo_url_for_test()
    store = MongoStore(url)
    store.jobs.count_by_state()  # the collection and its indexes exist before the watch opens
    wakes = threading.Semaphore(0)
    watch = MongoChangeWatch(store.database)
    watch.start(wakes.release)
    assert watch.listening, "the CI server supports change streams"
    yield store, wakes
    watch.close()
    store.close()
    drop_mongo_database(url)


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def woke(wakes: threading.Semaphore, within: float = 10.0) -> bool:
    return wakes.acquire(timeout=within)


def test_an_enqueue_wakes_and_a_claim_does_not(watched):
    store, wakes = watched
    store.jobs.add(Job.new("a", "true", now()))
    assert woke(wakes)
    assert store.jobs.claim_next(WORKER, now(), now() + timedelta(seconds=30)) is not None
    assert not woke(wakes, QUIET)


def test_a_cancel_does_not_wake_and_a_retry_or_update_does(watched):
    store, wakes = watched
    store.jobs.add(Job.new("b", "true", now() + timedelta(hours=1)))
    assert woke(wakes)  # inserted waiting: a worker looks (and finds it not yet due)
    store.jobs.update("b", now(), {"run_at": now()})
    assert woke(wakes)
    store.jobs.cancel("b", now())
    assert not woke(wakes, QUIET)
    store.jobs.retry("b", now())
    assert woke(wakes)


def test_a_resume_wakes(watched):
    store, wakes = watched
    store.queues.pause(["q"])
    store.queues.resume(["q"])
    assert woke(wakes)


def test_a_blocked_enqueue_does_not_wake_and_its_release_to_pending_does(watched):
    store, wakes = watched
    store.jobs.add(Job.new("a", "true", now()))
    assert woke(wakes)
    store.jobs.add(Job.new("b", "true", now(), after=["a"], unique_key="k"))  # blocked: nothing to claim
    assert not woke(wakes, QUIET)
    job = store.jobs.claim_next(WORKER, now(), now() + timedelta(seconds=30))
    assert job is not None and job.id == "a"
    token = job.lease_token
    job.succeed(now())
    assert store.jobs.record_outcome(job, token)  # releases b (pending) in the worker's write path
    assert woke(wakes)
    assert store.jobs.get("b").state == "pending"
