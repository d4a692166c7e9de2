"""A worker paused (SIGSTOP, a suspended VM) past its lease, on a store it shares with another queue home.

The two queue homes stand for two hosts: each has its own ``running/`` records, so
the worker that takes the job over cannot kill the paused worker's command for it.
The paused worker has to do that itself, the moment it continues, before it asks
the store anything: here the store is even locked when it wakes.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from queuectl.adapters.shell_runner import ShellRunner
from queuectl.adapters.wakeup import WakeChannel
from queuectl.domain.model import WORKER_LOST, Job

from .processes import Queue, wait_for
from .test_worker_process import pid_alive, start

LEASE_SECONDS = 3


@pytest.fixture
def two_homes(tmp_path):
    """Queue homes ``a`` and ``b`` on one SQLite file: two hosts, as far as orphans go."""
    url = f"sqlite:///{tmp_path / 'a' / 'queue.db'}"
    a, b = Queue(tmp_path / "a", url), Queue(tmp_path / "b", url)
    a.cli("config", "set", "lease_seconds", str(LEASE_SECONDS))
    a.cli("config", "set", "backoff_base", "1")
    yield a, b
    for queue in (a, b):
        queue.stop_workers()
        queue.close()


def first_and_second_run(marks: Path) -> str:
    """The first run records its PID and sleeps long; the second records its own and ends soon."""
    return (f"if mkdir {marks}/first 2>/dev/null; then echo $$ > {marks}/a.pid; exec sleep 120; "
            f"else echo $$ > {marks}/b.pid; sleep 1; fi")


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


@pytest.mark.fault
def test_a_worker_paused_past_its_lease_kills_its_command_when_it_wakes_and_its_outcome_is_refused(
        two_homes, tmp_path):
    a, b = two_homes
    marks = tmp_path / "marks"
    marks.mkdir()
    [worker_a] = start(a, 1)
    a.cli("enqueue", first_and_second_run(marks), "--id", "paused")
    command_a = wait_for(lambda: read_pid(marks / "a.pid"), what="worker A's command to start")

    os.kill(worker_a, signal.SIGSTOP)
    try:
        [worker_b] = start(b, 1)  # recovers the job once A's lease has run out, and runs it again
        wait_for(lambda: read_pid(marks / "b.pid"), timeout=60, what="worker B's attempt to start")
        assert pid_alive(command_a)  # the job now runs twice at once: the window this test closes
        with store_locked(a.url):  # A cannot reach the store when it wakes
            os.kill(worker_a, signal.SIGCONT)
            woken = time.monotonic()
            wait_for(lambda: not pid_alive(command_a), timeout=30, what="A's command to be killed")
            print(f"\npaused worker: its command was gone {time.monotonic() - woken:.2f} s after SIGCONT")
    finally:
        os.kill(worker_a, signal.SIGCONT)

    b.wait_state("paused", "completed", timeout=60)
    job = a.store.jobs.get("paused")
    lost, rerun = job.history
    assert (lost.error, rerun.outcome.value) == (WORKER_LOST, "completed")  # A's late outcome was refused
    assert lost.worker != rerun.worker == job.worker
    assert pid_alive(worker_a)

    os.kill(worker_b, signal.SIGTERM)  # A alone now (`worker stop` would stop both): it goes on working
    wait_for(lambda: not pid_alive(worker_b), what="worker B to exit")
    a.cli("enqueue", "true", "--id", "after")
    a.wait_state("after", "completed", timeout=60)
    assert a.store.jobs.get("after").worker == lost.worker


def test_a_worker_waiting_on_its_command_stops_waiting_the_moment_it_is_continued(tmp_path):
    channel = WakeChannel(tmp_path / "home", "w1")
    runner = ShellRunner(tmp_path / "home", channel)
    now = datetime.now(timezone.utc)
    job = Job.new("j1", "sleep 20", now)
    job.claim("w1", "host", "token", now, now + timedelta(seconds=30))
    command = runner.start(job)
    try:
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGCONT)).start()
        # Woken with the command still running; unwoken, the wait would last until it ended.
        assert command.wait(60) is None
    finally:
        command.kill("test over")
        runner.close()
        channel.close()


class store_locked:
    """Hold the SQLite file's write lock: every worker's next write waits for it."""

    def __init__(self, url: str) -> None:
        self.path = url.removeprefix("sqlite:///")

    def __enter__(self) -> None:
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, *_exc: object) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()
