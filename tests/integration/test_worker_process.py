"""Real worker processes, started and stopped through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from datetime import datetime, timezone

import psutil
import pytest

from queuectl.domain.ports import WorkerInfo

from .processes import ALL_PROCESS_STORES, PROCESS_STORES, Queue, make_queue, wait_for


@pytest.fixture(params=PROCESS_STORES)
def queue(request, tmp_path):
    q = make_queue(request.param, tmp_path)
    q.kind = request.param
    q.cli("config", "set", "lease_seconds", "2")
    q.cli("config", "set", "backoff_base", "1.5")
    yield q
    q.stop_workers()
    q.close()


def enqueue_lines(q: Queue, jobs: list[dict]) -> None:
    q.cli("enqueue", "--file", "-", input="".join(json.dumps(job) + "\n" for job in jobs))


def start(q: Queue, count: int = 1, *extra: str) -> list[int]:
    out = q.cli("worker", "start", "--count", str(count), *extra).stdout
    pids = [int(line.split("PID ")[1].split()[0]) for line in out.splitlines() if "PID" in line]
    assert len(pids) == count
    return pids


def pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("queue", ALL_PROCESS_STORES, indirect=True)  # four workers race to claim
def test_every_job_runs_exactly_once_across_four_workers(queue, tmp_path):
    total = 1200 if queue.kind == "sqlite" else 200
    out = tmp_path / "ran.txt"
    enqueue_lines(queue, [{"id": f"j{i}", "command": f"echo j{i} >> {out}"} for i in range(total)])
    start(queue, 4)
    wait_for(lambda: queue.counts()["completed"] == total, timeout=240, what="all jobs completed")
    lines = out.read_text().split()
    assert len(lines) == total and set(lines) == {f"j{i}" for i in range(total)}
    workers = {queue.store.jobs.get(f"j{i}").worker for i in range(0, total, 7)}
    assert len(workers) > 1  # the work was really shared


def test_a_job_whose_worker_is_killed_runs_again_after_its_lease_expires(queue, tmp_path):
    marks, shell = tmp_path / "marks.txt", tmp_path / "shell.pid"
    # The first attempt would run for two minutes (its shell's PID recorded); the second ends at once.
    queue.cli("enqueue", f"echo start >> {marks}; if [ $(grep -c start {marks}) -eq 1 ]; then echo $$ > {shell}; "
                         f"sleep 120; fi; echo end >> {marks}", "--id", "victim")
    [pid] = start(queue, 1)
    wait_for(lambda: shell.exists() and shell.read_text().strip(), what="the first attempt to start")
    os.kill(pid, signal.SIGKILL)
    start(queue, 1)  # a live worker recovers the job once the 2 s lease has run out
    queue.wait_state("victim", "completed", timeout=60)
    job = queue.store.jobs.get("victim")
    assert job.attempts == 2 and job.history[0].error.startswith("worker lost")
    wait_for(lambda: not pid_alive(int(shell.read_text())), timeout=60, what="the killed attempt's shell to die")
    assert marks.read_text().split() == ["start", "start", "end"]  # the killed attempt never went on


def test_a_graceful_stop_lets_the_running_job_finish_and_takes_no_new_one(queue, tmp_path):
    gate = tmp_path / "gate"  # the job ends only once the stop is under way, however loaded the machine
    queue.cli("enqueue", f"while [ ! -e {gate} ]; do sleep 0.05; done; echo finished", "--id", "running")
    start(queue, 1)
    queue.wait_state("running", "processing")
    queue.cli("enqueue", "true", "--id", "waiting")
    stopper = subprocess.Popen([sys.executable, "-m", "queuectl", "worker", "stop"], env=queue.env(),
                               stdout=subprocess.PIPE, text=True)
    first = stopper.stdout.readline()
    assert "Waiting for 1 worker(s)" in first, first
    gate.touch()
    out = first + stopper.communicate(timeout=60)[0]
    assert "All workers stopped" in out
    assert queue.state("running") == "completed" and queue.state("waiting") == "pending"
    assert queue.store.workers.workers() == []


def test_stop_with_a_timeout_releases_the_running_job_without_counting_the_attempt(queue, tmp_path):
    pidfile = tmp_path / "sleep.pid"
    queue.cli("enqueue", f"sleep 60 & echo $! > {pidfile}; wait", "--id", "long")
    start(queue, 1)
    queue.wait_state("long", "processing")
    wait_for(pidfile.exists, what="the command to start")
    queue.cli("worker", "stop", "--timeout", "1", timeout=60)
    job = queue.store.jobs.get("long")
    assert job.state.value == "pending" and job.attempts == 0
    wait_for(lambda: not pid_alive(int(pidfile.read_text())), timeout=60, what="the job's child to die")


def test_a_timeout_kills_the_whole_process_group_including_background_children(queue, tmp_path):
    pidfile = tmp_path / "bg.pid"
    queue.cli("enqueue", json.dumps({"id": "slow", "max_retries": 0, "timeout": 1,
                                     "command": f"sleep 60 & echo $! > {pidfile}; sleep 60"}))
    start(queue, 1)
    queue.wait_state("slow", "dead", timeout=30)
    assert queue.store.jobs.get("slow").last_error == "timed out after 1s"
    wait_for(lambda: not pid_alive(int(pidfile.read_text())), timeout=60, what="the background child to die")


def test_retry_delays_follow_the_exponential_backoff(queue, tmp_path):
    """The schedule is read from the store, never from how fast the machine was: each retry is due
    base**n after the n-th failure ended, and starts no earlier than that."""
    # Attempt 1 fails at once; attempt k > 1 fails only once gate k exists, so the test reads the job
    # while attempt k runs: its run_at is still the one the (k-1)-th failure scheduled.
    runs = tmp_path / "runs"
    runs.mkdir()
    queue.cli("enqueue", f"n=$(ls {runs} | wc -l); n=$((n + 1)); touch {runs}/$n; "
                         f"while [ $n -gt 1 ] && [ ! -e {tmp_path}/gate$n ]; do sleep 0.05; done; exit 3",
              "--id", "flaky", "--max-retries", "2")
    start(queue, 1)
    for n in (1, 2):
        wait_for(lambda: (runs / str(n + 1)).exists(), timeout=60, what=f"attempt {n + 1} to start")
        job = queue.store.jobs.get("flaky")
        failed, retry = job.history[n - 1], job.history[n]
        assert (failed.exit_code, failed.outcome.value, retry.attempt) == (3, "failed", n + 1)
        scheduled = (job.run_at - failed.finished_at).total_seconds()
        assert scheduled == pytest.approx(1.5 ** n, abs=0.001)  # backoff_base 1.5, stored to the ms
        assert retry.started_at >= job.run_at
        (tmp_path / f"gate{n + 1}").touch()
    queue.wait_state("flaky", "dead", timeout=60)
    assert [a.exit_code for a in queue.store.jobs.get("flaky").history] == [3, 3, 3]


def test_one_worker_runs_higher_priority_first(queue, tmp_path):
    order = tmp_path / "order.txt"
    enqueue_lines(queue, [{"id": name, "priority": prio, "command": f"echo {name} >> {order}"}
                          for name, prio in [("low", 0), ("high", 10), ("mid", 5), ("low2", 0)]])
    start(queue, 1)
    wait_for(lambda: queue.counts()["completed"] == 4, what="all four jobs")
    assert order.read_text().split() == ["high", "mid", "low", "low2"]


def test_a_delayed_job_does_not_run_before_its_time(queue):
    start(queue, 1)
    queue.cli("enqueue", "true", "--id", "later", "--delay", "2s")
    job = queue.store.jobs.get("later")
    queue.wait_state("later", "completed", timeout=30)
    assert queue.store.jobs.get("later").history[0].started_at >= job.run_at


def test_cancelling_a_running_job_kills_it_and_it_is_not_retried(queue, tmp_path):
    pidfile = tmp_path / "c.pid"
    queue.cli("enqueue", f"sleep 60 & echo $! > {pidfile}; wait", "--id", "doomed")
    start(queue, 1)
    wait_for(pidfile.exists, what="the command to start")
    queue.cli("cancel", "doomed")
    wait_for(lambda: not pid_alive(int(pidfile.read_text())), timeout=60, what="the command to be killed")
    queue.cli("enqueue", "true", "--id", "after")
    queue.wait_state("after", "completed")
    job = queue.store.jobs.get("doomed")
    assert job.state.value == "cancelled" and job.attempts == 1


def test_status_lists_live_workers_and_logs_show_each_attempt(queue):
    queue.cli("enqueue", "echo out; echo err >&2; exit 1", "--id", "noisy", "--max-retries", "1")
    [pid] = start(queue, 1)
    status = queue.cli_json("status")
    assert [w["pid"] for w in status["workers"]] == [pid]
    assert set(status["workers"][0]) >= {"id", "host", "pid", "queues", "current_job", "started_at",
                                         "last_heartbeat"}
    queue.wait_state("noisy", "dead", timeout=30)
    logs = queue.cli("logs", "noisy").stdout
    assert logs.count("=== attempt") == 2 and logs.index("attempt 2") < logs.index("attempt 1")
    assert logs.count("out\nerr\n") == 2


def test_worker_stop_never_signals_a_process_that_merely_reuses_a_recorded_pid(queue):
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # queuectl"])
    try:
        now = datetime.now(timezone.utc)
        queue.store.workers.register(WorkerInfo(
            "ghost", socket.gethostname(), stranger.pid, pid_started_at=1.0, queues=(),
            started_at=now, last_heartbeat=now))
        result = queue.cli("worker", "stop", timeout=30)
        assert "stale record" in result.stdout
        assert stranger.poll() is None  # still running: it was never signalled
        assert queue.store.workers.workers() == []
    finally:
        stranger.kill()
        stranger.wait()


def test_worker_stop_with_no_workers_says_so(queue):
    result = queue.cli("worker", "stop")
    assert result.stdout.strip() == "No workers are running."


def test_worker_run_in_the_foreground_stops_gracefully_on_sigterm(queue, tmp_path):
    gate = tmp_path / "gate"  # the job runs until the signal was sent, however loaded the machine
    proc = subprocess.Popen([sys.executable, "-m", "queuectl", "worker", "run"], env=queue.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: queue.store.workers.workers(), what="the worker to register")
        queue.cli("enqueue", f"while [ ! -e {gate} ]; do sleep 0.05; done", "--id", "fg")
        queue.wait_state("fg", "processing")
        proc.send_signal(signal.SIGTERM)
        gate.touch()
        assert proc.wait(timeout=30) == 0
        assert queue.state("fg") == "completed"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_logs_follow_streams_a_running_attempt_whole_until_the_job_ends(queue, tmp_path):
    gate = tmp_path / "gate"
    queue.cli("enqueue", f"head -c 100000 /dev/zero | tr '\\0' x; echo; "
                         f"while [ ! -e {gate} ]; do sleep 0.05; done; echo end", "--id", "chatty")
    start(queue, 1)
    queue.wait_state("chatty", "processing")
    follower = subprocess.Popen([sys.executable, "-m", "queuectl", "logs", "chatty", "--follow"],
                                env=queue.env(), stdout=subprocess.PIPE, text=True)
    try:
        assert follower.stdout.readline().startswith("=== attempt 1")
        assert follower.stdout.readline() == "x" * 100_000 + "\n"  # more than the 64 KiB the store keeps
        gate.touch()  # only now may the job end: the follower saw it running
        rest, _ = follower.communicate(timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert rest == "end\njob 'chatty' completed (exit 0)\n" and follower.returncode == 0
