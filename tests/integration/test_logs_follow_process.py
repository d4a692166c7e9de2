"""``queuectl logs ID --follow`` with a real worker: waiting line, streamed output, final line, exit status."""

from __future__ import annotations

import subprocess
import sys

from .processes import Queue, wait_for
from .test_wait_process import gated, queue, start_worker  # noqa: F401 - the fixture, on SQLite and MongoDB


def following(q: Queue, job_id: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "queuectl", "logs", job_id, "--follow"], env=q.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_follow_says_a_job_waits_streams_its_output_and_ends_with_completed(queue, tmp_path):
    queue.cli("config", "set", "poll_interval", "0.5")  # the start of an attempt is seen at the next poll
    gate = gated(queue, tmp_path, "build", "echo built")
    process = following(queue, "build")
    first = process.stdout.readline()
    assert first.startswith("job 'build' is pending, waiting for a worker: due ") and first.endswith("(now)\n")
    start_worker(queue)
    assert process.stdout.readline().startswith("=== attempt 1 · running · worker ")
    gate.touch()
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out, err) == (0, "built\njob 'build' completed (exit 0)\n", "")


def test_follow_of_a_job_that_ends_dead_shows_each_attempt_and_exits_1(queue):
    queue.cli("config", "set", "backoff_base", "1.5")
    queue.cli("config", "set", "poll_interval", "0.5")  # a retry is seen at the next poll (only final states wake)
    queue.cli("enqueue", "echo try; exit 3", "--id", "flaky", "--max-retries", "1")
    start_worker(queue)
    result = queue.cli("logs", "flaky", "--follow", check=False)
    lines = result.stdout.splitlines()
    assert result.returncode == 1 and result.stderr == ""
    assert lines[-1] == "job 'flaky' ended dead: exit code 3"
    headers = [line.split(" · ")[:2] for line in lines if line.startswith("===")]
    assert [header[0] for header in headers] == ["=== attempt 1", "=== attempt 2"]  # each seen once,
    assert all(header[1] in ("running", "exit code 3") for header in headers)  # while it ran or after
    assert lines.count("try") == 2


def test_follow_ends_at_once_with_1_when_the_job_is_cancelled(queue):
    queue.cli("enqueue", "true", "--id", "later", "--delay", "1h")
    process = following(queue, "later")
    assert process.stdout.readline().startswith("job 'later' is pending, waiting for a worker: due ")
    wait_for(lambda: any((queue.home / "wake" / "waiters").iterdir()), what="the follow to listen")
    queue.cli("cancel", "later")
    out, err = process.communicate(timeout=15)  # woken by the cancel, not the 30 s poll
    assert (process.returncode, out, err) == (1, "job 'later' was cancelled\n", "")


def test_follow_of_an_unknown_job_is_one_error_line(queue):
    result = queue.cli("logs", "nope", "--follow", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "Error: job 'nope' not found\n")
