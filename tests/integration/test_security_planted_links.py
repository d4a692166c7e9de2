"""Issue 11, second pass: what another user can plant in a world-writable folder.

Symbolic links and files ``nobody`` leaves beside a path root names (a store
file, its lock, a ``.env``, a token file) must never make root create, read or
trust a file the link points at. The kernel's ``fs.protected_symlinks`` would
stop some of these, but it is off on many hosts and containers, so queuectl
checks for itself. Real CLI processes as root; files given to ``nobody`` with
``os.lchown``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .test_launch_security import NOBODY, Cli, as_root, cli  # noqa: F401  (cli: a fixture)


def shared_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def plant_link(link: Path, target: Path) -> None:
    """A symbolic link ``link -> target`` as ``nobody`` would leave it."""
    link.symlink_to(target)
    os.lchown(link, NOBODY, NOBODY)


@as_root
def test_a_store_name_planted_as_a_link_by_another_user_creates_nothing_where_it_points(cli, tmp_path):
    folder, victim = shared_folder(tmp_path), tmp_path / "protected" / "created-by-root"
    victim.parent.mkdir(mode=0o700)
    plant_link(folder / "queue.db", victim)
    result = cli("--db", f"sqlite:///{folder / 'queue.db'}", "enqueue", "true")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"Error: refusing the SQLite store {folder / 'queue.db'}: ")
    assert result.stderr.count("\n") == 1
    assert not victim.exists()


@as_root
@pytest.mark.parametrize("suffix", ["-lock", "-wal", "-journal"])
def test_a_companion_file_planted_as_a_link_by_another_user_is_refused_and_creates_nothing(
        cli, tmp_path, suffix):
    folder, victim = shared_folder(tmp_path), tmp_path / "protected" / "created-by-root"
    victim.parent.mkdir(mode=0o700)
    url = f"sqlite:///{folder / 'queue.db'}"
    assert cli("--db", url, "enqueue", "--id", "first", "true").returncode == 0
    (folder / f"queue.db{suffix}").unlink(missing_ok=True)
    plant_link(folder / f"queue.db{suffix}", victim)
    result = cli("--db", url, "enqueue", "true")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"Error: refusing the SQLite store {folder / f'queue.db{suffix}'}: "
                             f"owned by uid {NOBODY}, not by you (uid 0)\n")
    assert not victim.exists()


@as_root
def test_a_lock_file_planted_by_another_user_is_refused_so_they_cannot_hold_our_writes(cli, tmp_path):
    folder = shared_folder(tmp_path)
    url = f"sqlite:///{folder / 'queue.db'}"
    assert cli("--db", url, "enqueue", "--id", "first", "true").returncode == 0
    lock = folder / "queue.db-lock"
    lock.unlink()
    lock.write_text("")
    os.chown(lock, NOBODY, NOBODY)
    result = cli("--db", url, "enqueue", "true")
    assert (result.returncode, result.stderr) == (
        1, f"Error: refusing the SQLite store {lock}: owned by uid {NOBODY}, not by you (uid 0)\n")


@as_root
def test_a_dotenv_link_planted_by_another_user_is_ignored_even_when_it_points_at_our_own_file(cli, tmp_path):
    ours = tmp_path / "notes.txt"  # a file of ours whose text the attacker chose (a job's output, say)
    ours.write_text(f"QUEUECTL_HOME={tmp_path / 'elsewhere'}\n")
    ours.chmod(0o600)
    plant_link(cli.cwd / ".env", ours)
    cli.cwd.chmod(0o1777)
    result = cli("status")
    assert result.returncode == 0
    assert str(tmp_path / "elsewhere") not in result.stderr + result.stdout
    assert result.stderr == (f"warning: ignoring {cli.cwd / '.env'}: a link owned by uid {NOBODY}, "
                             "not by you (uid 0)\n")
    assert not (tmp_path / "elsewhere").exists()


def test_a_dotenv_link_of_our_own_is_still_read(cli, tmp_path):
    ours = tmp_path / "project.env"
    ours.write_text(f"QUEUECTL_HOME={tmp_path / 'projecthome'}\n")
    ours.chmod(0o600)
    (cli.cwd / ".env").symlink_to(ours)
    assert cli("enqueue", "--id", "job1", "true").returncode == 0
    assert (tmp_path / "projecthome" / "queue.db").is_file()


# -- the dashboard's token ---------------------------------------------------------------

@as_root
def test_a_token_file_owned_by_another_user_is_refused_since_they_know_the_token(tmp_path):
    from queuectl.entrypoints.dashboard import auth

    folder = shared_folder(tmp_path)
    planted = folder / "token"
    planted.write_text("a-token-nobody-chose-and-knows\n")
    planted.chmod(0o600)
    os.chown(planted, NOBODY, NOBODY)
    plant_link(folder / "token-link", planted)
    for path in (planted, folder / "token-link"):
        with pytest.raises(ValueError, match=f"owned by uid {NOBODY}, not by you"):
            auth.read_token_file(path)


@pytest.mark.parametrize("path", ["//evil.example/", "//evil.example/jobs", "///evil.example/x", "/\\evil.example/"])
def test_the_token_exchange_never_redirects_to_another_site(path):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from queuectl.entrypoints.dashboard import auth

    async def page(_scope, _receive, _send):  # never reached: the gate answers with the redirect
        raise AssertionError("served")

    token = "t" * 32
    client = TestClient(auth.TokenGate(page, token), base_url="http://127.0.0.1:8080")
    response = client.get(f"http://127.0.0.1:8080{path}?token={token}", follow_redirects=False)
    location = response.headers["location"]
    assert response.status_code == 303
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
