"""The real ``queuectl`` process on a real SQLite file, fed a few dozen fuzzed command lines
with raw bytes (invalid UTF-8 included): exit 0, 1 or 2, never a traceback or an internal
error, and a command that fails leaves the database as it was (``fault``: CI runs it)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..unit.cli.test_fuzz_cli import RAW_CONTROL, command_lines

pytestmark = pytest.mark.fault
TIMEOUT = 60
raw_bytes = st.binary(min_size=1, max_size=10).filter(lambda raw: b"\0" not in raw)


def as_bytes(args: list[str]) -> list[bytes]:
    return [arg.encode("utf-8", "surrogateescape").replace(b"\0", b"") for arg in args]


process_lines = st.one_of(command_lines.map(as_bytes),
                          st.tuples(st.sampled_from([b"show", b"enqueue", b"cancel", b"list"]),
                                    st.lists(raw_bytes, min_size=1, max_size=2))
                          .map(lambda parts: [parts[0], *parts[1]]))


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("fuzz") / "home"
    run([b"enqueue", b"tgt", b"true"], home)
    return home


def run(args: list[bytes], home: Path) -> subprocess.CompletedProcess[bytes]:
    env = {key: value for key, value in os.environ.items() if key not in ("QUEUECTL_DB", "MONGO_URI")}
    env["QUEUECTL_HOME"] = str(home)
    return subprocess.run([sys.executable.encode(), b"-m", b"queuectl", *args], capture_output=True,
                          env=env, timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def snapshot(home: Path) -> tuple[list, list]:
    with sqlite3.connect(home / "queue.db") as db:
        return (db.execute("SELECT * FROM jobs ORDER BY seq").fetchall(),
                db.execute("SELECT * FROM settings ORDER BY key").fetchall())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(args=process_lines)
def test_fuzzed_command_lines_of_the_real_process_exit_0_1_or_2_and_failures_change_nothing(home, args):
    before = snapshot(home)
    result = run(args, home)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode in (0, 1, 2), (args, stderr)
    assert "Traceback" not in stderr and "internal error" not in stderr, (args, stderr)
    assert not any(RAW_CONTROL.search(line) for line in stderr.splitlines()), (args, stderr)
    if result.returncode != 0:
        assert snapshot(home) == before, (args, stderr)
