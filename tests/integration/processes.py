"""Driving the real CLI and real worker processes from tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from queuectl.container import build_container

MONGO_ENV = "QUEUECTL_TEST_MONGO_URI"
MONGO_SKIP_REASON = f"set {MONGO_ENV} to run against MongoDB"
POSTGRES_ENV = "QUEUECTL_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = f"set {POSTGRES_ENV} to run against PostgreSQL (.ci/postgres.sh start)"

# The stores a process test (real CLI, real workers) runs on. What a store does is the contract suites'
# matter, run on every store (conftest's EVERY_STORE); a process test checks the CLI, the worker and the
# operating system around the store, so it runs on SQLite and on MongoDB, the store whose adapter shares
# no code with SQLite's (PostgreSQL runs SQLite's SQL through a shim). A test whose outcome depends on how
# a store behaves under processes racing for it runs on every store: ``ALL_PROCESS_STORES``.
PROCESS_STORES = ["sqlite", "mongodb"]
ALL_PROCESS_STORES = ["sqlite", "mongodb", "postgres"]


def wait_for(condition: Callable[[], object], timeout: float = 30.0, step: float = 0.05,
             what: str = "condition") -> object:
    """Poll until ``condition()`` is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def mongo_url_for_test() -> str:
    """The test server's URL (``QUEUECTL_TEST_MONGO_URI``; the test is skipped without it) pointed at a
    fresh database of its own; credentials keep authenticating against the database they named."""
    base = os.environ.get(MONGO_ENV)
    if not base:
        pytest.skip(MONGO_SKIP_REASON)
    parts = urlsplit(base)
    query = parse_qsl(parts.query)
    if "@" in parts.netloc and not any(key.lower() == "authsource" for key, _ in query):
        query.append(("authSource", parts.path.strip("/") or "admin"))
    return urlunsplit(parts._replace(path=f"/queuectl_test_{uuid.uuid4().hex[:12]}", query=urlencode(query)))


def postgres_url_for_test() -> str:
    """The test server's URL (``QUEUECTL_TEST_POSTGRES_URL``; the test is skipped without it) on a fresh
    schema of its own (the connection's ``search_path``), dropped by ``drop_store``."""
    import psycopg

    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(POSTGRES_SKIP_REASON)
    schema = f"queuectl_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    parts = urlsplit(base)
    query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def drop_postgres_schema(url: str) -> None:
    import psycopg

    options = dict(parse_qsl(urlsplit(url).query)).get("options")
    if options is None:  # a server of the test's own, not a schema of the shared one
        return
    schema = options.split("=", 1)[1]
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def store_url_for_test(kind: str, home: Path) -> str:
    """A fresh store of ``kind`` (sqlite, mongodb, postgres) for one test; ``drop_store`` removes a server's."""
    if kind == "sqlite":
        return f"sqlite:///{home / 'queue.db'}"
    return postgres_url_for_test() if kind == "postgres" else mongo_url_for_test()


def drop_store(url: str) -> None:
    if url.startswith("mongodb"):
        drop_mongo_database(url)
    elif url.startswith("postgresql"):
        drop_postgres_schema(url)


@dataclass
class Queue:
    """One queue home and store, with the CLI and the store at hand."""

    home: Path
    url: str

    def env(self) -> dict[str, str]:
        env = dict(os.environ, QUEUECTL_HOME=str(self.home), QUEUECTL_DB=self.url)
        env.pop("MONGO_URI", None)
        return env

    def cli(self, *args: str, check: bool = True, timeout: float = 60, input: str | None = None
            ) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "queuectl", *args], env=self.env(), input=input,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"queuectl {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def cli_json(self, *args: str) -> object:
        return json.loads(self.cli(*args, "--json").stdout)

    @property
    def store(self):
        if not hasattr(self, "_container"):
            self._container = build_container(self.url, str(self.home))
        return self._container.store()

    def state(self, job_id: str) -> str:
        return self.store.jobs.get(job_id).state.value

    def wait_state(self, job_id: str, *states: str, timeout: float = 30.0) -> None:
        wait_for(lambda: self.state(job_id) in states, timeout, what=f"job {job_id} to be {'/'.join(states)}")

    def counts(self) -> dict[str, int]:
        return {state.value: n for state, n in self.store.jobs.count_by_state().items()}

    def stop_workers(self) -> None:
        """``worker stop`` when a worker may be running: one that ``worker start`` launched (it creates the
        home's ``logs`` folder before it forks) or one registered in the store. A test that never started
        one skips the CLI's start-up (seconds on a loaded machine, in every teardown)."""
        if self._may_have_workers():
            try:
                self.cli("worker", "stop", "--timeout", "5", check=False, timeout=60)
            finally:
                self._kill_leftovers()

    def _kill_leftovers(self) -> None:
        """SIGKILL any worker of this home still running 15 s after ``worker stop`` returned (its CLI
        timed out on a loaded machine, say), with a warning in the test summary: no test leaves a
        worker running. A worker that has deregistered may take a moment more to exit: not a leftover."""
        deadline = time.monotonic() + 15
        while (left := self._workers_of_home()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
            warnings.warn(f"worker {pid} of {self.home} outlived 'worker stop' by 15 s: killed")

    def _workers_of_home(self) -> list[int]:
        marker, found = f"QUEUECTL_HOME={self.home}".encode(), []
        for name in os.listdir("/proc"):
            try:
                with open(f"/proc/{name}/environ", "rb") as environ, open(f"/proc/{name}/cmdline", "rb") as cmd:
                    if marker in environ.read().split(b"\0") and b"worker\0run" in cmd.read():
                        found.append(int(name))
            except (OSError, ValueError):  # not a process, gone, a zombie, or not ours to read
                continue
        return found

    def _may_have_workers(self) -> bool:
        if (self.home / "logs").exists():
            return True
        try:
            return bool(self.store.workers.workers())
        except Exception:  # no store yet, or it cannot be read: let the CLI decide
            return True

    def close(self) -> None:
        if hasattr(self, "_container"):
            self._container.store().close()
        drop_store(self.url)


def drop_mongo_database(url: str) -> None:
    import pymongo

    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(client.get_default_database().name)
    finally:
        client.close()


def make_queue(kind: str, tmp_path: Path) -> Queue:
    home = tmp_path / "home"
    return Queue(home, store_url_for_test(kind, home))
