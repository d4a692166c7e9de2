"""On PostgreSQL the store notifies ``queuectl_jobs`` when jobs may have become due, on commit only,
and an idle worker's watch (``PostgresListenWatch``) is woken by it, from whatever host it came."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import psycopg
import pytest

from queuectl.adapters.postgres.wakeups import PostgresListenWatch
from queuectl.container import build_container
from queuectl.domain.errors import DuplicateJob
from queuectl.domain.model import Job
from queuectl.domain.ports import WorkerRef

from .processes import drop_store, postgres_url_for_test

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
SCHEMA_WAIT_SECONDS = 30.0  # a deadline for a notification, not a speed test


@pytest.fixture
def url():
    url = postgres_url_for_test()  # skips without a server
    yield url
    drop_store(url)


@pytest.fixture
def store(url, tmp_path):
    opened = build_container(url, str(tmp_path)).store()
    opened.create()
    yield opened
    opened.close()


def heard(listener: psycopg.Connection, schema: str) -> list[str]:
    """This test's notifications (other tests, in parallel, notify the same channel for their schemas)."""
    return [note.payload for note in listener.notifies(timeout=0.5) if note.payload == schema]


def test_enqueue_retry_and_resume_notify_on_commit_and_a_refused_enqueue_does_not(url, store):
    schema = url.rsplit("%3D", 1)[1]
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute("LISTEN queuectl_jobs")
        store.jobs.add(Job.new("a", "true", NOW))
        assert heard(listener, schema) == [schema]
        with pytest.raises(DuplicateJob):
            store.jobs.add(Job.new("a", "true", NOW))
        assert heard(listener, schema) == []  # rolled back: nothing was sent
        store.jobs.cancel("a", NOW)
        store.jobs.retry("a", NOW)
        store.queues.pause(None)
        store.queues.resume(None)
        assert len(heard(listener, schema)) == 2  # the retry and the resume; a cancel or a pause makes nothing due


def test_the_listen_watch_wakes_on_an_enqueue_or_a_retry_and_not_on_a_claim_or_a_cancel(url, store, tmp_path):
    wakes = threading.Semaphore(0)
    watch = PostgresListenWatch(store.database)
    watch.start(wakes.release)
    try:
        assert watch.listening
        store.jobs.add(Job.new("b", "true", NOW))
        assert wakes.acquire(timeout=SCHEMA_WAIT_SECONDS)
        assert store.jobs.claim_next(WorkerRef("w", "h"), NOW, NOW) is not None
        store.jobs.add(Job.new("c", "true", NOW))  # a wake-up after the claim's (if it sent one) arrives
        assert wakes.acquire(timeout=SCHEMA_WAIT_SECONDS)
        store.jobs.cancel("c", NOW)
        store.jobs.retry("c", NOW)
        assert wakes.acquire(timeout=SCHEMA_WAIT_SECONDS)
        assert not wakes.acquire(timeout=0.5)  # one wake each: the claim and the cancel sent none
    finally:
        watch.close()
