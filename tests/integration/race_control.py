"""One process of the control-move races (run as a script, not collected).

    race_control.py claim  URL HOME WORKER_ID NOW_EPOCH
    race_control.py MOVE   URL HOME NOW_EPOCH ID...      MOVE: update, retry, cancel
    race_control.py cancel_all | retry_all  URL HOME NOW_EPOCH STATE...

Like ``race_worker.py``, each prints ``ready`` and waits for a line on stdin, so
that every process starts at the same moment. ``claim`` claims and completes
jobs until none is due, printing ``CLAIMED <id> <attempts> <priority>`` (as the
claim returned the job) or ``LOST <id>`` when its outcome was refused. A move
prints ``DONE <id>`` or ``REFUSED <id> <error class>: <message>`` for each id;
a bulk move prints ``COUNT <n>``.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from race_worker import wait_for_go

from queuectl.container import build_container
from queuectl.domain.errors import ConcurrentUpdate, InvalidTransition
from queuectl.domain.model import JobState
from queuectl.domain.ports import Store, WorkerRef
from queuectl.domain.timeutil import from_epoch

NEW_PRIORITY = 7


def claim_all(store: Store, worker_id: str, now_epoch: str) -> None:
    now = from_epoch(float(now_epoch))
    worker = WorkerRef(worker_id, "race-host")
    store.settings.load()
    wait_for_go()
    while (job := store.jobs.claim_next(worker, now, now + timedelta(hours=1))) is not None:
        token = job.lease_token
        attempts, priority = job.attempts, job.priority
        job.succeed(now)
        written = store.jobs.record_outcome(job, token)
        print(f"CLAIMED {job.id} {attempts} {priority}" if written else f"LOST {job.id}", flush=True)


def move_each(store: Store, move: str, now_epoch: str, *job_ids: str) -> None:
    now = from_epoch(float(now_epoch))
    calls = {"update": lambda job_id: store.jobs.update(job_id, now, {"priority": NEW_PRIORITY}),
             "retry": lambda job_id: store.jobs.retry(job_id, now),
             "cancel": lambda job_id: store.jobs.cancel(job_id, now)}
    store.settings.load()
    wait_for_go()
    for job_id in job_ids:
        try:
            calls[move](job_id)
        except (InvalidTransition, ConcurrentUpdate) as error:
            print(f"REFUSED {job_id} {type(error).__name__}: {error}", flush=True)
        else:
            print(f"DONE {job_id}", flush=True)


def move_all(store: Store, move: str, now_epoch: str, *states: str) -> None:
    now, chosen = from_epoch(float(now_epoch)), {JobState(state) for state in states}
    store.settings.load()
    wait_for_go()
    count = store.jobs.cancel_all(now, chosen) if move == "cancel_all" else store.jobs.retry_all(now, chosen)
    print(f"COUNT {count}", flush=True)


def main(mode: str, url: str, home: str, *args: str) -> None:
    store = build_container(url, home).store()
    try:
        if mode == "claim":
            claim_all(store, *args)
        elif mode in ("cancel_all", "retry_all"):
            move_all(store, mode, *args)
        else:
            move_each(store, mode, *args)
    finally:
        store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
