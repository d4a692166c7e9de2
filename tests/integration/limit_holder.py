"""One process of the MongoDB limit hammer (``test_mongo_limits.py``; run as a script, not collected).

    limit_holder.py URL HOME WORKER_ID HOLD_MS

Prints ``ready``, waits for a line on stdin, then claims (any queue) until no job
is left waiting. It holds each job ``HOLD_MS`` milliseconds, as a command
would run, and records it completed with the output ``START END``: the
system-wide monotonic clock (ns) read right after the claim returned and right
before the ending write. A claim that finds nothing while jobs still wait
(their queue is full) tries again a few ms later.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone

from queuectl.container import build_container
from queuectl.domain.model import WAITING
from queuectl.domain.ports import WorkerRef

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
DEADLINE_SECONDS = 240


def main(url: str, home: str, worker_id: str, hold_ms: str) -> None:
    store = build_container(url, home).store()
    worker, hold = WorkerRef(worker_id, "limit-host"), float(hold_ms) / 1000
    try:
        store.queues.paused()  # opened before the start line
        print("ready", flush=True)
        sys.stdin.readline()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            job = store.jobs.claim_next(worker, NOW, NOW + timedelta(hours=1))
            if job is None:
                if not store.jobs.count(WAITING):
                    return
                time.sleep(0.005)
                continue
            started = time.monotonic_ns()
            time.sleep(hold)
            token = job.lease_token
            job.succeed(NOW)
            ended = time.monotonic_ns()
            if not store.jobs.record_outcome(job, token, f"{started} {ended}"):
                print(f"LOST {job.id}", flush=True)
        print("DEADLINE", flush=True)
    finally:
        store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
