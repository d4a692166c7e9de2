"""queuectl benchmark: every figure measured side by side in one run.

    python3 bench/run.py                      # SQLite, the defaults below
    python3 bench/run.py --mongo URL          # and MongoDB (labelled as such)
    python3 bench/run.py --quick              # a tiny run: checks the bench itself works

Absolute numbers drift on a shared machine; ratios taken within one run hold.
Each section prints its figures; the end prints one table with the targets.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sections  # noqa: E402
import wait_sections  # noqa: E402
from report import Report  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000, help="N: jobs in the end-to-end and floor runs")
    parser.add_argument("--workers", type=int, default=2, help="W: workers (and floor processes)")
    parser.add_argument("--samples", type=int, default=20, help="pickup-latency samples")
    parser.add_argument("--cli-runs", type=int, default=11, help="cold starts per CLI figure")
    parser.add_argument("--scale", default="1000,100000,1000000", help="store sizes for the scale figures")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU window, and the long idle")
    parser.add_argument("--mongo", metavar="URL", help="also run the store figures on this MongoDB")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves the bench runs, measures little")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.samples, args.cli_runs, args.scale, args.idle_seconds = 60, 3, 3, "200,2000", 1.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="queuectl-bench-"))
    report = Report()
    started = time.monotonic()
    try:
        report.note(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, N={args.jobs}, W={args.workers}")
        sections.spawn_floor(report, args.jobs, args.workers)
        sections.cli_cold_start(report, scratch, args.cli_runs)
        sections.enqueue_speed(report, scratch, "sqlite", sections.sqlite_url(scratch / "enq"),
                               max(args.jobs * 5, 1000))
        sections.end_to_end(report, scratch, args.jobs, args.workers)
        sections.claim_speed(report, scratch, "sqlite", lambda n: sections.sqlite_url(scratch / f"claim{n}"),
                             max(args.jobs, 400))
        wait_sections.outcome_report_cost(report, scratch, max(args.jobs, 400))
        sections.pickup_latency(report, scratch, args.samples, args.idle_seconds)
        sections.idle_cost(report, scratch, args.idle_seconds)
        sizes = [int(size) for size in args.scale.split(",")]
        sections.scale(report, scratch, "sqlite", lambda n: sections.sqlite_url(scratch / f"scale{n}"), sizes)
        if args.mongo:
            label = "mongodb"
            mongo = sections.mongo_urls(args.mongo)
            sections.enqueue_speed(report, scratch, label, next(mongo), max(args.jobs, 500))
            sections.claim_speed(report, scratch, label, lambda n: next(mongo), max(args.jobs // 4, 200))
            sections.end_to_end(report, scratch, max(args.jobs // 4, 100), args.workers, url=next(mongo),
                                label=label)
            sections.scale(report, scratch, label, lambda n: next(mongo), [s for s in sizes if s <= 10_000])
            report.note("MongoDB figures come from the server at --mongo; from the MongoDB-wire test "
                        "server used in CI they say nothing about a real MongoDB.")
    finally:
        sections.stop_all_workers(scratch)
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    report.note(f"bench took {time.monotonic() - started:.0f} s")
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
