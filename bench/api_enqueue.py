"""Per-job enqueue cost from Python (``q.enqueue`` in a loop) against the CLI (one process per job).

    python3 bench/api_enqueue.py                     # SQLite
    python3 bench/api_enqueue.py --mongo URL         # and MongoDB
    python3 bench/api_enqueue.py --quick             # a tiny run: checks the bench itself works

Both write to the same kind of store, one job per call, each call committed
before it returns (no batching: ``enqueue --file`` is the bulk path, measured
in ``run.py``). The two run in turn, round after round, so drift on a shared
machine touches both alike; each figure is the median of its rounds, and the
ratio is CLI / API within the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import queuectl  # noqa: E402


def api_round(url: str, home: Path, jobs: int) -> float:
    """Seconds per job of ``q.enqueue`` in a loop, the client connected beforehand (as a program would)."""
    with queuectl.connect(db=url, home=str(home)) as q:
        q.enqueue("true")  # the store opened and the modules loaded: not part of the per-job figure
        started = time.perf_counter()
        for _ in range(jobs):
            q.enqueue("true")
        return (time.perf_counter() - started) / jobs


def cli_round(url: str, home: Path, jobs: int) -> float:
    """Seconds per job of ``queuectl enqueue true``, one process each (what a shell loop pays)."""
    env = dict(os.environ, QUEUECTL_HOME=str(home), QUEUECTL_DB=url, PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    for _ in range(jobs):
        subprocess.run([sys.executable, "-m", "queuectl", "enqueue", "true"], env=env, check=True,
                       capture_output=True)
    return (time.perf_counter() - started) / jobs


def bare_start() -> float:
    """Seconds of ``python -c pass``: how loaded the machine is, beside the CLI's figure."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def compare(label: str, url: str, home: Path, api_jobs: int, cli_jobs: int, rounds: int) -> None:
    api, cli, bare = [], [], []
    for _ in range(rounds):
        api.append(api_round(url, home, api_jobs))
        cli.append(cli_round(url, home, cli_jobs))
        bare.append(bare_start())
    per_api, per_cli = statistics.median(api) * 1000, statistics.median(cli) * 1000
    print(f"| {label} | {per_api:.2f} ms | {per_cli:.1f} ms | {per_cli / per_api:,.0f}x | "
          f"{statistics.median(bare) * 1000:.0f} ms |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-jobs", type=int, default=500, help="jobs per API round")
    parser.add_argument("--cli-jobs", type=int, default=20, help="jobs (processes) per CLI round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mongo", metavar="URL", help="also measure on this MongoDB (a fresh database)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves the bench runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.api_jobs, args.cli_jobs, args.rounds = 20, 2, 1
    print(f"# python {sys.version.split()[0]}, {os.cpu_count()} cores; API {args.api_jobs} jobs/round, "
          f"CLI {args.cli_jobs} processes/round, {args.rounds} rounds, medians")
    print("| store | q.enqueue per job | queuectl enqueue per job | CLI / API | python -c pass |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="queuectl-api-bench-") as scratch:
        home = Path(scratch) / "home"
        compare("sqlite", f"sqlite:///{home / 'queue.db'}", home, args.api_jobs, args.cli_jobs, args.rounds)
        if args.mongo:
            base = args.mongo.split("?")[0].rsplit("/", 1)[0] if args.mongo.count("/") > 2 else args.mongo
            url = f"{base.rstrip('/')}/qbench_api_{uuid.uuid4().hex[:8]}"
            compare("mongodb", url, home, args.api_jobs, args.cli_jobs, args.rounds)
            _drop(url)
    return 0


def _drop(url: str) -> None:
    import pymongo

    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(client.get_default_database().name)
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
