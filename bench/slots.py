"""Slots (``--concurrency``) measured: memory, idle CPU, many sleeping jobs, and the cost to one slot.

    python3 bench/slots.py                  # about a minute and a half
    python3 bench/slots.py --old /work/main # (d) against another tree's worker (its queuectl package)

(a) RSS of one worker with 32 slots, idle and with 32 ``sleep`` jobs running;
(b) its idle CPU over 10 s; (c) 200 ``sleep 1`` jobs on one worker of 50 slots:
wall time (first claim to last end) against the ideal 4 s; (d) N ``true`` jobs
through one worker with ``--concurrency 1`` (this tree) beside the same with
``--old``'s tree (default: this tree again), as jobs/s and their ratio. SQLite,
a fresh queue home per figure. Figures go to stdout as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent.parent


class Home:
    def __init__(self, tree: Path, root: Path, name: str) -> None:
        self.tree, self.path = tree, root / name
        self.db = self.path / "queue.db"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("QUEUECTL_DB", "MONGO_URI")}
        env.update(QUEUECTL_HOME=str(self.path), PYTHONPATH=str(self.tree))
        return env

    def cli(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run([sys.executable, "-m", "queuectl", *args], env=self.env(), input=input,
                                capture_output=True, text=True, cwd="/", check=True, timeout=300)
        return result.stdout

    def enqueue(self, commands: list[str]) -> None:
        self.cli("enqueue", "--file", "-", input="".join(json.dumps({"command": c}) + "\n" for c in commands))

    def start(self, concurrency: int) -> psutil.Process:
        out = self.cli("worker", "start", *(["--concurrency", str(concurrency)] if concurrency > 1 else []))
        return psutil.Process(int(out.split("PID ")[1].split()[0]))

    def stop(self) -> None:
        self.cli("worker", "stop", "--timeout", "5")

    def query(self, sql: str) -> tuple:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return conn.execute(sql).fetchone()
        finally:
            conn.close()

    def wait_done(self, total: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self.query("SELECT count(*) FROM jobs WHERE state = 'completed'")[0] < total:
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.path}: jobs not done within {timeout:g} s")
            time.sleep(0.05)

    def span(self) -> float:
        first, last = self.query("SELECT min(started_at), max(finished_at) FROM jobs")
        return last - first


def rss_mb(process: psutil.Process) -> float:
    return process.memory_info().rss / 1e6


def memory_and_idle_cpu(tree: Path, root: Path, rows: list) -> None:
    home = Home(tree, root, "idle32")
    home.cli("config", "set", "poll_interval", "0.5")
    home.cli("config", "set", "lease_seconds", "3")  # each slot renews its lease every second
    worker = home.start(32)
    time.sleep(2)
    rows.append(("(a) RSS, 32 slots, idle", f"{rss_mb(worker):.1f} MB"))
    before, start = worker.cpu_times(), time.monotonic()
    time.sleep(10)
    after, spent = worker.cpu_times(), time.monotonic() - start
    cpu = (after.user + after.system - before.user - before.system) / spent * 100
    rows.append(("(b) idle CPU, 32 slots, over 10 s", f"{cpu:.2f} % of a core"))
    home.enqueue(["sleep 6"] * 32)
    deadline = time.monotonic() + 30
    while home.query("SELECT count(*) FROM jobs WHERE state = 'processing'")[0] < 32:
        if time.monotonic() > deadline:
            raise SystemExit("32 jobs did not all start")
        time.sleep(0.05)
    time.sleep(3)  # every slot has renewed its lease (a store write from its thread) twice or more
    rows.append(("(a) RSS, 32 slots, 32 sleep jobs running, leases renewed", f"{rss_mb(worker):.1f} MB"))
    home.wait_done(32)
    rows.append(("(a) RSS, 32 slots, after the 32 outcomes", f"{rss_mb(worker):.1f} MB"))
    home.stop()


def many_sleeps(tree: Path, root: Path, rows: list) -> None:
    home = Home(tree, root, "sleep50")
    home.enqueue(["sleep 1"] * 200)
    home.start(50)
    home.wait_done(200)
    span = home.span()
    rows.append(("(c) 200 x sleep 1, one worker of 50 slots: first claim to last end",
                 f"{span:.2f} s ({span / 4:.2f} x the ideal 4 s)"))
    home.stop()


def true_jobs(tree: Path, root: Path, name: str, total: int, concurrency: int) -> float:
    home = Home(tree, root, name)
    home.enqueue(["true"] * total)
    home.start(concurrency)
    home.wait_done(total)
    home.stop()
    return total / home.span()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, default=HERE, help="the tree to compare --concurrency 1 with")
    parser.add_argument("--jobs", type=int, default=2000, help="true jobs per run of (d)")
    parser.add_argument("--memory-only", action="store_true", help="only (a) and (b)")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="queuectl-slots-bench-") as tmp:
        root = Path(tmp)
        memory_and_idle_cpu(HERE, root, rows)
        if args.memory_only:
            args.old = None
        else:
            many_sleeps(HERE, root, rows)
    if args.old is not None:
        with tempfile.TemporaryDirectory(prefix="queuectl-slots-bench-") as tmp:
            root = Path(tmp)
            new = [true_jobs(HERE, root, f"new{i}", args.jobs, 1) for i in range(2)]
            old = [true_jobs(args.old, root, f"old{i}", args.jobs, 1) for i in range(2)]
            best_new, best_old = max(new), max(old)
            rows.append((f"(d) {args.jobs} true jobs, --concurrency 1, this tree (best of 2)", f"{best_new:,.0f} jobs/s"))
            rows.append((f"(d) the same, {args.old} (best of 2)", f"{best_old:,.0f} jobs/s"))
            rows.append(("(d) ratio, this tree / the other", f"{best_new / best_old:.2f} x"))
            four = true_jobs(HERE, root, "four", args.jobs, 4)
            rows.append((f"(d) {args.jobs} true jobs, --concurrency 4, this tree", f"{four:,.0f} jobs/s"))
    width = max(len(r[0]) for r in rows)
    print(f"| {'figure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for figure, value in rows:
        print(f"| {figure.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
