"""A pause racing claims, on every store: once ``pause`` has returned, no claim that starts
takes a job of a paused queue; the jobs claimed before it keep running and finish.

Claimers are threads, each with its own opening of the store (its own
connection), released together; the times compared come from one monotonic clock.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from queuectl.container import build_container
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Store, WorkerRef

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
CLAIMERS = 4
# (paused queue's jobs, other jobs): the MongoDB-wire test server sorts by scanning, the
# memory store scans every job per claim: their shares stay small.
SIZES = {"memory": (1000, 200), "sqlite": (3000, 500), "mongodb": (100, 20), "postgresql": (1000, 200)}
PAUSE_AFTER = {"memory": 10, "sqlite": 10, "mongodb": 5, "postgresql": 10}  # claims made before the pause is sent


class Claimer(threading.Thread):
    """Claims until nothing is claimable, logging when each claim started; then finishes every job it holds."""

    def __init__(self, store: Store, name: str, go: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.store, self.go = store, go
        self.claims: list[tuple[int, Job]] = []
        self.recorded: list[bool] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.go.wait()
            worker = WorkerRef(self.name, "race-host")
            while True:
                started = time.monotonic_ns()
                job = self.store.jobs.claim_next(worker, NOW, NOW + timedelta(hours=1))
                if job is None:
                    break
                self.claims.append((started, job))
            for _, job in self.claims:  # the running jobs go on, and their outcomes are written
                token = job.lease_token
                job.succeed(NOW, 0)
                self.recorded.append(self.store.jobs.record_outcome(job, token))
        except BaseException as error:  # reported by the test
            self.error = error


@pytest.mark.parametrize("paused", [["nightly"], None], ids=["one-queue", "every-queue"])
def test_after_pause_returns_no_claim_takes_a_paused_job_and_running_jobs_finish(store_url, home, paused):
    kind = store_url.split(":", 1)[0]
    nightly, other = SIZES[kind]
    opened = [build_container(store_url, str(home)).store() for _ in range(CLAIMERS + 1)]
    if kind == "memory":
        opened = [opened[0]] * (CLAIMERS + 1)  # one store in one process
    control = opened[0]
    try:
        control.jobs.add_many([Job.new(f"n{i}", "true", NOW, queue="nightly") for i in range(nightly)]
                              + [Job.new(f"o{i}", "true", NOW, queue="other") for i in range(other)])
        control.queues.paused()  # opened before the start
        go = threading.Event()
        claimers = [Claimer(opened[1 + n], f"claimer-{n}", go) for n in range(CLAIMERS)]
        for claimer in claimers:
            claimer.start()
        go.set()
        deadline = time.monotonic() + 60
        while sum(len(c.claims) for c in claimers) < PAUSE_AFTER[kind]:
            assert time.monotonic() < deadline, "the claimers never claimed"
            time.sleep(0.0005)
        control.queues.pause(paused)
        returned = time.monotonic_ns()
        for claimer in claimers:
            claimer.join(timeout=300)
            assert not claimer.is_alive() and claimer.error is None, claimer.error

        claims = [(started, job) for c in claimers for started, job in c.claims]
        paused_queues = {"nightly"} if paused else {"nightly", "other"}
        late = [job.id for started, job in claims if started > returned and job.queue in paused_queues]
        assert late == []
        counts = control.jobs.count_by_state()
        assert counts[JobState.PENDING] > 0  # the pause really cut the claiming short
        assert counts[JobState.COMPLETED] == len(claims)  # every job claimed before it ran to its end
        assert all(recorded for c in claimers for recorded in c.recorded)
        if paused == ["nightly"]:  # the other queue went on being claimed after the pause
            assert any(started > returned and job.queue == "other" for started, job in claims)
    finally:
        for store in {id(s): s for s in opened}.values():
            store.close()
