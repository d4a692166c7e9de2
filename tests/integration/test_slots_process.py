"""Workers with slots (SPEC 9.7, ``--concurrency``): real processes through the real CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from .processes import make_queue, wait_for
from .test_worker_process import enqueue_lines, pid_alive, start


def make(kind, tmp_path):
    q = make_queue(kind, tmp_path)
    q.kind = kind
    q.cli("config", "set", "lease_seconds", "2")
    return q


@pytest.fixture(params=["sqlite", "postgres"])
def queue(request, tmp_path):
    q = make(request.param, tmp_path)
    yield q
    q.stop_workers()
    q.close()


@pytest.fixture
def sqlite_queue(tmp_path):
    q = make("sqlite", tmp_path)
    yield q
    q.stop_workers()
    q.close()


def test_one_worker_runs_four_jobs_at_once_and_a_stop_waits_for_all_but_a_cancelled_one(queue, tmp_path):
    gate = tmp_path / "gate"
    enqueue_lines(queue, [{"id": f"s{i}", "command": f"echo out-{i}; while [ ! -e {gate} ]; do sleep 0.05; done;"
                                                     f" echo end-{i}"} for i in range(4)])
    start(queue, 1, "--concurrency", "4")
    wait_for(lambda: queue.counts()["processing"] == 4, what="four jobs running at once")
    [worker] = queue.cli_json("status")["workers"]
    assert (worker["slots"], worker["busy"]) == (4, 4)
    queue.cli("cancel", "s3")
    queue.wait_state("s3", "cancelled")
    assert [queue.state(f"s{i}") for i in range(3)] == ["processing"] * 3  # the others run on
    stopper = subprocess.Popen([sys.executable, "-m", "queuectl", "worker", "stop"], env=queue.env(),
                               stdout=subprocess.PIPE, text=True)
    first = stopper.stdout.readline()
    assert "Waiting for 1 worker(s)" in first, first
    gate.touch()
    assert "All workers stopped" in first + stopper.communicate(timeout=60)[0]
    jobs = [queue.store.jobs.get(f"s{i}") for i in range(3)]
    assert [job.state.value for job in jobs] == ["completed"] * 3
    assert max(job.started_at for job in jobs) < min(job.finished_at for job in jobs)  # they overlapped
    for i in range(3):  # each job's output, whole and its own
        assert queue.cli("logs", f"s{i}").stdout.splitlines()[1:] == [f"out-{i}", f"end-{i}"]
    assert queue.store.workers.workers() == []


def database_handles(pid: int, path: str) -> int:
    """How many of process ``pid``'s descriptors are open on the SQLite file ``path`` (its connections)."""
    opened = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            opened += os.readlink(f"/proc/{pid}/fd/{fd}") == os.path.realpath(path)
        except OSError:  # closed meanwhile
            pass
    return opened


def test_a_killed_worker_with_four_running_jobs_is_recovered_whole_and_its_commands_killed(sqlite_queue, tmp_path):
    q = sqlite_queue
    # the first attempt sleeps in the background (its PID kept); the second ends at once
    enqueue_lines(q, [{"id": f"k{i}", "command": f"if [ -e {tmp_path}/m{i} ]; then echo second; else touch"
                                                 f" {tmp_path}/m{i}; sleep 60 & echo $! > {tmp_path}/p{i}; wait; fi"}
                      for i in range(4)])
    [pid] = start(q, 1, "--concurrency", "4")
    wait_for(lambda: all((tmp_path / f"p{i}").exists() and (tmp_path / f"p{i}").read_text().strip()
                         for i in range(4)), what="four commands running")
    sleeps = [int((tmp_path / f"p{i}").read_text()) for i in range(4)]
    os.kill(pid, signal.SIGKILL)
    [second] = start(q, 1, "--concurrency", "2")  # recovers the four once their 2 s leases have run out
    wait_for(lambda: all(q.state(f"k{i}") == "completed" for i in range(4)), timeout=60, what="all recovered")
    # both slots wrote outcomes, the dispatcher claimed: one connection to the file between them
    assert database_handles(second, q.url.removeprefix("sqlite:///")) == 1
    for i in range(4):
        job = q.store.jobs.get(f"k{i}")
        assert job.attempts == 2 and job.history[0].error.startswith("worker lost")
    wait_for(lambda: not any(pid_alive(p) for p in sleeps), what="the orphaned commands killed")


def test_stop_with_a_timeout_releases_each_running_job(sqlite_queue):
    q = sqlite_queue
    enqueue_lines(q, [{"id": f"t{i}", "command": "sleep 60"} for i in range(3)])
    start(q, 1, "--concurrency", "3")
    wait_for(lambda: q.counts()["processing"] == 3, what="three jobs running")
    q.cli("worker", "stop", "--timeout", "1", timeout=60)
    jobs = [q.store.jobs.get(f"t{i}") for i in range(3)]
    assert [(job.state.value, job.attempts) for job in jobs] == [("pending", 0)] * 3
    assert q.store.workers.workers() == []
