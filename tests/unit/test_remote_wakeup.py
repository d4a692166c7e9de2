"""Wake-ups from other hosts: a store watch cuts a worker's idle wait short, and never breaks it."""

from __future__ import annotations

import logging
import queue
import threading
import time

import pytest
from pymongo.errors import OperationFailure

from queuectl.adapters import remote_wakeup
from queuectl.adapters.mongo.wakeups import MongoChangeWatch
from queuectl.adapters.remote_wakeup import StoreWatch, Unsupported
from queuectl.adapters.wakeup import WakeChannel

DEADLINE = 5.0


class ScriptedWatch(StoreWatch):
    """A watch whose sessions play a script: ``"change"``, ``"quiet"``, an exception to raise."""

    def __init__(self, opens: list, events: "queue.Queue") -> None:
        super().__init__()
        self.opens, self.events, self.opened = opens, events, 0

    def _open(self):
        self.opened += 1
        outcome = self.opens.pop(0) if self.opens else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _next(self, session) -> bool:
        try:
            event = self.events.get(timeout=0.05)
        except queue.Empty:
            return False
        if isinstance(event, Exception):
            raise event
        return event == "change"

    def _end(self, session) -> None:
        pass


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(remote_wakeup, "RETRY_MIN", 0.01)


def woken_count(watch: StoreWatch) -> tuple[list, threading.Event]:
    wakes, woke = [], threading.Event()

    def wake() -> None:
        wakes.append(time.monotonic())
        woke.set()

    watch.start(wake)
    return wakes, woke


def test_a_change_wakes_and_a_quiet_stream_does_not():
    events = queue.Queue()
    watch = ScriptedWatch([], events)
    wakes, woke = woken_count(watch)
    assert watch.listening
    events.put("quiet")
    time.sleep(0.1)
    assert wakes == []
    events.put("change")
    assert woke.wait(DEADLINE)
    watch.close()


def test_a_failed_stream_is_reopened_and_wakes_once_for_what_it_missed(caplog):
    events = queue.Queue()
    watch = ScriptedWatch([ConnectionError("server down"), ConnectionError("still down")], events)
    with caplog.at_level(logging.INFO, logger=remote_wakeup.__name__):
        wakes, woke = woken_count(watch)
        assert woke.wait(DEADLINE)  # reopened after two failures: one wake for the gap
        events.put(RuntimeError("stream broke"))
        deadline = time.monotonic() + DEADLINE
        while watch.opened < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    watch.close()
    assert watch.opened >= 4
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one per outage, not one per failed reopen
    assert "server down" in warnings[0].getMessage()


def test_a_server_that_cannot_watch_is_logged_once_and_left_to_polling(caplog):
    watch = ScriptedWatch([Unsupported("standalone server")], queue.Queue())
    with caplog.at_level(logging.INFO, logger=remote_wakeup.__name__):
        wakes, _ = woken_count(watch)
        watch._thread.join(DEADLINE)
    assert not watch._thread.is_alive() and watch.opened == 1 and wakes == []
    assert [r.getMessage() for r in caplog.records] == [
        "no wake-ups from other hosts (standalone server): polling at poll_interval"]


def test_a_remote_wake_cuts_the_workers_idle_wait_short(tmp_path):
    events = queue.Queue()
    channel = WakeChannel(tmp_path / "home", "w1", remote=ScriptedWatch([], events))
    try:
        threading.Timer(0.1, events.put, args=("change",)).start()
        started = time.monotonic()
        channel.wait(30)
        assert time.monotonic() - started < 29
        events.put("quiet")
        channel.wait(0.05)  # drained: a second wait is not woken by the first change
    finally:
        channel.close()
    assert channel._remote._stop.is_set()


class Refusing:
    """A database whose ``watch`` fails as a server does."""

    url = "mongodb://app:secretpassword@db.invalid/jobs"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def database(self):
        return self

    def watch(self, *args, **kwargs):
        raise self.error


def test_a_standalone_mongodb_is_unsupported_and_its_answer_is_redacted():
    refusal = OperationFailure("The $changeStream stage is only supported on replica sets (app:secretpassword)",
                               code=40573)
    with pytest.raises(Unsupported) as raised:
        MongoChangeWatch(Refusing(refusal))._open()
    assert "replica sets" in str(raised.value) and "secretpassword" not in str(raised.value)


def test_a_transient_mongodb_failure_is_retried_not_taken_for_unsupported():
    with pytest.raises(OperationFailure):
        MongoChangeWatch(Refusing(OperationFailure("not primary", code=10107)))._open()
