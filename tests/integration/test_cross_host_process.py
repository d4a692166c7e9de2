"""Several hosts for real (SPEC 9.6): host B is a worker in its own UTS namespace, sharing only the store.

On MongoDB (the store workers on several hosts share): ``status`` lists each
host; a job enqueued on host A starts on an idle host-B worker long before its
poll (a change stream, not the datagrams of host A's home); ``worker stop`` on
host A stops host B's workers through the store; a host-B worker killed
mid-job is recovered by host A after the lease, and host A never signals the
host-A process that has the dead worker's PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from .hosts import HOST_B, HostB, needs_namespaces
from .processes import Queue, make_queue, wait_for

pytestmark = needs_namespaces

POLL = 5.0  # seconds: a job picked up by polling waits up to this long
WELL_BEFORE_POLL = 1.5  # a generous condition for a woken worker, well below POLL


@pytest.fixture
def q(tmp_path) -> Queue:
    queue = make_queue("mongodb", tmp_path)
    queue.cli("config", "set", "poll_interval", str(POLL))
    yield queue
    queue.stop_workers()
    queue.close()


@pytest.fixture
def host_b(q, tmp_path):
    started: list[HostB] = []

    def start(*args: str, pid_like: int | None = None, home: Path | None = None) -> HostB:
        if home is None:  # a home of its own, as on another machine
            home = tmp_path / f"home-b{len(started)}"
            home.mkdir(mode=0o700)
        started.append(HostB(q, home, *args, pid_like=pid_like))
        return started[-1]

    yield start
    for worker in started:
        worker.close()


def hosts(q: Queue) -> set[str]:
    return {worker["host"] for worker in q.cli_json("status")["workers"]}


def enqueue(q: Queue, *args: str) -> str:
    out = q.cli("enqueue", *args).stdout
    return out.split("'")[1]


def waited(q: Queue, job_id: str) -> float:
    """Seconds from the job's enqueue to its start on a worker, from the job's own timestamps."""
    job = q.store.jobs.get(job_id)
    return (job.history[0].started_at - job.created_at).total_seconds()


def test_status_lists_each_host_and_a_job_from_host_a_starts_at_once_on_host_b(q, host_b):
    q.cli("worker", "start", "--queue", "a")  # host A's datagrams wake only this one
    worker = host_b("--queue", "b")
    wait_for(lambda: hosts(q) == {os.uname().nodename, HOST_B}, what="a worker on each host")
    table = q.cli("status").stdout
    assert HOST_B in table and os.uname().nodename in table
    for _ in range(3):  # a polled pickup waits up to POLL: three quick ones by chance are unlikely
        job_id = enqueue(q, "--queue", "b", "true")
        q.wait_state(job_id, "completed", timeout=2 * POLL + 10)
        assert q.store.jobs.get(job_id).history[0].host == HOST_B
        assert waited(q, job_id) < WELL_BEFORE_POLL, worker.output()


def running_pids(home: Path) -> list[int]:
    """The PIDs in the running records of ``home`` (what a recovering worker may kill)."""
    return [int(path.read_text().split()[1]) for path in (home / "running").iterdir() if path.read_text().strip()]


def free_pids(count: int) -> int:
    """The first of ``count`` consecutive PIDs no process of this machine has now."""
    taken = {int(name) for name in os.listdir("/proc") if name.isdigit()}
    return next(start for start in range(2000, 30000, count) if not taken & set(range(start, start + count)))


def processes_from(first: int, count: int) -> list[subprocess.Popen]:
    """``count`` host-A ``sleep`` processes, given PIDs from ``first`` on (``ns_last_pid``) as far as
    the rest of the machine lets them."""
    Path("/proc/sys/kernel/ns_last_pid").write_text(str(first - 1))
    return [subprocess.Popen(["sleep", "300"], start_new_session=True) for _ in range(count)]  # group leaders


def consecutive(pids: set[int], count: int) -> int:
    """The first PID of ``count`` consecutive ones in ``pids``."""
    return next(pid for pid in sorted(pids) if all(pid + step in pids for step in range(count)))


def test_host_a_stops_host_b_through_the_store_and_recovers_its_lost_job_without_signalling_its_pids(
        q, host_b, tmp_path):
    """Host B shares host A's home (an NFS home): its worker and its command have PIDs of host-A processes."""
    q.cli("config", "set", "lease_seconds", "3")
    bystanders = [subprocess.Popen(["sleep", "300"], start_new_session=True)]  # host-A processes a signal would end
    try:
        q.home.mkdir(mode=0o700, exist_ok=True)
        lost = host_b("--queue", "b", pid_like=bystanders[0].pid, home=q.home)
        bystanders += processes_from(free_pids(64), 64)  # started before host B's command: its record names them
        first = consecutive({process.pid for process in bystanders}, 16)  # other processes may have cut in
        steer = enqueue(q, "--queue", "b", f"echo {first - 1} > /proc/sys/kernel/ns_last_pid")
        q.wait_state(steer, "completed")  # host B's next command gets one of these PIDs
        marker = tmp_path / "ran-once"
        job_id = enqueue(q, "--queue", "b", "--", "sh", "-c", f"test -e {marker} && exit 0; touch {marker}; sleep 300")
        q.wait_state(job_id, "processing")
        [record] = q.store.workers.workers()
        assert (record.host, record.pid) == (HOST_B, bystanders[0].pid)
        [job_pid] = wait_for(lambda: running_pids(q.home), what="host B's command recorded")
        assert job_pid in {process.pid for process in bystanders}, f"no host-A process has PID {job_pid}"
        q.cli("worker", "start")  # host A, all queues: idle while host B holds the job
        lost.kill()  # host B loses power mid-job
        q.wait_state(job_id, "completed", timeout=60)
        job = q.store.jobs.get(job_id)
        assert [attempt.host for attempt in job.history] == [HOST_B, os.uname().nodename]
        other = host_b("--queue", "b")
        wait_for(lambda: HOST_B in hosts(q), what="a live worker on host B")
        stop = q.cli("worker", "stop", "--timeout", "20", timeout=90)
        assert "All workers stopped." in stop.stdout
        assert other.process.wait(30) == 0, other.output()  # stopped by its own graceful exit
        assert [process.pid for process in bystanders if process.poll() is not None] == []  # none signalled
    finally:
        for process in bystanders:
            process.send_signal(signal.SIGKILL)
            process.wait()
