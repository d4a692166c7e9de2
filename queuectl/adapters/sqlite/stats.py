"""SqliteStatsRepository: ``stats`` and the metrics' totals as a few SQL aggregates.

Each query reads one index alone, never table rows:

- jobs per state and queue, and the oldest due ``run_at`` of each waiting
  pair: one pass over ``ix_jobs_state_queue`` (state, queue, run_at), grouped
  in index order (no sort); one statement however many queues there are;
- the window: a range of ``ix_attempts_finished`` (finished_at, outcome,
  started_at) from ``since`` to ``now``; both percentiles come from one sort
  of the window's runs (``row_number()``, SQLite 3.25+);
- the totals: a range of the same index grouped by outcome. The first call
  reads every attempt (about 1 s per million); ``RunningTotals`` then asks
  only for recent ranges.

Window run times are rounded to the microsecond so that a 2 s run of epoch
floats reads 2.0 and not 1.9999999.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy import bindparam as param

from queuectl.domain.model import WAITING, JobState
from queuectl.domain.ports import StatsRepository
from queuectl.domain.stats import RAN, AttemptTotals, Durations, QueueStats, rank_index
from queuectl.domain.timeutil import from_epoch, to_epoch

from .database import SqliteDatabase
from .core import attempts_table as attempts
from .core import jobs_table as jobs
from .core import rows
_OUTCOMES = list(JobState)
_SLACK = 1e-6  # seconds: epoch floats make a 2 s run 1.9999999 or 2.0000001
_RAN = attempts.c.outcome.in_([state.value for state in RAN])
_RUN = sa.func.round(attempts.c.finished_at - attempts.c.started_at, 6)
_PER_OUTCOME = [sa.func.sum(sa.case((attempts.c.outcome == state.value, 1), else_=0)) for state in _OUTCOMES]

_DUE = sa.and_(jobs.c.state.in_([state.value for state in WAITING]), jobs.c.run_at <= param("now"))
_BY_QUEUE = (sa.select(jobs.c.state, jobs.c.queue, sa.func.count().label("n"),
                       sa.func.min(sa.case((_DUE, jobs.c.run_at))).label("oldest_due"))
             .group_by(jobs.c.state, jobs.c.queue))
_IN_WINDOW = sa.and_(attempts.c.finished_at >= param("since"), attempts.c.finished_at <= param("now"))
_WINDOW = sa.select(*_PER_OUTCOME, sa.func.max(sa.case((_RAN, _RUN)))).where(_IN_WINDOW)
_ranked = (sa.select(_RUN.label("run"), sa.func.row_number().over(order_by=_RUN).label("position"))
           .where(_IN_WINDOW, _RAN).subquery())
_RANKED = (sa.select(_ranked.c.position, _ranked.c.run)
           .where(_ranked.c.position.in_(param("positions", expanding=True))))


class SqliteStatsRepository(StatsRepository):
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def stats(self, now: datetime, since: datetime) -> QueueStats:
        bounds = {"now": to_epoch(now), "since": to_epoch(since)}
        with self._db.read() as conn:  # one snapshot for every figure
            by_queue: dict[str, dict[JobState, int]] = {}
            oldest: float | None = None
            for state, queue, count, oldest_due in rows(conn, _BY_QUEUE, **bounds):
                by_queue.setdefault(queue, {})[JobState(state)] = count
                if oldest_due is not None and (oldest is None or oldest_due < oldest):
                    oldest = oldest_due
            *counts, longest = rows(conn, _WINDOW, **bounds)[0]
            outcomes = {state: int(n) for state, n in zip(_OUTCOMES, counts) if n}
            ran = sum(outcomes.get(state, 0) for state in RAN)
            p50, p95 = _percentiles(conn, bounds, ran)
        return QueueStats(now, since, by_queue, outcomes, Durations(ran, p50, p95, longest), from_epoch(oldest))

    def totals(self, buckets: Sequence[float], since: datetime | None = None,
               until: datetime | None = None) -> AttemptTotals:
        # Grouped by outcome, with plain comparisons (a microsecond of slack
        # instead of rounding): the cheapest pass over every attempt there is.
        run = attempts.c.finished_at - attempts.c.started_at
        query = (sa.select(attempts.c.outcome, sa.func.count(), sa.func.sum(run),
                           *[sa.func.sum(sa.case((run <= bound + _SLACK, 1), else_=0)) for bound in buckets])
                 .where(attempts.c.finished_at.is_not(None), attempts.c.outcome.is_not(None))
                 .group_by(attempts.c.outcome))
        if since is not None:
            query = query.where(attempts.c.finished_at >= to_epoch(since))
        if until is not None:
            query = query.where(attempts.c.finished_at < to_epoch(until))
        outcomes: dict[JobState, int] = {}
        cumulative, total = [0] * len(buckets), 0.0
        with self._db.read() as conn:
            for outcome, count, seconds, *within in rows(conn, query):
                state = JobState(outcome)
                outcomes[state] = int(count)
                if state in RAN:
                    total += seconds or 0.0
                    cumulative = [have + int(more or 0) for have, more in zip(cumulative, within)]
        return AttemptTotals(outcomes, tuple(zip(buckets, cumulative)),
                             sum(outcomes.get(state, 0) for state in RAN), total)


def _percentiles(conn: sqlite3.Connection, bounds: dict[str, Any], ran: int) -> tuple[float | None, float | None]:
    if not ran:
        return None, None
    wanted = {q: rank_index(ran, q) + 1 for q in (0.5, 0.95)}  # row_number() counts from 1
    runs = dict(rows(conn, _RANKED, **bounds, positions=sorted(set(wanted.values()))))
    return runs.get(wanted[0.5]), runs.get(wanted[0.95])
