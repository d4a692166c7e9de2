"""``queuectl wait`` with real worker processes, on SQLite and MongoDB.

poll_interval is 30 s here: a wait that returns well before 30 s after its job
ended was woken by the same-host report, not by its next poll.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from .processes import PROCESS_STORES, Queue, make_queue, wait_for

WOKEN_WELL_BEFORE_THE_POLL = 15.0  # seconds: a deadline for the condition, not a speed bound


@pytest.fixture(params=PROCESS_STORES)
def queue(request, tmp_path):
    q = make_queue(request.param, tmp_path)
    q.cli("config", "set", "poll_interval", "30")
    yield q
    q.stop_workers()
    q.close()


def start_worker(q: Queue) -> None:
    q.cli("worker", "start", "--count", "1")


def gated(q: Queue, tmp_path, job_id: str, then: str = "true", *options: str):
    """A job that runs until its gate file exists, then runs ``then``; started and running."""
    gate = tmp_path / f"gate-{job_id}"
    q.cli("enqueue", f"while [ ! -e {gate} ]; do sleep 0.05; done; {then}", "--id", job_id, *options)
    return gate


def waiting(q: Queue, *args: str) -> subprocess.Popen:
    """``queuectl wait ARGS`` started, and listening for reports before it returns."""
    folder = q.home / "wake" / "waiters"
    before = set(folder.iterdir()) if folder.exists() else set()
    process = subprocess.Popen([sys.executable, "-m", "queuectl", "wait", *args], env=q.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: process.poll() is not None or (folder.exists() and set(folder.iterdir()) - before),
             what="the wait to listen")
    return process


def finished(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def test_wait_returns_0_as_soon_as_its_job_completed_without_waiting_for_the_poll(queue, tmp_path):
    gate = gated(queue, tmp_path, "build")
    start_worker(queue)
    queue.wait_state("build", "processing")
    process = waiting(queue, "build")
    assert process.poll() is None  # it really waits
    gate.touch()
    code, out, err = finished(process, timeout=WOKEN_WELL_BEFORE_THE_POLL)
    assert (code, out, err) == (0, "job 'build' completed (exit 0)\n", "")


def test_wait_returns_1_naming_the_job_that_ended_dead(queue, tmp_path):
    gate = gated(queue, tmp_path, "broken", "echo oops >&2; exit 3", "--max-retries", "0")
    start_worker(queue)
    queue.wait_state("broken", "processing")
    process = waiting(queue, "broken")
    gate.touch()
    code, out, err = finished(process, timeout=WOKEN_WELL_BEFORE_THE_POLL)
    assert (code, out, err) == (1, "", "Error: job 'broken' ended dead: exit code 3\n")


def test_wait_on_several_jobs_is_1_when_one_of_them_was_cancelled(queue, tmp_path):
    queue.cli("enqueue", "true", "--id", "ok")
    queue.cli("enqueue", "true", "--id", "later", "--delay", "1h")
    start_worker(queue)
    queue.wait_state("ok", "completed")
    process = waiting(queue, "ok", "later", "--json")
    queue.cli("cancel", "later")
    code, out, err = finished(process, timeout=WOKEN_WELL_BEFORE_THE_POLL)
    assert (code, err) == (1, "Error: job 'later' was cancelled\n")
    assert json.loads(out) == [{"id": "ok", "state": "completed", "exit_code": 0, "last_error": None},
                               {"id": "later", "state": "cancelled", "exit_code": None, "last_error": None}]


def test_wait_for_a_queue_ends_when_its_last_job_completed(queue, tmp_path):
    gates = [gated(queue, tmp_path, f"n{i}", "true", "--queue", "nightly") for i in range(2)]
    queue.cli("enqueue", "true", "--id", "other", "--queue", "other", "--delay", "1h")  # not waited for
    start_worker(queue)
    queue.wait_state("n0", "processing")
    process = waiting(queue, "--queue", "nightly")
    for gate in gates:
        gate.touch()
    code, out, err = finished(process, timeout=WOKEN_WELL_BEFORE_THE_POLL)
    assert (code, out, err) == (0, "2 jobs completed\n", "")


def test_a_timeout_is_one_error_line_naming_the_unfinished_jobs(queue):
    queue.cli("enqueue", "true", "--id", "a")
    queue.cli("enqueue", "true", "--id", "b")
    result = queue.cli("wait", "a", "b", "--timeout", "0.5", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", "Error: timed out after 0.5s: 2 jobs still unfinished\n")


def test_an_unknown_id_is_an_error(queue):
    result = queue.cli("wait", "nope", check=False)
    assert (result.returncode, result.stderr) == (1, "Error: job 'nope' not found\n")


def test_ids_with_a_queue_is_a_usage_error(queue):
    result = queue.cli("wait", "a", "--queue", "q", check=False)
    assert result.returncode == 2 and result.stderr.splitlines()[-1] == "Error: give job IDs or --queue, not both"


def test_ctrl_c_ends_a_wait_quietly_with_130(queue):
    queue.cli("enqueue", "true", "--id", "a")
    process = waiting(queue, "a")
    process.send_signal(signal.SIGINT)
    code, out, err = finished(process)
    assert (code, out, err) == (130, "", "")
    assert list((queue.home / "wake" / "waiters").iterdir()) == []  # its socket is gone
