"""Unique keys and exit-code retry rules through the real CLI and real workers (SPEC 9.3)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .processes import ALL_PROCESS_STORES, PROCESS_STORES, Queue, make_queue


@pytest.fixture(params=PROCESS_STORES)
def queue(request, tmp_path):
    q = make_queue(request.param, tmp_path)
    q.cli("config", "set", "backoff_base", "1.1")
    yield q
    q.stop_workers()
    q.close()


def refused(q: Queue, *args: str) -> str:
    result = q.cli(*args, check=False)
    assert result.returncode == 1, (result.stdout, result.stderr)
    return result.stderr.strip()


@pytest.mark.parametrize("queue", ALL_PROCESS_STORES, indirect=True)  # eight enqueuers race for a key
def test_many_processes_enqueueing_one_key_at_once_give_one_winner_named_by_every_loser(queue):
    queue.cli("enqueue", "--id", "warm-up", "true")  # the store and its indexes exist before the race
    racers = [subprocess.Popen([sys.executable, "-m", "queuectl", "enqueue", "--unique-key", "nightly-report",
                                "--id", f"racer-{n}", "true"], env=queue.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for n in range(8)]
    results = [(racer.wait(timeout=120), *racer.communicate()) for racer in racers]
    winners = [out for code, out, _ in results if code == 0]
    assert len(winners) == 1, results
    winner = winners[0].split("'")[1]
    losers = [err.strip() for code, _, err in results if code != 0]
    assert losers == [f"Error: unique key 'nightly-report' is held by job '{winner}' (pending)"] * 7, results
    assert sorted(job["id"] for job in queue.cli_json("list")) == sorted(["warm-up", winner])


def test_a_key_is_refused_while_held_freed_when_the_holder_completes_and_taken_again_by_retry(queue):
    queue.cli("enqueue", "--id", "first", "--unique-key", "deploy:prod", "--", "sleep", "1")
    assert refused(queue, "enqueue", "--id", "second", "--unique-key", "deploy:prod", "true") == (
        "Error: unique key 'deploy:prod' is held by job 'first' (pending)")
    assert queue.cli_json("show", "first")["unique_key"] == "deploy:prod"
    queue.cli("worker", "start")
    queue.wait_state("first", "completed", timeout=60)
    queue.cli("enqueue", "--id", "second", "--unique-key", "deploy:prod", "--", "sleep", "600")
    queue.wait_state("second", "processing", timeout=60)
    assert refused(queue, "retry", "first") == "Error: unique key 'deploy:prod' is held by job 'second' (processing)"
    assert queue.state("first") == "completed"
    queue.cli("cancel", "second")
    queue.cli("retry", "first")
    queue.wait_state("first", "completed", timeout=60)


def test_a_file_line_refused_for_its_key_is_reported_with_its_line_number(queue):
    lines = ['{"id": "a", "command": "true", "unique_key": "k"}', '{"id": "b", "command": "true"}',
             '{"id": "c", "command": "true", "unique_key": "k"}', '{"id": "d", "command": "true", "unique_key": "j"}']
    result = queue.cli("enqueue", "--file", "-", input="\n".join(lines) + "\n", check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["Error: line 3: unique key 'k' is held by job 'a' (pending)"]
    assert result.stdout.strip().splitlines()[-1] == "Enqueued 3 jobs; 1 line rejected"
    assert sorted(job["id"] for job in queue.cli_json("list")) == ["a", "b", "d"]


def test_no_retry_on_sends_a_matching_exit_straight_to_dead_after_one_attempt(queue):
    queue.cli("enqueue", "--id", "bad-args", "--max-retries", "3", "--no-retry-on", "2,64-78", "--", "sh", "-c", "exit 2")
    queue.cli("enqueue", "--id", "other", "--max-retries", "1", "--no-retry-on", "2", "--", "sh", "-c", "exit 3")
    queue.cli("worker", "start")
    queue.wait_state("bad-args", "dead", timeout=60)
    shown = queue.cli_json("show", "bad-args")
    assert (shown["attempts"], shown["last_error"], shown["no_retry_on"]) == (
        1, "exit code 2 (no-retry-on: dead without retry)", "2,64-78")
    queue.wait_state("other", "dead", timeout=60)
    assert (queue.cli_json("show", "other")["attempts"], queue.cli_json("show", "other")["last_error"]) == (
        2, "exit code 3")
    assert "no-retry-on: dead without retry" in queue.cli("dlq", "list").stdout


def test_retry_on_retries_only_the_listed_exit_codes(queue):
    queue.cli("enqueue", "--id", "fatal", "--max-retries", "3", "--retry-on", "75", "--", "sh", "-c", "exit 1")
    queue.cli("enqueue", "--id", "tempfail", "--max-retries", "1", "--retry-on", "75,timeout", "--",
              "sh", "-c", "exit 75")
    queue.cli("enqueue", "--id", "slow", "--max-retries", "3", "--retry-on", "75", "--timeout", "0.5",
              "--", "sleep", "30")
    queue.cli("worker", "start", "--count", "2")
    queue.wait_state("fatal", "dead", timeout=60)
    fatal = queue.cli_json("show", "fatal")
    assert (fatal["attempts"], fatal["last_error"]) == (1, "exit code 1 (retry-on: not listed, dead without retry)")
    queue.wait_state("tempfail", "dead", timeout=60)
    assert (queue.cli_json("show", "tempfail")["attempts"], queue.cli_json("show", "tempfail")["last_error"]) == (
        2, "exit code 75")
    queue.wait_state("slow", "dead", timeout=60)
    slow = queue.cli_json("show", "slow")
    assert (slow["attempts"], slow["last_error"]) == (
        1, "timed out after 0.5s (retry-on: not listed, dead without retry)")


def test_bad_rules_and_keys_are_usage_errors_that_store_nothing(queue):
    for args in (["--retry-on", "1,256"], ["--no-retry-on", "1-"], ["--retry-on", "1", "--no-retry-on", "2"],
                 ["--unique-key", "has space"], ["--unique-key", "k" * 257]):
        result = queue.cli("enqueue", *args, "true", check=False)
        assert result.returncode == 2 and "Error:" in result.stderr and "Traceback" not in result.stderr, args
    result = queue.cli("enqueue", '{"command": "true", "retry_on": [1, "x"]}', check=False)
    assert result.returncode == 1 and "retry-on: invalid item 'x'" in result.stderr
    assert queue.cli_json("list") == []
