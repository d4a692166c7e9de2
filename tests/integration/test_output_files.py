"""Attempt output files with real workers: the cap, lost attempts' output, retention, remove/prune."""

from __future__ import annotations

import os
import signal
from datetime import datetime, timedelta, timezone

import pytest

from queuectl.adapters.output_files import LocalOutputFiles
from queuectl.domain.model import Job
from queuectl.domain.ports import Page, WorkerRef

from .processes import PROCESS_STORES, make_queue, wait_for
from .test_worker_process import pid_alive, start

MIB = 1024 * 1024


@pytest.fixture(params=PROCESS_STORES)
def queue(request, tmp_path):
    q = make_queue(request.param, tmp_path)
    q.kind = request.param
    q.cli("config", "set", "lease_seconds", "2")
    yield q
    q.stop_workers()
    q.close()


def output_files(queue, job_id: str) -> list:
    folder = queue.home / "output"
    return sorted(path for path in folder.glob(f"*/{job_id}.*.log") if path.name.startswith(f"{job_id}."))


def test_logs_of_an_attempt_whose_worker_was_killed_show_what_it_printed(queue, tmp_path):
    started = tmp_path / "started"
    queue.cli("enqueue", f"echo before the kill; touch {started}; sleep 30", "--id", "victim",
              "--max-retries", "0")
    [pid] = start(queue, 1)
    wait_for(started.exists, what="the attempt to print")
    os.kill(pid, signal.SIGKILL)
    start(queue, 1)  # recovers the job once the 2 s lease has run out
    queue.wait_state("victim", "dead", timeout=60)
    logs = queue.cli("logs", "victim").stdout
    assert "worker lost" in logs
    assert "before the kill" in logs


@pytest.mark.fault
def test_a_job_printing_a_gibibyte_keeps_one_mebibyte_and_a_marker_and_the_worker_lives_on(queue):
    queue.cli("config", "set", "output_max", "1MiB")
    queue.cli("enqueue", "head -c 1073741824 /dev/zero; echo done", "--id", "flood")
    [pid] = start(queue, 1)
    queue.wait_state("flood", "completed", "failed", "dead", timeout=300)
    assert queue.state("flood") == "completed"
    [path] = output_files(queue, "flood")
    data = path.read_bytes()
    marker = b"\n[queuectl: output cut at 1.0 MiB; 1023.0 MiB dropped]\n"
    assert data == b"\0" * MIB + marker
    assert queue.store.jobs.logs("flood")[0].output.endswith(marker.decode())
    queue.cli("enqueue", "echo still here", "--id", "after")
    queue.wait_state("after", "completed")
    assert pid_alive(pid)


def test_output_under_the_cap_is_kept_whole_in_the_order_written(queue):
    queue.cli("enqueue", "echo out; echo err >&2; echo out again", "--id", "both")
    start(queue, 1)
    queue.wait_state("both", "completed")
    [path] = output_files(queue, "both")
    assert path.read_text() == "out\nerr\nout again\n"
    assert "out\nerr\nout again\n" in queue.cli("logs", "both").stdout


def test_a_background_child_still_printing_after_the_shell_exits_does_not_hold_the_job(queue, tmp_path):
    release = tmp_path / "release"
    queue.cli("enqueue", f"(while [ ! -e {release} ]; do sleep 0.05; done; echo late) & echo early",
              "--id", "bg")
    start(queue, 1)
    queue.wait_state("bg", "completed")
    release.touch()
    [path] = output_files(queue, "bg")
    wait_for(lambda: path.read_text() == "early\nlate\n", what="the background child's output in the file")


def test_a_job_that_prints_nothing_leaves_no_file(queue):
    queue.cli("enqueue", "true", "--id", "quiet")
    start(queue, 1)
    queue.wait_state("quiet", "completed")
    assert output_files(queue, "quiet") == []


def finish_long_ago(queue, job_id: str, days: float) -> None:
    """A job enqueued, run and completed ``days`` ago, with an output file."""
    at = datetime.now(timezone.utc) - timedelta(days=days)
    store = queue.store
    store.jobs.add(Job.new(job_id, "true", at))
    job = store.jobs.claim_next(WorkerRef("old-worker", "host"), at, at + timedelta(seconds=30))
    token = job.lease_token
    path = LocalOutputFiles(queue.home).path(job, token)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(f"{job_id} said hello\n")
    job.succeed(at + timedelta(seconds=1))
    assert store.jobs.record_outcome(job, token, f"{job_id} said hello\n")


def test_workers_prune_final_jobs_and_their_output_past_the_retention(queue):
    finish_long_ago(queue, "ancient", days=40)
    finish_long_ago(queue, "recent", days=2)
    ancient_file = output_files(queue, "ancient")
    assert len(ancient_file) == 1
    queue.cli("config", "set", "retention", "30d")
    start(queue, 1)
    wait_for(lambda: queue.counts()["completed"] == 1, what="the ancient job to be pruned")
    assert [job.id for job in queue.store.jobs.list(Page(limit=0))] == ["recent"]
    assert not ancient_file[0].exists() and len(output_files(queue, "recent")) == 1


def test_remove_and_prune_delete_output_files_through_the_cli(queue):
    finish_long_ago(queue, "one", days=10)
    finish_long_ago(queue, "two", days=10)
    files = output_files(queue, "one") + output_files(queue, "two")
    assert len(files) == 2
    assert queue.cli("remove", "one").stdout == "Removed 1 job: one\n"
    assert queue.cli("prune").stdout == "Pruned 1 job\n"
    assert not any(path.exists() for path in files)
    assert queue.counts()["completed"] == 0


def test_workers_with_retention_also_delete_old_output_files_whose_jobs_are_gone(queue):
    old_day = queue.home / "output" / (datetime.now(timezone.utc) - timedelta(days=40)).strftime("%Y-%m-%d")
    old_day.mkdir(parents=True)
    orphan, written_lately = old_day / "gone.1-abcdef12.log", old_day / "slow.1-abcdef12.log"
    orphan.write_text("deleted elsewhere\n")
    written_lately.write_text("a long job still writing\n")
    forty_days_ago = (datetime.now(timezone.utc) - timedelta(days=40)).timestamp()
    os.utime(orphan, (forty_days_ago, forty_days_ago))
    queue.cli("config", "set", "retention", "30d")
    queue.cli("enqueue", "true", "--id", "tick")
    start(queue, 1)
    queue.wait_state("tick", "completed")
    wait_for(lambda: not orphan.exists(), what="the orphaned old file to be deleted")
    assert written_lately.exists()
