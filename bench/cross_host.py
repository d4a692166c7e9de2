"""Cross-host pickup on MongoDB: a job enqueued on host A starts on an idle worker of host B.

    python3 bench/cross_host.py --mongo URL [--samples 20] [--idle-seconds 10]

Host B is a worker in its own UTS namespace (``unshare --uts``, host name
``hostb``; as root) with a queue home of its own, so no datagram of host A
reaches it: only the store does. Host A enqueues ``date +%s.%N > MARK`` through
``JobService.enqueue``; the latency is the command's own clock reading less the
moment ``enqueue`` returned (the insert acknowledged). Each figure is taken
twice, on the same server and settings: with the change stream (what workers
do) and with it switched off in the worker (``remote_wakeups`` overridden: the
polling of before), and an idle host-B worker's CPU is read from
``/proc/PID/stat`` over ``--idle-seconds``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from queuectl.container import build_container, providers  # noqa: E402
from queuectl.domain.specs import JobSpec  # noqa: E402
from report import Report  # noqa: E402
from sections import mongo_urls, percentile, wait_until  # noqa: E402

QUEUE = "hostb"
HOST_B = "hostb"


def serve(mode: str, url: str, home: str) -> None:
    """The host-B worker (run inside the namespace): ``watch`` as shipped, ``polling`` without the stream."""
    from queuectl.entrypoints.worker import run_worker

    container = build_container(url, home)
    if mode == "polling":
        container.remote_wakeups.override(providers.Object(None))
    run_worker(container, (QUEUE,))


def start_host_b(mode: str, url: str, home: Path) -> subprocess.Popen:
    home.mkdir(mode=0o700, parents=True)
    worker = f"{sys.executable} {HERE / 'cross_host.py'} --serve {mode} {url} {home}"
    argv = ["unshare", "--uts", "--fork", "sh", "-c", f"hostname {HOST_B} && exec {worker}"]
    if os.geteuid() != 0 or shutil.which("unshare") is None:  # not root: another home still stands apart
        argv = ["sh", "-c", f"exec {worker}"]
    log = open(home / "worker.log", "wb")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def worker_pid(launcher: subprocess.Popen) -> int:
    """The worker's PID: unshare's child (the shell exec'd it), or the launcher itself."""
    children = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children")
    found = children.read_text().split() if children.exists() else []
    return int(found[0]) if found else launcher.pid


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of stat)


def pickup(service, scratch: Path, samples: int) -> list[float]:
    latencies = []
    for _ in range(samples):
        time.sleep(0.1)
        mark = scratch / f"started-{uuid.uuid4().hex[:8]}"
        service.enqueue(JobSpec(command=f"date +%s.%N > {mark}", queue=QUEUE))
        committed = time.time()
        wait_until(lambda: mark.exists() and mark.stat().st_size > 0, timeout=30)
        latencies.append((float(mark.read_text()) - committed) * 1000)
    return latencies


def measure(report: Report, scratch: Path, url: str, mode: str, samples: int, idle: float) -> None:
    host_a = build_container(url, str(scratch / f"home-a-{mode}"))
    service = host_a.jobs()
    launcher = start_host_b(mode, url, scratch / f"home-b-{mode}")
    try:
        wait_until(lambda: any(w.host == HOST_B or w.queues == (QUEUE,) for w in host_a.store().workers.workers()),
                   timeout=30)
        time.sleep(1.0)
        if idle > 0:
            pid, hz = worker_pid(launcher), os.sysconf("SC_CLK_TCK")
            before = cpu_ticks(pid)
            time.sleep(idle)
            cpu = (cpu_ticks(pid) - before) / hz / idle * 100
            watching = mode == "watch"
            report.add("worker", f"idle CPU over {idle:g} s, {'change stream open' if watching else 'polling only'}",
                       f"{cpu:.2f} % of a core", target="<= 0.5 %" if watching else "",
                       met=cpu <= 0.5 if watching else None)
        latencies = pickup(service, scratch, samples)
    finally:
        os.killpg(launcher.pid, signal.SIGTERM)  # the worker too: unshare does not pass signals on
        launcher.wait(30)
        database = host_a.store().database.database()
        database.client.drop_database(database.name)
        host_a.store().close()
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    figure = "change stream" if mode == "watch" else "polling (stream off)"
    report.add("cross-host", f"{figure}, p50 / p95 / max of {samples}",
               f"{p50:.0f} / {p95:.0f} / {max(latencies):.0f} ms",
               target="p50 <= 50 ms" if mode == "watch" else "", met=p50 <= 50 if mode == "watch" else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mongo", metavar="URL", help="the MongoDB server (a fresh database per figure)")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--serve", nargs=3, metavar=("MODE", "URL", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(*args.serve)
        return 0
    if not args.mongo:
        parser.error("--mongo URL is required")
    scratch, report = Path(tempfile.mkdtemp(prefix="queuectl-xhost-")), Report()
    urls = mongo_urls(args.mongo)
    try:
        for mode in ("watch", "polling"):
            measure(report, scratch, next(urls), mode, args.samples, args.idle_seconds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report.note("latency: the command's clock reading less the return of enqueue on host A (the insert "
                "acknowledged); poll_interval at its default; the MongoDB-wire test server of CI says "
                "nothing about a real MongoDB's speed")
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
