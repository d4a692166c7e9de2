"""The SQLite files older schema versions wrote (``data/``), copied where an upgrade test opens them."""

from __future__ import annotations

import shutil
from pathlib import Path

DATA = Path(__file__).parent / "data"


def copy_of(old_file: Path, folder: Path) -> Path:
    """``old_file`` copied to ``folder/queue.db``, ``folder`` created 700 and the file 600 as in a queue home."""
    folder.mkdir(mode=0o700)
    path = folder / "queue.db"
    shutil.copyfile(old_file, path)
    path.chmod(0o600)
    return path
