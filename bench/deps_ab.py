"""What dependencies (SPEC 9.3) cost the worker's hot path, and what blocked jobs cost a claim.

    python3 bench/deps_ab.py --base /tmp/main-tree            # SQLite
    python3 bench/deps_ab.py --base /tmp/main-tree --mongo URL  # and MongoDB (fewer jobs)

Two figures, each run in a fresh process on a fresh store, variants alternating round after
round, medians reported (per second of wall time and of the process's own CPU time):

- ``cycle``: a worker's cycle on jobs that no job waits for: ``settle_and_claim`` recording the
  previous job ``completed`` and claiming the next, ``--jobs`` times. ``--base`` (a checkout or
  ``git archive`` of the tree before dependencies) against this tree: the release's lookup is
  the whole difference.
- ``blocked``: this tree's claims of ``--jobs`` due jobs, one ``claim_next`` at a time, with 0
  and with ``--blocked`` (default 100,000) blocked jobs in the store (each waiting for one job
  that never runs), and with as many cancelled jobs instead (the same store size, none blocked):
  blocked jobs are not in the claim's index, so they cost what any other job of a bigger store costs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ab  # noqa: E402

_BATCH = 5000


def child(url: str, home: str, figure: str, jobs: int, blocked: int) -> None:
    from dataclasses import replace

    from queuectl.container import build_container
    from queuectl.domain.model import Job, JobState
    from queuectl.domain.ports import Outcome, WorkerRef

    store = build_container(url, home).store()
    now = datetime.now(timezone.utc)
    if blocked:  # > 0: that many blocked jobs; < 0: that many cancelled ones (the same size, none blocked)
        store.jobs.add(Job.new("gate", "true", now, run_at=now + timedelta(days=365)))
        for start in range(0, abs(blocked), _BATCH):
            batch = [Job.new(f"w{n}", "true", now, after=["gate"]) for n in range(start, min(start + _BATCH,
                                                                                             abs(blocked)))]
            store.jobs.add_many(batch if blocked > 0 else [replace(j, state=JobState.CANCELLED, after=[])
                                                           for j in batch])
    store.jobs.add_many([Job.new(f"b{n}", "true", now) for n in range(jobs)])
    worker, lease, done = WorkerRef(f"bench-{os.getpid()}", "bench"), now + timedelta(seconds=300), 0
    started, cpu = time.perf_counter(), time.process_time()
    if figure == "cycle":
        outcomes: list = []
        while True:
            _, claimed = store.jobs.settle_and_claim(outcomes, worker, now, lease)
            if not claimed:
                break
            job, done = claimed[0], done + 1
            token = job.lease_token
            job.succeed(now)
            outcomes = [Outcome(job, token)]
    else:
        while store.jobs.claim_next(worker, now, lease) is not None:
            done += 1
    took, cpu_took = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    assert done == jobs, (done, jobs)
    print(json.dumps({"wall": done / took, "cpu": done / cpu_took}))


def compare(label: str, variants: list[tuple[str, Path, str, int]], url_for, jobs: int, rounds: int,
            scratch: Path) -> None:
    def run(variant: tuple[str, Path, str, int], home: Path) -> ab.Figures:
        _, tree, figure, blocked = variant
        return ab.run_child(__file__, tree, [url_for(home), str(home), figure, str(jobs), str(blocked)])

    figures = ab.alternate(variants, rounds, scratch, run)
    print(f"\n{label}: {jobs} jobs, 1 process, median of {rounds} alternating rounds")
    ab.print_medians(figures, lambda variant: f"{variant[0]:<28}", "/s", "first")


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="the tree before dependencies (holds queuectl/)")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--blocked", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7, help="SQLite rounds (0: MongoDB only)")
    parser.add_argument("--mongo", metavar="URL", help="also on this MongoDB (jobs / 20, blocked / 10, 3 rounds)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="queuectl-deps-ab-") as scratch:
        runs = [("sqlite", lambda home: f"sqlite:///{home / 'queue.db'}", args.jobs, args.blocked, args.rounds)]
        if args.mongo:
            runs.append(("mongodb", lambda home: ab.fresh_database(args.mongo), max(args.jobs // 20, 20),
                         args.blocked // 10, 3))
        for label, url_for, jobs, blocked, rounds in runs:
            if not rounds:
                continue
            compare(f"{label} cycle (outcome + claim)", [("base", args.base, "cycle", 0), ("this", HERE, "cycle", 0)],
                    url_for, jobs, rounds, Path(scratch))
            compare(f"{label} claims with blocked jobs", [("this, 0 blocked", HERE, "claims", 0),
                                                         (f"this, {blocked:,} blocked", HERE, "claims", blocked),
                                                         (f"this, {blocked:,} cancelled", HERE, "claims", -blocked)],
                    url_for, jobs, rounds, Path(scratch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
