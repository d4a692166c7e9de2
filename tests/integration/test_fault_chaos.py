"""kill -9 chaos: real workers on a real store, one SIGKILLed and replaced every few seconds.

Every job must end completed; every re-run must be explained by an attempt
recorded as lost (a job claimed ahead may also be handed back unrun, which
counts no attempt); no attempt may run twice. The run is bounded by its job
count: a kill follows each thirteenth of the jobs completed. ``pytest -s`` prints
the figures (docs/reliability.md keeps a table of them).
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

from queuectl.domain.model import WORKER_LOST, JobState

from .processes import MONGO_ENV, MONGO_SKIP_REASON, Queue, make_queue, wait_for

LEASE_SECONDS = 2
WORKERS = 4
KILLS = 12


@dataclass
class Chaos:
    """Worker processes of one queue, and the kills done so far (PID -> when, UTC)."""

    queue: Queue
    logs: Path
    live: list[subprocess.Popen] = field(default_factory=list)
    dead: list[subprocess.Popen] = field(default_factory=list)
    killed_at: dict[int, datetime] = field(default_factory=dict)

    def spawn(self) -> None:
        """A worker in the foreground of a child process: no wait for it to register."""
        with open(self.logs / f"worker-{len(self.live) + len(self.dead)}.log", "wb") as log:
            self.live.append(subprocess.Popen([sys.executable, "-m", "queuectl", "worker", "run"],
                                              env=self.queue.env(), stdin=subprocess.DEVNULL,
                                              stdout=log, stderr=subprocess.STDOUT))

    def kill_one_and_replace(self, rng: random.Random) -> None:
        victim = self.live.pop(rng.randrange(len(self.live)))
        victim.send_signal(signal.SIGKILL)
        self.killed_at[victim.pid] = datetime.now(timezone.utc)
        victim.wait()
        self.dead.append(victim)
        self.spawn()

    def stop(self) -> None:
        for worker in self.live:
            worker.send_signal(signal.SIGTERM)
        for worker in self.live:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self.dead.extend(self.live)
        self.live.clear()


@pytest.fixture(params=[pytest.param(("sqlite", 1200), id="sqlite"),
                        pytest.param(("mongodb", 200), id="mongodb", marks=pytest.mark.skipif(
                            not os.environ.get(MONGO_ENV), reason=MONGO_SKIP_REASON))])
def chaos_queue(request, tmp_path):
    kind, total = request.param
    q = make_queue(kind, tmp_path)
    q.cli("config", "set", "lease_seconds", str(LEASE_SECONDS))
    q.cli("config", "set", "backoff_base", "1")
    q.total, q.kind = total, kind
    q.chaos = Chaos(q, tmp_path)
    yield q
    q.chaos.stop()
    q.close()


@pytest.mark.fault
def test_workers_killed_every_few_seconds_lose_no_job_and_every_rerun_follows_a_lost_attempt(
        chaos_queue, tmp_path):
    q, total = chaos_queue, chaos_queue.total
    runs = tmp_path / "runs.txt"
    ids = [f"c{i}" for i in range(total)]
    jobs = [{"id": job_id, "command": f"echo {job_id} >> {runs}", "max_retries": 100} for job_id in ids]
    q.cli("enqueue", "--file", "-", input="".join(json.dumps(job) + "\n" for job in jobs))
    began, chaos, rng = time.monotonic(), q.chaos, random.Random(15)
    for _ in range(WORKERS):
        chaos.spawn()
    for n in range(1, KILLS + 1):  # a kill after each thirteenth of the jobs completed
        wait_for(lambda: q.counts()["completed"] >= n * total // (KILLS + 1), timeout=300, step=0.1,
                 what=f"{n * total // (KILLS + 1)} jobs completed")
        chaos.kill_one_and_replace(rng)
    wait_for(lambda: q.counts()["completed"] == total, timeout=300, step=0.1, what="every job completed")
    elapsed = time.monotonic() - began

    finished = [q.store.jobs.get(job_id) for job_id in ids]
    ran = Counter(runs.read_text().split())
    assert all(job.state is JobState.COMPLETED for job in finished)  # zero jobs lost
    for job in finished:
        *earlier, last = job.history
        assert last.outcome is JobState.COMPLETED
        # Before the run that completed: lost attempts, or jobs handed back unrun (not counted).
        assert all(a.error == WORKER_LOST or a.outcome is JobState.PENDING for a in earlier), job.id
        assert 1 <= ran[job.id] <= job.attempts, job.id  # no attempt ran twice
    report(q.kind, total, chaos, finished, ran, elapsed)
    assert any(job.attempts > 1 for job in finished)  # the kills did hit work in progress


def worker_pid(worker_id: str) -> int:
    """The PID in a worker id ``HOST-PID-xxxx`` (host names may hold dashes)."""
    return int(worker_id.rsplit("-", 2)[1])


def report(kind, total, chaos, finished, ran, elapsed) -> None:
    lost = [a for job in finished for a in job.history if a.error == WORKER_LOST]
    delays = [(a.finished_at - chaos.killed_at[worker_pid(a.worker)]).total_seconds()
              for a in lost if worker_pid(a.worker) in chaos.killed_at]
    rows = {
        "store": kind,
        "jobs": total,
        "workers": f"{WORKERS} at a time, {len(chaos.live) + len(chaos.dead)} in all",
        "SIGKILLs": len(chaos.killed_at),
        "lost attempts": f"{len(lost)} ({len(lost) - len(delays)} by workers never killed)",
        "jobs run again": sum(1 for job in finished if job.attempts > 1),
        "claimed ahead, handed back unrun": sum(1 for job in finished for a in job.history
                                                if a.outcome is JobState.PENDING),
        "commands run more than once": sum(1 for n in ran.values() if n > 1),
        "attempts run twice": sum(max(0, ran[job.id] - job.attempts) for job in finished),
        "jobs lost": sum(1 for job in finished if job.state is not JobState.COMPLETED),
        "recovery after a kill (s)": (f"median {statistics.median(delays):.1f}, max {max(delays):.1f} "
                                      f"(lease {LEASE_SECONDS})" if delays else "no lost attempt"),
        "wall time (s)": f"{elapsed:.0f}",
    }
    print(f"\nkill -9 chaos ({kind}):")
    for name, value in rows.items():
        print(f"  {name:34} {value}")
