"""Claims per second of two source trees, side by side: what a change costs a claim.

    python3 bench/claim_ab.py --base /tmp/main-tree            # SQLite
    python3 bench/claim_ab.py --base /tmp/main-tree --mongo URL  # and MongoDB (fewer jobs)

``--base`` is a checkout (or ``git archive``) of the tree to compare with; this
tree is the other. Each run is a fresh process and a fresh store holding
``--jobs`` due jobs, claimed one ``claim_next`` at a time from one process
(the bench's "claims, 1 process" figure), per second of wall time and per
second of the process's own CPU time. The variants run in turn, round
after round (the order alternating), and each figure is the median of its
rounds: drift on a shared machine hits every variant alike. This tree also
runs with 100 queues paused (none of them the jobs' queue), with every
queue paused but the jobs' queue resumed, with a limit on another queue, and
with a limit on the jobs' queue (high enough never to stop a claim: each
claim then counts the queue's running jobs).
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

VARIANTS = (("base", "none"), ("this", "none"), ("this", "100"), ("this", "all-but-one"),
            ("this", "limit-other"), ("this", "limit-jobs"))


def child(url: str, home: str, jobs: int, paused: str) -> None:
    """One run: fill a fresh store, pause as told, time the claims; print claims/s as JSON."""
    from queuectl.container import build_container
    from queuectl.domain.model import Job
    from queuectl.domain.ports import WorkerRef

    store = build_container(url, home).store()
    now = datetime.now(timezone.utc)
    store.jobs.add_many([Job.new(f"b{n}", "true", now) for n in range(jobs)])
    if paused == "100":
        store.queues.pause([f"paused-{n}" for n in range(100)])
    elif paused == "all-but-one":
        store.queues.pause(None)
        store.queues.resume(["default"])
    elif paused == "limit-other":
        store.queues.set_limit("deploys", 1)
    elif paused == "limit-jobs":
        store.queues.set_limit("default", jobs)
    worker, claimed = WorkerRef(f"bench-{os.getpid()}", "bench"), 0
    started, cpu = time.perf_counter(), time.process_time()
    while store.jobs.claim_next(worker, now, now + timedelta(seconds=300)) is not None:
        claimed += 1
    took, cpu_took = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    assert claimed == jobs, (claimed, jobs)
    print(json.dumps({"wall": claimed / took, "cpu": claimed / cpu_took}))


def compare(label: str, base: Path, url_for, jobs: int, rounds: int, scratch: Path) -> None:
    def run(variant: tuple[str, str], home: Path) -> ab.Figures:
        tree_name, paused = variant
        tree = base if tree_name == "base" else HERE
        return ab.run_child(__file__, tree, [url_for(home), str(home), str(jobs), paused])

    figures = ab.alternate(VARIANTS, rounds, scratch, run)
    print(f"\n{label}: {jobs} jobs, claims from 1 process, median of {rounds} alternating rounds;"
          " per second of wall time, and per second of the process's CPU time (steadier on a busy machine)")
    ab.print_medians(figures, lambda variant: f"{variant[0]:<5} paused={variant[1]:<12}", "claims/s", "base")


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="the tree to compare with (holds queuectl/)")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9, help="SQLite rounds (0: MongoDB only)")
    parser.add_argument("--mongo", metavar="URL", help="also compare on this MongoDB (jobs / 20, 5 rounds)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="queuectl-claim-ab-") as scratch:
        if args.rounds:
            compare("sqlite", args.base, lambda home: f"sqlite:///{home / 'queue.db'}", args.jobs, args.rounds,
                    Path(scratch))
        if args.mongo:
            compare("mongodb", args.base, lambda home: ab.fresh_database(args.mongo), max(args.jobs // 20, 20), 5,
                    Path(scratch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
