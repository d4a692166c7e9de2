"""Where a SQLite store's file is (``parse_url``), and whether it may be created or trusted.

A read never creates anything: a missing file is an error (``no store at
PATH``), except the queue home's own file, which reads as an empty store until
a write creates it. A write creates the file, owner-only, in a folder that
must exist (the queue home alone is created, 0700). A file or journal another
user could have written is refused (SPEC 9.5).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path
from urllib.parse import parse_qs, unquote

from queuectl.domain import defaults
from queuectl.domain.errors import StoreUnavailable, UnsafeLocation
from queuectl.domain.safety import untrusted_because

# Files beside the database: whoever writes SQLite's journals writes the data, and whoever
# holds queuectl's -lock holds every writer.
COMPANIONS = ("-wal", "-shm", "-journal", "-lock")
BUSY_TIMEOUT_SECONDS = defaults.SQLITE_BUSY_TIMEOUT_SECONDS
_SCHEME = "sqlite://"


def parse_url(url: str) -> tuple[Path | None, float]:
    """``sqlite:///PATH[?timeout=S]`` -> (the file, or None for memory; the busy timeout).

    Read as SQLAlchemy reads it: three slashes and a relative path, four and an
    absolute one, percent-escapes decoded, ``sqlite://`` alone for memory.
    """
    if not url.lower().startswith(_SCHEME):
        raise StoreUnavailable(f"invalid SQLite URL '{url}': use sqlite:///PATH")
    location, _, query = url[len(_SCHEME):].partition("?")
    if location and not location.startswith("/"):
        raise StoreUnavailable(f"invalid SQLite URL '{url}': use sqlite:///PATH (a SQLite URL has no host)")
    database = unquote(location[1:])
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - {"timeout"})
    if unknown:
        raise StoreUnavailable(f"unknown SQLite URL option '{unknown[0]}': the one option is ?timeout=SECONDS")
    timeout = options.get("timeout", [str(BUSY_TIMEOUT_SECONDS)])[-1]
    try:
        seconds = float(timeout)
    except ValueError:
        raise StoreUnavailable(f"invalid SQLite timeout '{timeout}': use seconds") from None
    if not seconds >= 0:
        raise StoreUnavailable(f"invalid SQLite timeout '{timeout}': use seconds")
    return (None if database in ("", ":memory:") else Path(database)), seconds


def locate(path: Path, write: bool, home_store: bool) -> os.stat_result | None:
    """The file's status once it is there (created now for a write) and trusted; None: a missing
    home store, read."""
    _check_link(path)
    if not os.path.exists(path):
        if not write and home_store:
            return None
        _check_folder(path, create=write and home_store)
        if not write:
            raise StoreUnavailable(f"no store at {path}")
        try:
            # O_EXCL: never through a link planted in a shared folder (a dangling one included)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        except FileExistsError:
            if os.path.islink(path):  # a dangling link appeared: never created through
                raise StoreUnavailable(f"cannot open SQLite store {path}: it is a link to a missing file") from None
            # another process created it first (two workers starting at once): checked below like any file
        except OSError as error:
            raise StoreUnavailable(f"cannot open SQLite store {path}: {error.strerror}") from None
    return check_trusted(path)


def _check_folder(path: Path, create: bool) -> None:
    folder = path.parent
    if create:
        with contextlib.suppress(OSError):  # reported just below, as the folder's absence
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not folder.is_dir():
        why = "is not a directory" if folder.exists() else "does not exist"
        raise StoreUnavailable(f"cannot open SQLite store {path}: the directory {folder} {why}")


def check_trusted(path: Path) -> os.stat_result:
    """The database's status; refuse it, or a journal beside it, if another user could have written
    it, or if it is a link another user made (pointing at a file of ours or at none yet)."""
    found = []
    for name in (path.name, *(path.name + suffix for suffix in COMPANIONS)):
        try:
            _check_link(path.with_name(name))
            info = os.stat(path.with_name(name))
        except FileNotFoundError:
            if name == path.name:
                raise StoreUnavailable(f"no store at {path}") from None
            continue
        except OSError as error:
            raise StoreUnavailable(f"cannot open SQLite store {path}: {error.strerror}") from None
        reason = untrusted_because(info.st_uid, info.st_mode, os.geteuid())
        if reason:
            raise UnsafeLocation(f"refusing the SQLite store {path.with_name(name)}: {reason}")
        found.append(info)
    return found[0]


def _check_link(path: Path) -> None:
    try:
        info = os.lstat(path)
    except OSError:  # missing, or a folder in its path is not one: told by the checks that follow
        return
    reason = untrusted_because(info.st_uid, 0, os.geteuid()) if stat.S_ISLNK(info.st_mode) else None
    if reason:
        raise UnsafeLocation(f"refusing the SQLite store {path}: {reason}")


def empty_database() -> sqlite3.Connection:
    """A private in-memory database with the schema: what a missing home store reads as."""
    from .tables import create_statements

    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    for statement in create_statements():
        conn.execute(statement)
    return conn
