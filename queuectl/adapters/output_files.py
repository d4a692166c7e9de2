"""Attempt output files on this host: their names, their tails, their deletion.

One file per attempt that printed anything,
``<home>/output/<day>/<job id>.<attempt>-<token>.log`` (the UTC day of the
claim, the first 8 characters of the claim's lease token). This module is the
one place that names them: the runner writes them, ``logs`` reads them, and
``remove``, ``prune`` and ``retention`` delete them.
"""

from __future__ import annotations

import contextlib
import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterator, Sequence

from queuectl.domain.model import Job
from queuectl.domain.ports import OUTPUT_TAIL_BYTES, OutputFiles

OUTPUT_FOLDER = "output"
UNSTARTED = "unstarted"
TOKEN_CHARS = 8
# <job id>.<attempt>-<token>.log; an id may hold dots, the attempt and token never do
_FILE_NAME = re.compile(r"(?P<job>.+)\.\d+-[A-Za-z0-9]{1,8}\.log")
_DAY = "%Y-%m-%d"


def day_folder(home: Path | str, day: date | None) -> str:
    """The folder of the attempts claimed on ``day`` (``unstarted`` for none)."""
    return os.path.join(home, OUTPUT_FOLDER, day.strftime(_DAY) if day else UNSTARTED)


def file_name(job_id: str, attempt: int, token: str) -> str:
    return f"{job_id}.{attempt}-{token[:TOKEN_CHARS]}.log"


def attempt_path(home: Path | str, job: Job, token: str) -> Path:
    """Where the attempt ``job`` is running (claimed with ``token``) writes its output."""
    day = job.started_at.date() if job.started_at else None
    return Path(day_folder(home, day), file_name(job.id, job.attempts, token))


def read_tail(path: Path | str, limit: int = OUTPUT_TAIL_BYTES) -> str:
    """The last ``limit`` bytes of a file as text; "" when it is absent or empty."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return ""
    try:
        return tail(fd, limit)
    finally:
        os.close(fd)


def tail(fd: int, limit: int = OUTPUT_TAIL_BYTES) -> str:
    size = os.fstat(fd).st_size
    if size == 0:
        return ""
    return os.pread(fd, limit, max(0, size - limit)).decode("utf-8", errors="replace")


class LocalOutputFiles(OutputFiles):
    """The output files under one queue home."""

    def __init__(self, home: Path | str) -> None:
        self.home = Path(home)

    def path(self, job: Job, token: str) -> str:
        return str(attempt_path(self.home, job, token))

    def tail(self, job: Job, token: str) -> str:
        return read_tail(attempt_path(self.home, job, token))

    def delete(self, jobs: Sequence[Job]) -> int:
        """Each job's attempts were claimed between its creation and its last update:
        only the day folders of that span are listed, each once per call."""
        if not jobs:
            return 0
        existing = {entry.name: day for entry in _entries(self.home / OUTPUT_FOLDER)
                    if (day := _day(entry.name)) is not None}
        by_day: dict[str, set[str]] = {}
        for job in jobs:
            for folder in _folders(job, existing):
                by_day.setdefault(folder, set()).add(job.id)
        deleted = 0
        for folder, ids in by_day.items():
            for entry in _entries(os.path.join(self.home, OUTPUT_FOLDER, folder)):
                match = _FILE_NAME.fullmatch(entry.name)
                if match and match.group("job") in ids:
                    with contextlib.suppress(OSError):  # gone already, or not ours to delete
                        os.unlink(entry.path)
                        deleted += 1
        return deleted


    def sweep(self, before: datetime) -> int:
        """Day folders older than the day before ``before`` hold only attempts claimed
        before it; of those, files not written since ``before`` go, and then the
        folders left empty (never today's or yesterday's, where runners write)."""
        deleted, cutoff, last_day = 0, before.timestamp(), before.date() - timedelta(days=1)
        for entry in _entries(self.home / OUTPUT_FOLDER):
            day = _day(entry.name)
            if day is None or day >= last_day:
                continue
            for file in _entries(entry.path):
                with contextlib.suppress(OSError):
                    if _FILE_NAME.fullmatch(file.name) and file.stat().st_mtime < cutoff:
                        os.unlink(file.path)
                        deleted += 1
            with contextlib.suppress(OSError):  # not empty: a file still in use, or not ours
                os.rmdir(entry.path)
        return deleted


def _folders(job: Job, existing: dict[str, date]) -> Iterator[str]:
    """The day folders (of ``existing``) that may hold the job's attempts."""
    first = job.created_at.date()
    last = max(t for t in (job.updated_at, job.finished_at, job.started_at, job.created_at) if t).date()
    if (last - first).days > len(existing):  # a long span: walk the folders instead of the days
        yield from (name for name, day in existing.items() if first <= day <= last)
        return
    for offset in range((last - first).days + 1):
        name = (first + timedelta(days=offset)).strftime(_DAY)
        if name in existing:
            yield name


def _day(name: str) -> date | None:
    try:
        return datetime.strptime(name, _DAY).date()
    except ValueError:
        return None


def _entries(folder: Path | str) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as listing:
            return list(listing)
    except OSError:
        return []
