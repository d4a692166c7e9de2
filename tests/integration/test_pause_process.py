"""``pause`` / ``resume`` through the real CLI with a real worker process, on SQLite and MongoDB.

(That ``resume`` wakes this host's idle workers is a unit test of the service: a wake-up
cannot be told from a poll here without a bound on wall time.)
"""

from __future__ import annotations

import json

import pytest

from .processes import PROCESS_STORES, Queue, make_queue


@pytest.fixture(params=PROCESS_STORES)
def queue(request, tmp_path):
    q = make_queue(request.param, tmp_path)
    q.cli("config", "set", "poll_interval", "0.2")
    yield q
    q.stop_workers()
    q.close()


def enqueue(q: Queue, job_id: str, queue_name: str, command: str = "true") -> None:
    q.cli("enqueue", "--id", job_id, "--queue", queue_name, "--timeout", "120", command)


def test_a_paused_queue_waits_while_the_worker_runs_others_and_runs_once_resumed(queue, tmp_path):
    assert queue.cli("pause", "--queue", "nightly").stdout == "Paused queue nightly (running jobs go on)\n"
    queue.cli("worker", "start", "--count", "1")
    enqueue(queue, "n1", "nightly", f"touch {tmp_path / 'n1-ran'}")
    enqueue(queue, "d1", "default")  # enqueued after n1: only the pause lets it run first
    queue.wait_state("d1", "completed")
    assert queue.state("n1") == "pending" and not (tmp_path / "n1-ran").exists()
    assert "Paused: nightly" in queue.cli("status").stdout
    assert queue.cli_json("status")["paused"] == {"all": False, "queues": ["nightly"], "resumed": []}

    queue.cli("resume", "--queue", "nightly")
    queue.wait_state("n1", "completed")
    assert (tmp_path / "n1-ran").exists()
    assert "Paused" not in queue.cli("status").stdout


def test_a_running_job_goes_on_when_its_queue_is_paused(queue, tmp_path):
    go = tmp_path / "go"
    queue.cli("worker", "start", "--count", "1")
    enqueue(queue, "long", "nightly", f"while [ ! -e {go} ]; do sleep 0.05; done")
    queue.wait_state("long", "processing")
    queue.cli("pause", "--queue", "nightly")
    go.touch()
    queue.wait_state("long", "completed")
    assert queue.store.jobs.get("long").attempts == 1


def test_pause_of_every_queue_holds_a_queue_first_used_after_it(queue):
    queue.cli("pause")
    assert queue.cli("resume", "--queue", "urgent").stdout == (
        "Resumed queue urgent; every other queue stays paused\n")
    queue.cli("worker", "start", "--count", "1")
    enqueue(queue, "fresh-1", "fresh")
    enqueue(queue, "u1", "urgent")
    queue.wait_state("u1", "completed")
    assert queue.state("fresh-1") == "pending"
    status = queue.cli("status").stdout
    assert "Paused: every queue except urgent" in status
    queue.cli("resume")
    queue.wait_state("fresh-1", "completed")
    assert json.loads(queue.cli("status", "--json").stdout)["paused"]["all"] is False


def test_an_invalid_queue_name_exits_2_with_one_error_line_and_stores_nothing(queue):
    result = queue.cli("pause", "--queue", "bad name", check=False)
    assert result.returncode == 2
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [
        "Error: Invalid value for '--queue': invalid queue name 'bad name': use 1-128 characters"
        " of A-Z a-z 0-9 . _ : -"]
    assert queue.cli_json("status")["paused"] == {"all": False, "queues": [], "resumed": []}
