"""Dependencies (SPEC 9.3) end to end: the real CLI in subprocesses and real workers, on SQLite
and MongoDB. A chain runs in order whatever the priorities and however many workers; a failing
dependency cancels the chain with the reason; the CLI's answers and exit codes."""

from __future__ import annotations

import os

import pytest

from .processes import MONGO_ENV, MONGO_SKIP_REASON, make_queue
from .test_worker_process import start


@pytest.fixture(params=["sqlite", "mongodb"])
def queue(request, tmp_path):
    if request.param == "mongodb" and not os.environ.get(MONGO_ENV):
        pytest.skip(MONGO_SKIP_REASON)
    q = make_queue(request.param, tmp_path)
    q.cli("config", "set", "poll_interval", "0.05")
    yield q
    q.stop_workers()
    q.close()


def test_a_chain_runs_in_order_on_two_workers_whatever_the_priorities(queue, tmp_path):
    log = tmp_path / "order.log"
    step = "sleep 0.3; echo {0} >> " + str(log)
    queue.cli("enqueue", "--id", "a", step.format("a"))
    enqueued = queue.cli("enqueue", "--id", "b", "--after", "a", "--priority", "5", step.format("b")).stdout
    assert enqueued.startswith("Enqueued job 'b': ") and enqueued.endswith(" (blocked)\n")
    queue.cli("enqueue", "--id", "c", "--after", "b", "--after", "a", "--priority", "9", step.format("c"))
    shown = queue.cli_json("show", "c")
    assert shown["after"] == ["b", "a"]
    assert shown["dependencies"] == [{"id": "b", "state": "blocked"}, {"id": "a", "state": "pending"}]
    assert "blocked" in queue.cli("list", "--state", "blocked").stdout
    start(queue, 2)
    queue.wait_state("c", "completed")
    assert log.read_text().split() == ["a", "b", "c"]
    assert queue.cli_json("show", "c")["dependencies"] == [{"id": "b", "state": "completed"},
                                                           {"id": "a", "state": "completed"}]


def test_a_failing_dependency_cancels_the_chain_with_the_reason(queue):
    queue.cli("enqueue", "--id", "build", "--max-retries", "0", "exit 3")
    queue.cli("enqueue", "--id", "test", "--after", "build", "true")
    queue.cli("enqueue", "--id", "deploy", "--after", "test", "true")
    start(queue, 1)
    queue.wait_state("deploy", "cancelled")
    errors = {name: queue.cli_json("show", name)["last_error"] for name in ("test", "deploy")}
    assert errors == {"test": "dependency 'build' ended dead", "deploy": "dependency 'test' ended cancelled"}
    late = queue.cli("enqueue", "--id", "late", "--after", "deploy", "true")
    assert late.stdout.endswith("(cancelled: dependency 'deploy' ended cancelled)\n")


def test_an_unknown_dependency_is_one_error_line_exit_1_and_nothing_stored(queue):
    result = queue.cli("enqueue", "--id", "x", "--after", "ghost", "true", check=False)
    assert (result.returncode, result.stderr) == (
        1, "Error: dependency 'ghost' not found: --after takes the id of an existing job\n")
    bad = queue.cli("enqueue", "--after", "not an id", "true", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert sum(queue.counts().values()) == 0


def test_cancel_all_cancels_blocked_jobs_and_status_counts_them(queue):
    queue.cli("enqueue", "--id", "a", "--delay", "1h", "true")
    queue.cli("enqueue", "--id", "b", "--after", "a", "true")
    assert queue.cli_json("status")["jobs"]["blocked"] == 1
    queue.cli("cancel", "--all")
    assert queue.counts()["cancelled"] == 2
