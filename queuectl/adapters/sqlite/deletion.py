"""Deleting final jobs on SQLite: ``remove`` and ``prune`` (workers prune too, under ``retention``).

Fixed SQL on the driver's own connection, like ``hot_path.py``: a worker that
prunes never imports SQLAlchemy. Candidates are found in a read transaction;
the write transaction only loads the candidates again by id, keeps those
still old and final (a retry may have moved one meanwhile) and deletes them
with their attempts, so workers are held up for a few index look-ups.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Callable, Sequence

from queuectl.domain.model import Job

from .tables import JOB_COLUMNS
from .rows import job_from_row

_PRUNABLE = "SELECT id FROM jobs WHERE state IN ({states}) AND finished_at < ? ORDER BY seq LIMIT ?"
_BY_IDS = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE id IN ({{ids}})"
_DELETE_ATTEMPTS = "DELETE FROM attempts WHERE job_id IN ({ids})"
_DELETE_JOBS = "DELETE FROM jobs WHERE id IN ({ids})"


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def prunable(conn: sqlite3.Connection, states: Sequence[str], before: float, limit: int) -> list[str]:
    """Ids of up to ``limit`` jobs in ``states`` that finished before ``before``, oldest enqueued first."""
    query = _PRUNABLE.format(states=_marks(len(states)))
    return [row[0] for row in conn.execute(query, (*states, before, limit))]


def delete(conn: sqlite3.Connection, ids: Sequence[str], keep: Callable[[Job], bool]) -> list[Job]:
    """Delete the jobs of ``ids`` that exist and pass ``keep``, with their attempts; return them in ``ids`` order."""
    if not ids:
        return []
    jobs = [job for job in map(job_from_row, conn.execute(_BY_IDS.format(ids=_marks(len(ids))), list(ids)))
            if keep(job)]
    order = {job_id: index for index, job_id in enumerate(ids)}
    jobs.sort(key=lambda job: order[job.id])  # in the order asked for (prune: oldest enqueued first)
    doomed = [job.id for job in jobs]
    if doomed:
        conn.execute(_DELETE_ATTEMPTS.format(ids=_marks(len(doomed))), doomed)
        conn.execute(_DELETE_JOBS.format(ids=_marks(len(doomed))), doomed)
    return jobs
