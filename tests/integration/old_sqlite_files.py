"""The SQLite files older schema versions wrote (``data/``): copied where an upgrade test opens them, and read."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

DATA = Path(__file__).parent / "data"


def copy_of(old_file: Path, folder: Path) -> Path:
    """``old_file`` copied to ``folder/queue.db``, ``folder`` created 700 and the file 600 as in a queue home."""
    folder.mkdir(mode=0o700)
    path = folder / "queue.db"
    shutil.copyfile(old_file, path)
    path.chmod(0o600)
    return path


def rows_of(path: Path, sql: str) -> list[tuple]:
    """What ``sql`` reads from the SQLite file at ``path``, on a connection of its own (closed after)."""
    check = sqlite3.connect(path)
    try:
        return check.execute(sql).fetchall()
    finally:
        check.close()
