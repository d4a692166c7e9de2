"""A store filled through the model with jobs in every state, for the dashboard's tests.

Times are relative to ``now`` (the real clock's, since the dashboard reads
it): finished runs of known lengths, a retry scheduled in five minutes, a job
in the DLQ, one running on a live worker, cancelled and waiting jobs in three
queues.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.model import Job
from queuectl.domain.ports import Store, WorkerInfo, WorkerRef

WORKER = WorkerRef("vm-4242-a1b2", "vm")
IDLE_WORKER = WorkerRef("vm-4243-c3d4", "vm")
RETRY_LATER = BackoffPolicy(base=300, maximum=3600)

# id, command, queue, seconds before now it started, run time, exit code, output
RUNS = (
    ("backup-db", "pg_dump --format=custom shop > /backups/shop.dump", "default", 1500, 42.5, 0,
     "pg_dump: dumping contents of table public.orders\npg_dump: dumping contents of table public.users\n"),
    ("send-digest", "python -m mailer.digest --since 24h", "emails", 1200, 3.2, 0, "queued 1284 messages\n"),
    ("resize-1", "convert in/1.png -resize 50% out/1.png", "images", 900, 0.8, 0, ""),
    ("resize-2", "convert in/2.png -resize 50% out/2.png", "images", 880, 1.1, 0, ""),
    ("report-weekly", "./bin/report --week 47 --format pdf", "default", 600, 12.0, 0, "wrote report-w47.pdf\n"),
    ("flaky-upload", "curl -fsS -T build.tar https://uploads.example/", "default", 300, 2.0, 22,
     "curl: (22) The requested URL returned error: 503\n"),
    ("sync-crm", "./bin/sync-crm --full", "default", 200, 5.5, 1, "error: CRM API rate limit exceeded\n"),
)


def _run(store: Store, job_id: str, command: str, queue: str, started: datetime, seconds: float,
         exit_code: int, output: str) -> None:
    store.jobs.add(Job.new(job_id, command, started, queue=queue,
                           max_retries=0 if job_id == "flaky-upload" else 3))
    job = store.jobs.claim_next(WORKER, started, started + timedelta(seconds=30))
    assert job is not None and job.id == job_id, job
    token = job.lease_token
    end = started + timedelta(seconds=seconds)
    if exit_code == 0:
        job.succeed(end)
    else:
        job.fail(end, f"exit code {exit_code}", RETRY_LATER, exit_code=exit_code)
    assert store.jobs.record_outcome(job, token, output)


def fill(store: Store, now: datetime) -> None:
    """Runs one at a time (each is the only due job when claimed), then the rest."""
    for job_id, command, queue, ago, seconds, exit_code, output in RUNS:
        _run(store, job_id, command, queue, now - timedelta(seconds=ago), seconds, exit_code, output)
    store.jobs.add(Job.new("old-export", "./bin/export --all", now - timedelta(seconds=150)))
    store.jobs.cancel("old-export", now - timedelta(seconds=140))
    started = now - timedelta(seconds=20)
    store.jobs.add(Job.new("render-video", "ffmpeg -i talk.mov -c:v libx264 talk.mp4", started, priority=5))
    assert store.jobs.claim_next(WORKER, started, now + timedelta(minutes=5)).id == "render-video"
    store.jobs.add_many([
        Job.new("thumbs-42", "./bin/thumbs --album 42", now - timedelta(seconds=45), queue="images"),
        Job.new("welcome-mail", "python -m mailer.welcome --user 981", now - timedelta(seconds=8),
                queue="emails"),
        Job.new("nightly-report", "./bin/report --nightly", now, run_at=now + timedelta(hours=6)),
    ])
    for worker, job in ((WORKER, "render-video"), (IDLE_WORKER, None)):
        store.workers.register(WorkerInfo(worker.id, worker.host, int(worker.id.split("-")[1]), 1.0, (),
                                          now - timedelta(minutes=30), now, current_job=job))


# -- the real ``queuectl dashboard`` process ------------------------------------------
STORE_VARIABLES = ("QUEUECTL_HOME", "QUEUECTL_DB", "MONGO_URI")


def start_dashboard(home: Path, url: str, *options: str) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key not in STORE_VARIABLES}
    return subprocess.Popen([sys.executable, "-m", "queuectl", "--home", str(home), "--db", url, "dashboard",
                             "--port", "0", *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, stdin=subprocess.DEVNULL)


def read_url(process: subprocess.Popen, timeout: float = 30.0) -> str:
    """The first URL the dashboard prints once it listens; fail with its stderr if it dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            line = process.stdout.readline()
            if "http://" in line:
                return "http://" + line.split("http://", 1)[1].split()[0]
        if process.poll() is not None:
            raise AssertionError(f"queuectl dashboard exited {process.returncode}: {process.stderr.read()}")
    raise AssertionError(f"queuectl dashboard printed no URL within {timeout:g} s")


def stop_dashboard(process: subprocess.Popen) -> str:
    """Stop it (SIGTERM, then SIGKILL after 15 s) and return what it wrote on stderr."""
    process.terminate()
    try:
        _, stderr = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return stderr
