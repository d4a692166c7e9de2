"""The operators' listings and counts (``list``, ``status``, ``queue list``, ``wait``, ``worker stop``) as fixed SQL.

Plain strings, as on the hot path, so that these commands never import
SQLAlchemy (about 0.25 s of a CLI call's start-up); only ``stats`` builds
its aggregates with Core (``core.py``). The filters a caller may add are
bound parameters, and the text is one of a few fixed variants, so each
statement is compiled once by the driver's statement cache (and, on
PostgreSQL, rewritten once by ``postgres/connection.py``).
"""

from __future__ import annotations

from typing import Any, Collection

from queuectl.domain.model import JobState

from .tables import JOB_COLUMNS, WORKER_COLUMNS

COUNTS = "SELECT state, count(*) FROM jobs GROUP BY state"
COUNTS_BY_QUEUE = "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state"
WORKERS_IN_START_ORDER = f"SELECT {', '.join(WORKER_COLUMNS)} FROM workers ORDER BY started_at, id"
_NEWEST_FIRST = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs{{where}} ORDER BY seq DESC{{limit}}"


def _where(terms: list[str]) -> str:
    return f" WHERE {' AND '.join(terms)}" if terms else ""


def newest_first(state: JobState | None, queue: str | None, limit: int) -> tuple[str, list[Any]]:
    """Whole job rows, newest first, of ``state`` and ``queue`` (any when None), at most ``limit`` (all when 0)."""
    terms, params = [], []
    if state is not None:
        terms.append("state = ?")
        params.append(state.value)
    if queue is not None:
        terms.append("queue = ?")
        params.append(queue)
    if limit:
        params.append(limit)
    return _NEWEST_FIRST.format(where=_where(terms), limit=" LIMIT ?" if limit else ""), params


def count_query(states: Collection[JobState] | None, queue: str | None) -> tuple[str, list[Any]] | None:
    """``SELECT count(*)`` of the jobs in ``states`` (any when None) of ``queue`` (any when None);
    None when ``states`` is empty: no job can match, and there is nothing to ask."""
    terms, params = [], []
    if states is not None:
        if not states:
            return None
        values = sorted(state.value for state in states)
        terms.append(f"state IN ({', '.join('?' * len(values))})")
        params += values
    if queue is not None:
        terms.append("queue = ?")
        params.append(queue)
    return f"SELECT count(*) FROM jobs{_where(terms)}", params
