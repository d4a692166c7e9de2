"""On PostgreSQL the store notifies ``queuectl_jobs`` when jobs may have become due, on commit only,
and an idle worker's wait (``ListeningWakeChannel``) is woken by it, from whatever host it came."""

from __future__ import annotations

import select
import threading
from datetime import datetime, timezone

import psycopg
import pytest

from queuectl.adapters.postgres.wakeup import ListeningWakeChannel
from queuectl.container import build_container
from queuectl.domain.errors import DuplicateJob
from queuectl.domain.model import Job

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


def heard(listener: psycopg.Connection) -> list[str]:
    return [note.payload for note in listener.notifies(timeout=0.5)]


def test_enqueue_retry_and_resume_notify_on_commit_and_a_refused_enqueue_does_not(url, store):
    schema = url.rsplit("%3D", 1)[1]
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute("LISTEN queuectl_jobs")
        store.jobs.add(Job.new("a", "true", NOW))
        assert heard(listener) == [schema]
        with pytest.raises(DuplicateJob):
            store.jobs.add(Job.new("a", "true", NOW))
        assert heard(listener) == []  # rolled back: nothing was sent
        store.jobs.cancel("a", NOW)
        store.jobs.retry("a", NOW)
        store.queues.pause(None)
        store.queues.resume(None)
        assert len(heard(listener)) == 4


def test_an_idle_workers_wait_wakes_on_a_job_enqueued_through_another_connection(url, store, tmp_path):
    channel = ListeningWakeChannel(tmp_path / "home", "worker-1", url)
    try:
        fds = channel.fds()  # listening from here on
        assert len(fds) == 3  # signals, this host's datagrams, the store's notifications
        threading.Timer(0.2, lambda: store.jobs.add(Job.new("b", "true", NOW))).start()
        ready, _, _ = select.select(fds, [], [], SCHEMA_WAIT_SECONDS)
        assert ready == [fds[2]]
        channel.drain(ready)  # consumed: the next wait sleeps again
        assert select.select(channel.fds(), [], [], 0.2)[0] == []
    finally:
        channel.close()
