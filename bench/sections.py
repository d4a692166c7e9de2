"""The bench's measurements, one function per section of the table."""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import psutil

from queuectl.container import build_container
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Page, WorkerRef
from queuectl.domain.specs import JobSpec
from report import Report

POLL = 0.002
E2E_POLL = 0.01  # at most 1 % of a ~1 s run; polling faster takes CPU from the workers
_homes: list[Path] = []


# -- helpers ------------------------------------------------------------------
def sqlite_url(home: Path) -> str:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)  # a store is created only in a folder that exists
    return f"sqlite:///{home / 'queue.db'}"


def mongo_urls(base: str) -> Iterator[str]:
    """A fresh database per use, named after the one in ``base``."""
    head, _, query = base.partition("?")
    root = head.rstrip("/").rsplit("/", 1)[0] if head.count("/") > 2 else head.rstrip("/")
    while True:
        url = f"{root}/qbench_{uuid.uuid4().hex[:8]}"
        yield f"{url}?{query}" if query else url


def postgres_urls(base: str) -> Iterator[str]:
    """A fresh schema per use on the server at ``base`` (the connection's ``search_path``)."""
    import psycopg
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(base)
    while True:
        schema = f"qbench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
        yield urlunsplit(parts._replace(query=urlencode(query)))


def queuectl_command() -> list[str]:
    """The installed console script (what users run), else ``python -m queuectl``."""
    script = Path(sys.executable).with_name("queuectl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "queuectl"]


def cli(home: Path, *args: str, url: str | None = None, input: str | None = None) -> str:
    env = dict(os.environ, QUEUECTL_HOME=str(home), QUEUECTL_DB=url or sqlite_url(home))
    _homes.append(home) if home not in _homes else None
    done = subprocess.run([*queuectl_command(), *args], env=env, input=input, text=True,
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"queuectl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def create_store(home: Path, url: str | None = None) -> None:
    """A read never creates a store: set the default max_retries (a write) to create it."""
    cli(home, "config", "set", "max_retries", "3", url=url)


def store_for(url: str, home: Path):
    return build_container(url, str(home)).store()


def wait_until(condition: Callable[[], bool], timeout: float = 300.0, poll: float = POLL) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(poll)


def completed_count(url: str, store) -> Callable[[], int]:
    """How many jobs are completed, as cheaply as the store allows.

    The end-to-end run polls this while the workers share the machine's cores
    with it; on SQLite one indexed count on a plain connection costs the
    workers almost nothing, where a full ``count_by_state`` every 2 ms took
    ~0.1 ms of CPU per job from them.
    """
    if url.startswith("sqlite:///"):
        import sqlite3

        conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
        return lambda: conn.execute("SELECT count(*) FROM jobs WHERE state = 'completed'").fetchone()[0]
    return lambda: store.jobs.count_by_state()[JobState.COMPLETED]


def start_workers(home: Path, count: int, url: str | None = None) -> list[int]:
    out = cli(home, "worker", "start", "--count", str(count), url=url)
    return [int(line.split("PID ")[1].split()[0]) for line in out.splitlines() if "PID " in line]


def stop_all_workers(_scratch: Path) -> None:
    for home in _homes:
        try:
            cli(home, "worker", "stop", "--timeout", "5")
        except (RuntimeError, OSError):
            pass


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def new_jobs(count: int, prefix: str = "b") -> list[Job]:
    now = datetime.now(timezone.utc)
    return [Job.new(f"{prefix}{n}", "true", now) for n in range(count)]


# -- sections -----------------------------------------------------------------
def _spawn_many(count: int) -> None:
    for _ in range(count):
        subprocess.run(["/bin/sh", "-c", "true"])


def spawn_floor(report: Report, n: int, w: int) -> None:
    started = time.perf_counter()
    _spawn_many(n)
    one = n / (time.perf_counter() - started)
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_spawn_many, args=(n // w,)) for _ in range(w)]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    many = (n // w * w) / (time.perf_counter() - started)
    report.values["floor_w"] = many
    report.add("floor", f"{n} x sh -c true, 1 process", f"{one:,.0f} jobs/s")
    report.add("floor", f"{n} x sh -c true, {w} processes", f"{many:,.0f} jobs/s")


def _cold(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, float]:
    """Median wall time (ms) of each command, run in turn so drift touches all alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            started = time.perf_counter()
            subprocess.run(argv, env=env, capture_output=True, check=True)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def cli_cold_start(report: Report, scratch: Path, runs: int) -> None:
    home = scratch / "cli"
    env = dict(os.environ, QUEUECTL_HOME=str(home), QUEUECTL_DB=sqlite_url(home))
    create_store(home)  # the store exists: measure the call, not the schema's creation
    ms = _cold({"bare": [sys.executable, "-c", "pass"],
                "alchemy": [sys.executable, "-c", "import sqlalchemy"],
                "help": [*queuectl_command(), "--help"],
                "enqueue": [*queuectl_command(), "enqueue", "true"]}, runs, env)
    extra = ms["enqueue"] - ms["alchemy"]
    report.add("cli", "python -c pass (median)", f"{ms['bare']:.0f} ms")
    report.add("cli", "python -c 'import sqlalchemy' (median)", f"{ms['alchemy']:.0f} ms")
    report.add("cli", "queuectl --help (median)", f"{ms['help']:.0f} ms", target="<= 100 ms",
               met=ms["help"] <= 100)
    report.add("cli", "queuectl enqueue (median)", f"{ms['enqueue']:.0f} ms", f"{extra:+.0f} ms",
               "<= sqlalchemy + 60 ms", met=extra <= 60)


def enqueue_speed(report: Report, scratch: Path, label: str, url: str, n: int) -> None:
    home = scratch / f"enqueue-{label}"
    lines = "".join(json.dumps({"command": "true"}) + "\n" for _ in range(n))
    create_store(home, url)
    started = time.perf_counter()
    cli(home, "enqueue", "--file", "-", url=url, input=lines[: lines.index("\n") + 1])
    one = time.perf_counter() - started  # the process start-up, to set apart from the bulk work
    started = time.perf_counter()
    cli(home, "enqueue", "--file", "-", url=url, input=lines)
    whole = time.perf_counter() - started
    bulk = n / max(whole - one, 1e-9)
    store = store_for(url, home)
    jobs = new_jobs(n, "r")
    started = time.perf_counter()
    store.jobs.add_many(jobs)
    repo = n / (time.perf_counter() - started)
    store.close()
    target = "sqlite" == label
    report.add(label, f"enqueue --file, {n} jobs, whole process", f"{n / whole:,.0f} jobs/s")
    report.add(label, f"enqueue --file, {n} jobs, beyond start-up", f"{bulk:,.0f} jobs/s",
               target=">= 20,000/s" if target else "", met=bulk >= 20_000 if target else None)
    report.add(label, f"repository add_many, {n} jobs", f"{repo:,.0f} jobs/s")


def end_to_end(report: Report, scratch: Path, n: int, w: int, url: str | None = None,
               label: str = "sqlite") -> None:
    home = scratch / f"e2e-{label}"
    url = url or sqlite_url(home)
    pids = start_workers(home, w, url)
    store = store_for(url, home)
    lines = "".join(json.dumps({"command": "true"}) + "\n" for _ in range(n))
    completed = completed_count(url, store)
    started = time.perf_counter()
    cli(home, "enqueue", "--file", "-", url=url, input=lines)
    wait_until(lambda: completed() >= n, poll=E2E_POLL)
    rate = n / (time.perf_counter() - started)
    worked_rss = max(psutil.Process(pid).memory_info().rss for pid in pids) / 2**20
    cli(home, "worker", "stop", url=url)
    jobs = store.jobs.list(Page(limit=0))
    span = (max(j.finished_at for j in jobs) - min(j.started_at for j in jobs)).total_seconds()
    store.close()
    ratio = rate / report.values["floor_w"]
    report.add(label, f"end to end: {n} true jobs, {w} workers", f"{rate:,.0f} jobs/s", f"{ratio:.2f} x floor",
               ">= 0.80 x floor" if label == "sqlite" else "", met=ratio >= 0.8 if label == "sqlite" else None)
    report.add(label, "  of which workers' span (first claim to last end)", f"{n / span:,.0f} jobs/s",
               f"{n / span / report.values['floor_w']:.2f} x floor")
    report.add(label, f"  worker RSS after {n // w} jobs each (largest)", f"{worked_rss:.1f} MB",
               target="<= 30 MB" if label == "sqlite" else "", met=worked_rss <= 30 if label == "sqlite" else None)


def _claim_all(url: str, home: str, results) -> None:
    store = build_container(url, home).store()
    worker, count = WorkerRef(f"bench-{os.getpid()}", "bench"), 0
    started = time.perf_counter()
    while True:
        now = datetime.now(timezone.utc)
        if store.jobs.claim_next(worker, now, now + timedelta(seconds=300)) is None:
            break
        count += 1
    results.put((count, time.perf_counter() - started))


def claim_speed(report: Report, scratch: Path, label: str, url_for: Callable[[int], str], n: int,
                processes_list: tuple[int, ...] = (1, 4)) -> None:
    context = multiprocessing.get_context("fork")
    for processes in processes_list:
        home = scratch / f"claim-{label}-{processes}"
        url = url_for(processes)
        store = store_for(url, home)
        store.jobs.add_many(new_jobs(n))
        store.close()
        results = context.Queue()
        procs = [context.Process(target=_claim_all, args=(url, str(home), results)) for _ in range(processes)]
        started = time.perf_counter()
        for proc in procs:
            proc.start()
        outcomes = [results.get() for _ in procs]
        total = time.perf_counter() - started
        for proc in procs:
            proc.join()
        claimed = sum(count for count, _ in outcomes)
        per_process = statistics.mean(count / took for count, took in outcomes)
        target = label == "sqlite" and processes == 1
        report.add(label, f"claims, {processes} process(es), {claimed} jobs",
                   f"{claimed / total:,.0f} claims/s", f"{per_process:,.0f}/proc",
                   ">= 3,000/s per process" if target else "", met=per_process >= 3000 if target else None)


def _pickup(home: Path, url: str, service, samples: int, pause: float, wake: bool) -> list[float]:
    latencies = []
    for index in range(samples):
        if pause:
            time.sleep(pause)
        mark = home / f"started-{uuid.uuid4().hex[:8]}"
        spec = JobSpec(command=f"date +%s.%N > {mark}")
        if wake:
            service.enqueue(spec)
        else:  # as from another host: stored, no wake-up
            service.store.jobs.add(spec.to_job(service.clock.now(), service.settings()))
        committed = time.time()
        wait_until(lambda: mark.exists() and mark.stat().st_size > 0, timeout=30)
        latencies.append((float(mark.read_text()) - committed) * 1000)
    return latencies


def _command_start_floor(home: Path, samples: int) -> float:
    """The same command run straight from Python: what sh + date cost by themselves."""
    values = []
    for _ in range(samples):
        mark = home / "floor-mark"
        before = time.time()
        subprocess.run(["/bin/sh", "-c", f"date +%s.%N > {mark}"], check=True)
        values.append((float(mark.read_text()) - before) * 1000)
    return statistics.median(values)


def pickup_latency(report: Report, scratch: Path, samples: int, idle: float) -> None:
    home = scratch / "pickup"
    url = sqlite_url(home)
    create_store(home)
    start_workers(home, 1)
    container = build_container(url, str(home))
    service = container.jobs()
    time.sleep(0.5)
    floor = _command_start_floor(home, samples)
    warm = _pickup(home, url, service, samples, 0.05, wake=True)
    cold = _pickup(home, url, service, 3, idle, wake=True)
    remote = _pickup(home, url, service, max(3, samples // 4), 0.05, wake=False)
    poll = service.settings().poll_interval * 1000
    p50, p95 = percentile(warm, 0.5), percentile(warm, 0.95)
    report.add("pickup", "sh + date start-up alone (median)", f"{floor:.1f} ms")
    report.add("pickup", f"same host, p50 / p95 of {len(warm)}", f"{p50:.1f} / {p95:.1f} ms",
               f"{p50 - floor:.1f} ms queue", "p50 <= 10 ms", met=p50 <= 10)
    report.add("pickup", f"same host after {idle:g} s idle, p50 of 3", f"{percentile(cold, 0.5):.1f} ms",
               target="<= 10 ms", met=percentile(cold, 0.5) <= 10)
    report.add("pickup", "other host (no wake-up), max", f"{max(remote):.0f} ms",
               target=f"<= poll_interval ({poll:.0f} ms)", met=max(remote) <= poll + floor)
    container.store().close()


def idle_cost(report: Report, scratch: Path, seconds: float) -> None:
    home = scratch / "idle"
    [pid] = start_workers(home, 1)
    process = psutil.Process(pid)
    time.sleep(1.0)
    before = process.cpu_times()
    time.sleep(seconds)
    after = process.cpu_times()
    # clamped: two readings of an idle process can differ by float rounding alone
    cpu = max(0.0, (after.user + after.system - before.user - before.system) / seconds * 100)
    rss = process.memory_info().rss / 2**20
    cli(home, "worker", "stop")
    report.add("worker", f"idle CPU over {seconds:g} s", f"{cpu:.2f} % of a core", target="<= 0.5 %",
               met=cpu <= 0.5)
    report.add("worker", "RSS, waiting", f"{rss:.1f} MB", target="<= 30 MB", met=rss <= 30)


def _fill(store, url: str, size: int) -> None:
    """``size`` jobs of which all but 100 are completed, as after a long history."""
    for start in range(0, size, 50_000):
        store.jobs.add_many(new_jobs(min(50_000, size - start), f"s{start}-"))
    keep = 100
    if url.startswith("sqlite"):
        with store._db.write() as conn:  # bench set-up only: a direct bulk update
            conn.execute("UPDATE jobs SET state = 'completed' WHERE seq <= ?", (size - keep,))
    else:
        jobs = store.jobs._db.collection("jobs")
        jobs.update_many({"seq": {"$lte": size - keep + jobs.find_one(sort=[("seq", 1)])["seq"] - 1}},
                         {"$set": {"state": "completed"}})


def scale(report: Report, scratch: Path, label: str, url_for: Callable[[int], str], sizes: list[int]) -> None:
    base = None
    for size in sizes:
        home = scratch / f"scale-{label}-{size}"
        url = url_for(size)
        store = store_for(url, home)
        _fill(store, url, size)
        worker, claims = WorkerRef("bench", "bench"), []
        for _ in range(50):
            now = datetime.now(timezone.utc)
            started = time.perf_counter()
            store.jobs.claim_next(worker, now, now + timedelta(seconds=300))
            claims.append((time.perf_counter() - started) * 1000)
        service = build_container(url, str(home)).jobs()
        statuses = []
        for _ in range(5):
            started = time.perf_counter()
            service.status()
            statuses.append(time.perf_counter() - started)
        claim_ms, status_s = statistics.median(claims), statistics.median(statuses)
        base = base or claim_ms
        last = size == max(sizes)
        report.add(label, f"{size:,} jobs stored: claim p50", f"{claim_ms:.2f} ms", f"{claim_ms / base:.2f} x",
                   "<= 2 x the smallest" if last else "", met=claim_ms <= 2 * base if last else None)
        report.add(label, f"{size:,} jobs stored: status", f"{status_s * 1000:.0f} ms",
                   target="<= 500 ms" if last else "", met=status_s <= 0.5 if last else None)
        store.close()
