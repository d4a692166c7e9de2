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
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
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


def run_once(tree: Path, url: str, home: Path, jobs: int, paused: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, __file__, "--child", url, str(home), str(jobs), paused], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip())
    return json.loads(done.stdout)


def compare(label: str, base: Path, url_for, jobs: int, rounds: int, scratch: Path) -> None:
    figures: dict[tuple[str, str], list[dict[str, float]]] = {variant: [] for variant in VARIANTS}
    for round_ in range(rounds):
        order = VARIANTS if round_ % 2 == 0 else VARIANTS[::-1]
        for tree_name, paused in order:
            home = scratch / uuid.uuid4().hex[:8]
            home.mkdir(mode=0o700)
            tree = base if tree_name == "base" else HERE
            figures[(tree_name, paused)].append(run_once(tree, url_for(home), home, jobs, paused))
    print(f"\n{label}: {jobs} jobs, claims from 1 process, median of {rounds} alternating rounds;"
          " per second of wall time, and per second of the process's CPU time (steadier on a busy machine)")
    for measure in ("wall", "cpu"):
        reference = statistics.median(run[measure] for run in figures[VARIANTS[0]])
        for (tree_name, paused), runs in figures.items():
            values = [run[measure] for run in runs]
            median = statistics.median(values)
            print(f"  {measure:<4} {tree_name:<5} paused={paused:<12} {median:>10,.0f} claims/s"
                  f"  {median / reference:5.3f} x base  (range {min(values):,.0f}-{max(values):,.0f})")


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
            compare("mongodb", args.base, lambda home: _fresh_database(args.mongo), max(args.jobs // 20, 20), 5,
                    Path(scratch))
    return 0


def _fresh_database(base: str) -> str:
    """``base`` with a database of its own (as ``sections.mongo_urls``, without importing queuectl here)."""
    head, _, query = base.partition("?")
    root = head.rstrip("/").rsplit("/", 1)[0] if head.count("/") > 2 else head.rstrip("/")
    url = f"{root}/qbench_{uuid.uuid4().hex[:8]}"
    return f"{url}?{query}" if query else url


if __name__ == "__main__":
    sys.exit(main())
