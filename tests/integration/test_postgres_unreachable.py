"""A PostgreSQL store that cannot be reached or used is one ``Error:`` line, never a hang or a password.

These need no server: they point the real CLI at a closed loopback port, or at
one that accepts connections and never answers.
"""

from __future__ import annotations

import socket

import pytest

from .test_mongo_unreachable import closed_port, queuectl, the_error_line


@pytest.fixture
def silent_port():
    """A port whose connections the kernel accepts and nobody ever answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_a_refused_postgresql_store_is_one_error_line_without_its_password(tmp_path):
    url = f"postgresql://queuectl:s3cretpw@127.0.0.1:{closed_port()}/x"
    result = queuectl(tmp_path / "home", url, "status")
    assert (result.returncode, result.stdout) == (1, "")
    line = the_error_line(result)
    assert "s3cretpw" not in line
    assert "cannot reach the PostgreSQL store postgresql://queuectl:****@127.0.0.1:" in line
    assert "Connection refused" in line


# libpq's reading of connect_timeout: whole seconds, at least 2; 0 (forever) is ours, 4.
@pytest.mark.parametrize("query, seconds", [("", "4"), ("?connect_timeout=2.5", "2"), ("?connect_timeout=0", "4")])
def test_a_silent_postgresql_store_is_given_up_after_the_connect_timeout(tmp_path, silent_port, query, seconds):
    url = f"postgresql+psycopg://queuectl:s3cretpw@127.0.0.1:{silent_port}/x{query}"
    result = queuectl(tmp_path / "home", url, "list")
    assert result.returncode == 1
    line = the_error_line(result)
    assert "s3cretpw" not in line and "postgresql+psycopg://queuectl:****@" in line
    assert line.endswith(f"(no answer within {seconds} s)"), line


@pytest.mark.parametrize("url, expected", [
    ("postgresql://queuectl:s3cretpw@127.0.0.1:1/x?connect_timeout=soon", "connect_timeout 'soon'"),
    ("postgresql://queuectl:s3cretpw@127.0.0.1:1/x?noSuchOption=1", 'invalid connection option "noSuchOption"'),
])
def test_a_malformed_postgresql_url_is_one_error_line_without_its_password(tmp_path, url, expected):
    result = queuectl(tmp_path / "home", url, "status")
    assert result.returncode == 1
    line = the_error_line(result)
    assert "s3cretpw" not in line and expected in line
