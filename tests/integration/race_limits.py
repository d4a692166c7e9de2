"""One process of the queue-limit race (run as a script, not collected).

    race_limits.py URL HOME WORKER_ID NOW_EPOCH HOLD_SECONDS BATCH

Prints ``ready``, waits for a line on stdin (every process starts at once),
then claims batches of up to BATCH jobs with ``settle_and_claim`` and holds
each batch HOLD_SECONDS, until no job waits. Each job's outcome carries, as
its output, ``START END``: CLOCK_MONOTONIC (one clock for every process of
the host) read after the claim returned and before the write that ends it,
so each interval lies inside the time the job held its place under the limit.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

from race_worker import wait_for_go

from queuectl.container import build_container
from queuectl.domain.model import WAITING
from queuectl.domain.ports import Outcome, WorkerRef
from queuectl.domain.timeutil import from_epoch


def hold_all(url: str, home: str, worker_id: str, now_epoch: str, hold: str, batch: str) -> None:
    store = build_container(url, home).store()
    now, worker = from_epoch(float(now_epoch)), WorkerRef(worker_id, "race-host")
    store.settings.load()  # open the store before the start line
    store.jobs.count(WAITING)  # and load what the count needs
    wait_for_go()
    outcomes: list[Outcome] = []
    try:
        while True:
            recorded, jobs = store.jobs.settle_and_claim(outcomes, worker, now, now + timedelta(hours=1),
                                                         None, int(batch))
            assert all(recorded), recorded
            outcomes = []
            if not jobs:
                if not store.jobs.count(WAITING):
                    return
                time.sleep(0.02)  # the limited queue is full and nothing else waits: try again soon
                continue
            start = time.clock_gettime(time.CLOCK_MONOTONIC)
            time.sleep(float(hold))
            end = time.clock_gettime(time.CLOCK_MONOTONIC)
            for job in jobs:
                token = job.lease_token
                job.succeed(now)
                outcomes.append(Outcome(job, token, f"{start!r} {end!r}"))
            print(f"HELD {' '.join(job.id for job in jobs)}", flush=True)
    finally:
        store.close()


if __name__ == "__main__":
    hold_all(*sys.argv[1:])
