"""Real workers outlive their store's outages: a held SQLite lock, a read-only output folder, a
MongoDB server stopped and restarted. A SQLite file deleted under a worker stops it with an error.

The figures (outage length, time to recovery, jobs lost or run twice) are printed: run with -s.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from .processes import MONGO_ENV, Queue, wait_for

pytestmark = pytest.mark.fault
ROOT = Path(__file__).resolve().parents[2]
OUTAGE_SECONDS = 10.0

LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", time.time(), flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("released", time.time(), flush=True)
"""


class WorkerProcess:
    """``queuectl worker run`` in the foreground, its log in a file."""

    def __init__(self, queue: Queue, log: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "queuectl", "worker", "run"], env=queue.env(),
                                         stdout=out, stderr=subprocess.STDOUT)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def lines(self, text: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if text in line]

    def stop(self) -> int:
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture
def workers():
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


def start_workers(queue: Queue, tmp_path: Path, started: list, count: int = 2) -> list[WorkerProcess]:
    new = [WorkerProcess(queue, tmp_path / f"worker-{len(started) + index}.log") for index in range(count)]
    started.extend(new)
    pids = {w.proc.pid for w in new}
    wait_for(lambda: pids <= {w.pid for w in queue.store.workers.workers()}, timeout=60,
             what="the workers to register")
    return new


def enqueue_marking(queue: Queue, ran: Path, count: int, seconds: float = 0.2) -> list[str]:
    ids = [f"j{i}" for i in range(count)]
    lines = "".join(json.dumps({"id": i, "command": f"sleep {seconds}; echo {i} >> {ran}"}) + "\n" for i in ids)
    queue.cli("enqueue", "--file", "-", input=lines)
    return ids


def logged_at(line: str) -> float:
    """The epoch time of a worker log line (``2026-01-01 12:00:00,123 WARNING ...``, local time)."""
    stamp = " ".join(line.split()[:2])
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def runs_per_job(ran: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in ran.read_text().split():
        counts[name] = counts.get(name, 0) + 1
    return counts


def report(title: str, **figures: object) -> None:
    print(f"\n[{title}] " + ", ".join(f"{name}={value}" for name, value in figures.items()))


# -- SQLite ---------------------------------------------------------------

@pytest.fixture
def sqlite_queue(tmp_path):
    # A 1 s busy timeout: a lock held longer is an outage the worker rides out (the default is 30 s).
    queue = Queue(tmp_path / "home", f"sqlite:///{tmp_path / 'home' / 'queue.db'}?timeout=1")
    queue.cli("config", "set", "poll_interval", "0.1")
    yield queue
    queue.close()


def test_a_write_lock_held_for_ten_seconds_kills_no_worker_and_runs_every_job_once(
        sqlite_queue, tmp_path, workers):
    ran = tmp_path / "ran.txt"
    ids = enqueue_marking(sqlite_queue, ran, 80)
    start_workers(sqlite_queue, tmp_path, workers)
    wait_for(lambda: sqlite_queue.counts()["completed"] >= 10, timeout=120, what="10 jobs done")
    locker = subprocess.run([sys.executable, "-c", LOCKER, str(sqlite_queue.home / "queue.db"), str(OUTAGE_SECONDS)],
                            capture_output=True, text=True, timeout=120, check=True)
    times = dict(line.split() for line in locker.stdout.splitlines())
    wait_for(lambda: sqlite_queue.counts()["completed"] == len(ids), timeout=240, what="every job done")

    assert [w.alive for w in workers] == [True, True]
    assert runs_per_job(ran) == {i: 1 for i in ids}
    for job_id in ids:
        job = sqlite_queue.store.jobs.get(job_id)
        assert job.attempts == 1 and len(job.history) == 1
    for worker in workers:
        assert len(worker.lines("store unavailable:")) == 1
        assert "database is locked" in worker.lines("store unavailable:")[0]
        assert len(worker.lines("store back after")) == 1
    backs = [logged_at(w.lines("store back after")[0]) for w in workers]
    report("sqlite lock", outage_s=round(float(times["released"]) - float(times["locked"]), 1),
           recovery_after_release_s=[round(b - float(times["released"]), 2) for b in backs],
           jobs_lost=0, jobs_run_twice=0)
    assert [w.stop() for w in workers] == [0, 0]


def test_a_graceful_stop_during_an_outage_exits_and_the_job_is_recovered_after_its_lease(
        sqlite_queue, tmp_path, workers):
    sqlite_queue.cli("config", "set", "lease_seconds", "3")
    [worker] = start_workers(sqlite_queue, tmp_path, workers, count=1)
    sqlite_queue.cli("enqueue", "sleep 1", "--id", "held")
    sqlite_queue.wait_state("held", "processing", timeout=60)
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(sqlite_queue.home / "queue.db"), "600"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().startswith("locked")
        wait_for(lambda: worker.lines("store unavailable:"), timeout=60, what="the worker to meet the lock")
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(timeout=300) == 0
        assert locker.poll() is None  # it left while the store was still out
        assert worker.lines("exiting while the store is unavailable")
    finally:
        locker.kill()
        locker.wait()
    sqlite_queue.wait_state("held", "processing", timeout=60)  # not recorded: leased to the worker that left
    start_workers(sqlite_queue, tmp_path, workers, count=1)
    sqlite_queue.wait_state("held", "completed", timeout=120)
    job = sqlite_queue.store.jobs.get("held")
    assert job.attempts == 2 and job.history[0].error.startswith("worker lost")


def test_an_idle_worker_stays_live_in_status_whatever_the_poll_interval(sqlite_queue, tmp_path, workers):
    sqlite_queue.cli("config", "set", "lease_seconds", "2")
    sqlite_queue.cli("config", "set", "poll_interval", "60")
    start_workers(sqlite_queue, tmp_path, workers, count=1)
    seen, start = [], time.monotonic()
    # Four leases at least, i.e. the length of the observation, and four looks however slow each one is.
    while time.monotonic() - start < 8 or len(seen) < 4:
        seen.append(len(sqlite_queue.cli_json("status")["workers"]))
    assert len(seen) > 3 and set(seen) == {1}


def make_unwritable(folder: Path) -> None:
    """No file can be created under ``folder`` any more (root ignores modes: a file takes its place)."""
    if os.geteuid() == 0:
        shutil.rmtree(folder)
        folder.write_text("not a folder\n")
    else:
        for path in [folder, *folder.iterdir()]:
            path.chmod(0o500)


def test_a_read_only_output_folder_kills_no_worker_and_every_job_ends(sqlite_queue, tmp_path, workers):
    sqlite_queue.cli("enqueue", "echo before", "--id", "before")
    start_workers(sqlite_queue, tmp_path, workers)
    sqlite_queue.wait_state("before", "completed", timeout=60)
    output = sqlite_queue.home / "output"
    make_unwritable(output)
    try:
        ran = tmp_path / "ran.txt"
        ids = enqueue_marking(sqlite_queue, ran, 10, seconds=0)
        sqlite_queue.cli("enqueue", "echo loud", "--id", "loud")  # it prints: its file cannot be created
        for job_id in [*ids, "loud"]:
            sqlite_queue.wait_state(job_id, "completed", timeout=120)
        assert [w.alive for w in workers] == [True, True]
        assert runs_per_job(ran) == {i: 1 for i in ids}
        note = sqlite_queue.store.jobs.logs("loud")[0].output
        assert note.startswith("[queuectl] output not captured: ") and str(output) in note
        assert sqlite_queue.counts()["processing"] == 0
    finally:
        if output.is_dir():
            for path in [output, *output.iterdir()]:
                path.chmod(0o700)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_worker_whose_sqlite_file_is_deleted_or_replaced_stops_with_an_error(sqlite_queue, tmp_path, workers, how):
    [worker] = start_workers(sqlite_queue, tmp_path, workers, count=1)
    sqlite_queue.cli("enqueue", "true", "--id", "first")
    sqlite_queue.wait_state("first", "completed", timeout=60)
    sqlite_queue.close()
    db = sqlite_queue.home / "queue.db"
    if how == "deleted":
        for path in sqlite_queue.home.glob("queue.db*"):
            path.unlink()
    else:
        other = tmp_path / "other.db"
        sqlite3.connect(other).close()
        os.replace(other, db)
    code = worker.proc.wait(timeout=120)
    assert code != 0
    [error] = worker.lines("Error: ")
    assert f"the SQLite store {db} was {how}" in error


# -- MongoDB --------------------------------------------------------------

class MongoServer:
    """A MongoDB-wire server of this test's own, on a fixed port and data folder: stop and start it."""

    def __init__(self, data: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.data, self.proc = data, None
        self.url = f"mongodb://127.0.0.1:{self.port}/qt_outage"

    def start(self) -> None:
        self.proc = subprocess.Popen(["bash", str(ROOT / ".ci" / "mongo.sh"), "serve", str(self.data), str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(self.answers, timeout=120, step=0.2, what="the MongoDB-wire server to answer")

    def answers(self) -> bool:
        import pymongo

        assert self.proc.poll() is None, "the server exited"
        client = pymongo.MongoClient(self.url, serverSelectionTimeoutMS=500, connectTimeoutMS=500)
        try:
            client.admin.command("ping")
            return True
        except pymongo.errors.PyMongoError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def ride_out_a_server_outage(queue, tmp_path, workers, stop_server, start_server, label: str) -> None:
    """Two workers run 60 jobs; the server is down for ``OUTAGE_SECONDS`` in the middle: no worker
    dies, no job is lost, a job runs twice only where its lease truly ran out; figures reported."""
    queue.cli("config", "set", "poll_interval", "0.1")
    ran = tmp_path / "ran.txt"
    ids = enqueue_marking(queue, ran, 60)
    start_workers(queue, tmp_path, workers)
    wait_for(lambda: queue.counts()["completed"] >= 8, timeout=120, what="8 jobs done")
    queue.store.close()
    stopped = time.time()
    stop_server()
    time.sleep(OUTAGE_SECONDS)  # the outage itself: nothing to wait for
    start_server()
    restarted = time.time()
    wait_for(lambda: queue.counts()["completed"] == len(ids), timeout=300, what="every job done")

    assert [w.alive for w in workers] == [True, True]
    runs = runs_per_job(ran)
    assert set(runs) == set(ids)  # none lost
    twice = sorted(i for i, n in runs.items() if n > 1)
    for job_id in twice:  # a second run only where a lease truly ran out, and the history says so
        history = queue.store.jobs.get(job_id).history
        assert any((a.error or "").startswith("worker lost") for a in history), job_id
    for worker in workers:
        assert len(worker.lines("store unavailable:")) == 1
        assert len(worker.lines("store back after")) == 1
    backs = [logged_at(w.lines("store back after")[0]) for w in workers]
    report(label, outage_s=round(restarted - stopped, 1),
           recovery_after_restart_s=[round(b - restarted, 2) for b in backs], jobs_lost=0, jobs_run_twice=len(twice))
    assert [w.stop() for w in workers] == [0, 0]
    queue.close()


@pytest.fixture
def mongo_server(tmp_path):
    if not os.environ.get(MONGO_ENV):
        pytest.skip(f"set {MONGO_ENV} to run against MongoDB")
    server = MongoServer(tmp_path / "mongo-data")
    server.start()
    yield server
    server.stop()


def test_a_mongodb_server_stopped_for_ten_seconds_kills_no_worker_and_loses_no_job(mongo_server, tmp_path, workers):
    queue = Queue(tmp_path / "home", mongo_server.url)
    ride_out_a_server_outage(queue, tmp_path, workers, mongo_server.stop, mongo_server.start, "mongodb restart")


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MB tmpfs (needs the right to mount, as root in a container): a disk that fills up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                continue
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_kills_no_worker_and_work_resumes_once_space_is_freed(small_disk, tmp_path, workers):
    queue = Queue(small_disk / "home", f"sqlite:///{small_disk / 'home' / 'queue.db'}")
    queue.cli("config", "set", "poll_interval", "0.1")
    ran = tmp_path / "ran.txt"
    ids = enqueue_marking(queue, ran, 60)
    start_workers(queue, tmp_path, workers)
    wait_for(lambda: queue.counts()["completed"] >= 8, timeout=120, what="8 jobs done")
    filled = time.time()
    filler = fill(small_disk)
    wait_for(lambda: all(w.lines("store unavailable:") for w in workers), timeout=60,
             what="both workers to meet the full disk")
    time.sleep(3)  # the outage itself: nothing to wait for
    filler.unlink()
    freed = time.time()
    wait_for(lambda: queue.counts()["completed"] == len(ids), timeout=240, what="every job done")

    assert [w.alive for w in workers] == [True, True]
    assert runs_per_job(ran) == {i: 1 for i in ids}
    assert all(queue.store.jobs.get(i).attempts == 1 for i in ids)
    for worker in workers:
        assert "database or disk is full" in worker.lines("store unavailable:")[0]
        assert len(worker.lines("store back after")) == len(worker.lines("store unavailable:"))
    backs = [logged_at(w.lines("store back after")[-1]) for w in workers]
    report("sqlite disk full", outage_s=round(freed - filled, 1),
           recovery_after_freed_s=[round(b - freed, 2) for b in backs], jobs_lost=0, jobs_run_twice=0,
           outages_logged=[len(w.lines("store unavailable:")) for w in workers])
    assert [w.stop() for w in workers] == [0, 0]


# -- PostgreSQL -----------------------------------------------------------

@pytest.fixture
def postgres_server(tmp_path):
    """A PostgreSQL server of this test's own (``.ci/postgres.sh``), which it may halt and resume."""
    from .processes import POSTGRES_ENV

    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"set {POSTGRES_ENV} to run against PostgreSQL")
    import tempfile

    script = ["bash", str(ROOT / ".ci" / "postgres.sh")]
    # In /tmp, not tmp_path: as root the server runs as another user, who must reach its folder.
    env = dict(os.environ, QUEUECTL_POSTGRES_STATE=tempfile.mkdtemp(prefix="queuectl-outage-postgres."))
    url = subprocess.run([*script, "start"], env=env, capture_output=True, text=True, check=True).stdout.strip()
    yield lambda action: subprocess.run([*script, action], env=env, capture_output=True, check=True), url
    subprocess.run([*script, "stop"], env=env, capture_output=True)


def test_a_postgresql_server_stopped_for_ten_seconds_kills_no_worker_and_loses_no_job(postgres_server, tmp_path,
                                                                                       workers):
    control, url = postgres_server
    queue = Queue(tmp_path / "home", url)
    ride_out_a_server_outage(queue, tmp_path, workers, lambda: control("halt"), lambda: control("resume"),
                             "postgresql restart")
