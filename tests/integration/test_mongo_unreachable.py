"""A MongoDB store that cannot be reached or used is one ``Error:`` line, never a hang or a password.

These need no server: they point the real CLI at a closed loopback port.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

# A guard against a hang, not a speed test: how soon the error comes is pymongo's
# serverSelectionTimeoutMS (4 s here unless the URL sets it), which the error line
# names; the wall time on a loaded machine belongs to bench/, not to a test.
HANG_GUARD_SECONDS = 60


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def queuectl(home: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "queuectl", "--home", str(home), "--db", url, *args],
                          capture_output=True, text=True, timeout=HANG_GUARD_SECONDS)


def the_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_an_unreachable_mongodb_store_is_one_error_line_naming_the_timeout_it_gave_up_after(tmp_path):
    url = f"mongodb://queuectl:secret@127.0.0.1:{closed_port()}/x"
    result = queuectl(tmp_path / "home", url, "status")
    assert result.returncode == 1
    line = the_error_line(result)
    assert "secret" not in line
    assert "mongodb://queuectl:****@127.0.0.1:" in line
    assert line.endswith("(no answer within 4 s)"), line
    assert result.stdout == ""


def test_the_url_chooses_how_long_an_unreachable_mongodb_store_is_waited_for(tmp_path):
    url = f"mongodb://127.0.0.1:{closed_port()}/x?serverSelectionTimeoutMS=1500"
    result = queuectl(tmp_path / "home", url, "list")
    assert result.returncode == 1
    assert the_error_line(result).endswith("(no answer within 1.5 s)")


@pytest.mark.parametrize("url", [
    "mongodb://queuectl:secret@127.0.0.1:1/x?noSuchOption=1",
    "mongodb://queuectl:sec@ret@127.0.0.1:1/x",
    "mongodb://queuectl:secret@127.0.0.1:1/x?serverSelectionTimeoutMS=soon",
], ids=["unknown option", "unescaped password", "malformed option"])
def test_a_malformed_mongodb_url_is_one_error_line_without_the_password(tmp_path, url):
    result = queuectl(tmp_path / "home", url, "list")
    assert result.returncode == 1
    line = the_error_line(result)
    assert "invalid MongoDB store URL" in line
    assert "secret" not in line and "sec@ret" not in line
