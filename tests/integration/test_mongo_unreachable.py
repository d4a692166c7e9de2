"""A MongoDB store that cannot be reached or used is one ``Error:`` line, never a hang or a password.

These need no server: they point the real CLI at a closed loopback port.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# SPEC: an unreachable store is reported within 5 s. pymongo gives up after
# serverSelectionTimeoutMS (4 s by default here); interpreter start-up and the
# shutdown of pymongo's monitor thread (it wakes every 0.5 s) fit in the rest.
EXIT_WITHIN_SECONDS = 5.5


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def queuectl(home: Path, url: str, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "queuectl", "--home", str(home), "--db", url, *args],
                            capture_output=True, text=True, timeout=30)
    return result, time.monotonic() - started


def the_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_an_unreachable_mongodb_store_is_one_error_line_within_the_default_timeout(tmp_path):
    url = f"mongodb://queuectl:secret@127.0.0.1:{closed_port()}/x"
    result, elapsed = queuectl(tmp_path / "home", url, "status")
    assert result.returncode == 1
    line = the_error_line(result)
    assert "secret" not in line
    assert "mongodb://queuectl:****@127.0.0.1:" in line
    assert elapsed < EXIT_WITHIN_SECONDS
    assert result.stdout == ""


@pytest.mark.parametrize("url", [
    "mongodb://queuectl:secret@127.0.0.1:1/x?noSuchOption=1",
    "mongodb://queuectl:sec@ret@127.0.0.1:1/x",
    "mongodb://queuectl:secret@127.0.0.1:1/x?serverSelectionTimeoutMS=soon",
], ids=["unknown option", "unescaped password", "malformed option"])
def test_a_malformed_mongodb_url_is_one_error_line_without_the_password(tmp_path, url):
    result, _ = queuectl(tmp_path / "home", url, "list")
    assert result.returncode == 1
    line = the_error_line(result)
    assert "invalid MongoDB store URL" in line
    assert "secret" not in line and "sec@ret" not in line
