"""Attempt output files with real workers: the cap, lost attempts' output, retention, remove/prune."""

from __future__ import annotations

import os
import signal
from datetime import datetime, timedelta, timezone

import pytest

from queuectl.domain.model import Job

from .processes import make_queue, wait_for
from .test_worker_process import pid_alive, start

MIB = 1024 * 1024


@pytest.fixture(params=["sqlite", "mongodb"])
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
