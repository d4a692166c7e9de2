"""``retry``, ``cancel`` and ``update`` (SPEC 9.2) through the real CLI in subprocesses, on SQLite and
MongoDB: exit codes, one line per job, one ``Error:`` line per refusal, and a bulk cancel that
kills a running command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from queuectl.domain.model import JobState

from .processes import MONGO_ENV, MONGO_SKIP_REASON, PROCESS_STORES, Queue, make_queue, wait_for
from .test_worker_process import pid_alive, start


@pytest.fixture(params=PROCESS_STORES)
def queue(request, tmp_path):
    if request.param == "mongodb" and not os.environ.get(MONGO_ENV):
        pytest.skip(MONGO_SKIP_REASON)
    q = make_queue(request.param, tmp_path)
    yield q
    q.stop_workers()
    q.close()


def errors(result: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in result.stderr
    return result.stderr.splitlines()


def finish(q: Queue, job_id: str, ok: bool = True) -> None:
    """Run one job to its end through the store, as a worker would."""
    from queuectl.domain.backoff import BackoffPolicy
    from queuectl.domain.ports import WorkerRef

    now = datetime.now(timezone.utc)
    job = q.store.jobs.claim_next(WorkerRef("w", "h"), now, now + timedelta(seconds=30))
    assert job is not None and job.id == job_id
    token = job.lease_token
    job.succeed(now) if ok else job.fail(now, "exit code 1", BackoffPolicy(2, 10), 1)
    assert q.store.jobs.record_outcome(job, token)


def test_retry_of_several_ids_retries_each_it_can_and_names_each_refusal(queue):
    queue.cli("enqueue", "true", "--id", "done")
    finish(queue, "done")
    queue.cli("enqueue", "true", "--id", "waiting")
    result = queue.cli("retry", "done", "waiting", "ghost", check=False)
    assert result.returncode == 1
    assert result.stdout == "Retried done\n"
    assert errors(result) == [
        "Error: job 'waiting' is pending: cannot retry it (only completed, failed, dead and cancelled jobs can)",
        "Error: job 'ghost' not found"]
    job = queue.store.jobs.get("done")
    assert (job.state, job.attempts, len(job.history)) == (JobState.PENDING, 0, 1)


def test_retry_all_takes_the_given_states_of_one_queue_and_dlq_retry_stays_dead_only(queue):
    for job_id, job_queue in (("a", "nightly"), ("b", "nightly"), ("c", "default")):
        queue.cli("enqueue", "true", "--id", job_id, "--queue", job_queue, "--max-retries", "0")
    finish(queue, "a")
    finish(queue, "b", ok=False)
    finish(queue, "c")
    result = queue.cli("retry", "--all", "--state", "completed", "--state", "dead", "--queue", "nightly")
    assert result.stdout == "Retried 2 jobs\n"
    assert [queue.state(job_id) for job_id in "abc"] == ["pending", "pending", "completed"]
    refused = queue.cli("dlq", "retry", "c", check=False)
    assert refused.returncode == 1
    assert errors(refused) == ["Error: job 'c' is completed: cannot retry from the DLQ (only dead jobs can)"]
    usage = queue.cli("retry", "--state", "dead", check=False)
    assert usage.returncode == 2 and errors(usage)[-1] == "Error: --state and --queue go with --all"
    bad = queue.cli("retry", "--all", "--state", "processing", check=False)
    assert bad.returncode == 2 and "'processing' is not one of" in errors(bad)[-1]


def test_update_changes_a_waiting_job_and_refuses_any_other_state(queue):
    queue.cli("enqueue", "true", "--id", "build-43")
    result = queue.cli("update", "build-43", "--priority", "10", "--queue", "urgent", "--max-retries", "5")
    assert result.stdout == "Updated build-43: priority 10, queue urgent, max_retries 5\n"
    shown = json.loads(queue.cli("update", "build-43", "--timeout", "90", "--json").stdout)
    assert (shown["priority"], shown["queue"], shown["max_retries"], shown["timeout"]) == (10, "urgent", 5, 90)
    finish(queue, "build-43")
    refused = queue.cli("update", "build-43", "--priority", "1", check=False)
    assert refused.returncode == 1
    assert errors(refused) == ["Error: job 'build-43' is completed: cannot update it "
                               "(only pending, failed and blocked jobs can)"]
    assert queue.store.jobs.get("build-43").priority == 10


@pytest.mark.parametrize("args, message", [
    ((), "Error: nothing to update: give --priority, --run-at, --delay, --queue, --max-retries or --timeout"),
    (("--priority", "1e3"), "Error: Invalid value for '--priority': '1e3' is not an integer"),
    (("--delay", "5m", "--run-at", "2030-01-01"), "Error: give --run-at or --delay, not both"),
    (("--queue", "two words"), "Error: Invalid value for '--queue': invalid queue name 'two words': "
                               "use 1-128 characters of A-Z a-z 0-9 . _ : -"),
])
def test_an_update_with_nothing_or_a_bad_value_is_a_usage_error_that_stores_nothing(queue, args, message):
    queue.cli("enqueue", "true", "--id", "job1")
    before = queue.store.jobs.get("job1")
    result = queue.cli("update", "job1", *args, check=False)
    assert (result.returncode, errors(result)[-1]) == (2, message)
    assert queue.store.jobs.get("job1") == before


def test_cancel_of_several_ids_and_of_a_queue(queue):
    for job_id, job_queue in (("a", "nightly"), ("b", "nightly"), ("c", "default"), ("d", "default")):
        queue.cli("enqueue", "true", "--id", job_id, "--queue", job_queue)
    result = queue.cli("cancel", "c", "ghost", check=False)
    assert (result.returncode, result.stdout, errors(result)) == (1, "Cancelled c\n", ["Error: job 'ghost' not found"])
    assert queue.cli("cancel", "--all", "--queue", "nightly").stdout == "Cancelled 2 jobs\n"
    assert [queue.state(job_id) for job_id in "abcd"] == ["cancelled", "cancelled", "cancelled", "pending"]


def test_cancel_all_of_running_jobs_kills_their_commands(queue, tmp_path):
    queue.cli("config", "set", "lease_seconds", "600")  # renewals 200 s apart: only the wake-up can stop it
    pidfile = tmp_path / "c.pid"
    queue.cli("enqueue", f"sleep 600 & echo $! > {pidfile}; wait", "--id", "doomed")
    queue.cli("enqueue", "true", "--id", "later", "--delay", "1h")
    start(queue, 1)
    wait_for(pidfile.exists, what="the command to start")
    assert queue.cli("cancel", "--all").stdout == "Cancelled 1 job\n"  # the waiting one only
    assert queue.state("doomed") == "processing"
    assert queue.cli("cancel", "--all", "--state", "processing").stdout == "Cancelled 1 job\n"
    wait_for(lambda: not pid_alive(int(pidfile.read_text())), timeout=60, what="the command to be killed")
    job = queue.store.jobs.get("doomed")
    assert (job.state, job.history[-1].error) == (JobState.CANCELLED, "cancelled")


def test_the_control_commands_work_in_the_interactive_shell(queue):
    commands = "enqueue true --id s1\nupdate s1 --priority 3\ncancel s1\nretry s1\nretry s1\nexit\n"
    result = subprocess.run([sys.executable, "-m", "queuectl"], input=commands, env=queue.env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["Enqueued job 's1': true", "Updated s1: priority 3", "Cancelled s1", "Retried s1"]
    assert errors(result) == ["Error: job 's1' is pending: cannot retry it "
                              "(only completed, failed, dead and cancelled jobs can)"]
    job = queue.store.jobs.get("s1")
    assert (job.state, job.priority) == (JobState.PENDING, 3)
