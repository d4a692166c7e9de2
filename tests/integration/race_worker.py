"""One process of the multi-process store tests (run as a script, not collected).

    race_worker.py claim   URL HOME WORKER_ID NOW_EPOCH
    race_worker.py enqueue URL HOME PREFIX COUNT NOW_EPOCH

Each mode prints ``ready``, waits for a line on stdin so that every process
starts at the same moment, then works and prints one line per job:
``claim`` claims and completes jobs until none is left, printing each id
(``LOST <id>`` if the outcome could not be recorded); ``enqueue`` adds COUNT
jobs in one ``add_many`` into a store that may not exist yet, printing the
refused ids as ``DUPLICATE <id>``.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from queuectl.container import build_container
from queuectl.domain.model import Job
from queuectl.domain.ports import Store, WorkerRef
from queuectl.domain.timeutil import from_epoch


def wait_for_go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def claim_all(store: Store, worker_id: str, now_epoch: str) -> None:
    now = from_epoch(float(now_epoch))
    worker = WorkerRef(worker_id, "race-host")
    store.settings.load()  # open the store before the start line
    wait_for_go()
    while (job := store.jobs.claim_next(worker, now, now + timedelta(hours=1))) is not None:
        token = job.lease_token
        job.succeed(now)
        print(job.id if store.jobs.record_outcome(job, token) else f"LOST {job.id}")


def enqueue(store: Store, prefix: str, count: str, now_epoch: str) -> None:
    now = from_epoch(float(now_epoch))
    jobs = [Job.new(f"{prefix}-{n}", "true", now) for n in range(int(count))]
    wait_for_go()
    for job_id in store.jobs.add_many(jobs):
        print(f"DUPLICATE {job_id}")


def main(mode: str, url: str, home: str, *args: str) -> None:
    store = build_container(url, home).store()
    try:
        claim_all(store, *args) if mode == "claim" else enqueue(store, *args)
    finally:
        store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
