"""CLI start-up: wall and CPU time of the everyday commands on SQLite, this tree beside an older one.

    python3 bench/cli_startup.py --old /work/main [--runs 20]

Each command runs ``--runs`` times per tree, the trees alternating (old, new,
new, old, ...) so that a change in the machine's load falls on both; each
tree has its own queue home holding the same 30 jobs. Prints one Markdown row
per command: median wall and median CPU (user + system of the child) in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = [("status",), ("list",), ("show", "s1"), ("logs", "s1"), ("config", "get", "poll_interval"),
            ("config", "show"), ("config", "set", "max_retries", "3"), ("enqueue", "echo x"), ("queue", "list"),
            ("dlq", "list"), ("cancel", "s3"), ("retry", "s3"), ("wait", "s0", "--timeout", "5"), ("worker", "stop")]
MAY_FAIL = ("cancel", "retry", "wait")  # cancel/retry alternate on one job; s0 was cancelled, so wait exits 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="the tree to compare with (a checkout of queuectl)")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    trees = {"old": str(Path(args.old).resolve()), "new": str(Path(__file__).resolve().parent.parent)}
    base = {k: v for k, v in os.environ.items() if not k.startswith("QUEUECTL")}
    with tempfile.TemporaryDirectory() as scratch:
        homes = {tree: str(Path(scratch) / tree) for tree in trees}

        def queuectl(tree: str, *argv: str) -> tuple[float, float]:
            env = {**base, "PYTHONPATH": trees[tree], "HOME": homes[tree]}
            before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "queuectl", "--home", homes[tree],
                                   "--db", f"sqlite:///{homes[tree]}/q.db", *argv],
                                  cwd=trees[tree], env=env, capture_output=True, text=True)
            wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0 and argv[0] not in MAY_FAIL:
                raise SystemExit(f"{tree} {argv}: exit {done.returncode}: {done.stderr}")
            return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

        for tree in trees:
            os.makedirs(homes[tree])
            queuectl(tree, "config", "set", "poll_interval", "0.05")
            for i in range(30):
                queuectl(tree, "enqueue", json.dumps({"id": f"s{i}", "command": "echo hi",
                                                      "queue": "default" if i % 2 else "bulk"}))
            queuectl(tree, "cancel", "s0")
        print("| command | old wall | new wall | old CPU | new CPU |\n|---|---|---|---|---|")
        for argv in COMMANDS:
            walls: dict[str, list[float]] = {tree: [] for tree in trees}
            cpus: dict[str, list[float]] = {tree: [] for tree in trees}
            for run in range(args.runs):
                for tree in (list(trees) if run % 2 == 0 else list(trees)[::-1]):
                    wall, cpu = queuectl(tree, *argv)
                    walls[tree].append(wall)
                    cpus[tree].append(cpu)
            wall_ms = {tree: statistics.median(walls[tree]) * 1000 for tree in trees}
            cpu_ms = {tree: statistics.median(cpus[tree]) * 1000 for tree in trees}
            print(f"| `{' '.join(argv)}` | {wall_ms['old']:.0f} | {wall_ms['new']:.0f} | {cpu_ms['old']:.0f} "
                  f"| {cpu_ms['new']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
