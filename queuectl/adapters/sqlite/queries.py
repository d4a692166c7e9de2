"""The operators' queries (listings, counts, workers, ``stats``), built with SQLAlchemy Core.

Core builds and compiles them; they run, like every other statement, on the
driver's connection inside ``SqliteDatabase.read`` (``rows``). Only the
operators' reads import this module; the hot paths never do.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from .tables import ATTEMPTS, JOBS, WORKERS, Table

_DIALECT = sqlite.dialect(paramstyle="qmark")
_TYPES = {"INTEGER": sa.Integer, "TEXT": sa.Text, "FLOAT": sa.Float, "BOOLEAN": sa.Boolean}


def core_table(table: Table) -> sa.TableClause:
    """The declared table as a Core table (names and types: enough to build queries)."""
    return sa.table(table.name, *(sa.column(column.name, _TYPES[column.type]) for column in table.columns))


jobs_table, attempts_table, workers_table = core_table(JOBS), core_table(ATTEMPTS), core_table(WORKERS)


def rows(conn: sqlite3.Connection, query: sa.Executable, **params: Any) -> list[tuple]:
    """Run a Core query on the driver's connection; its rows as plain tuples, in column order."""
    expanded = _compiled(query).construct_expanded_state(params)
    return conn.execute(expanded.statement, expanded.positional_parameters).fetchall()


@functools.lru_cache(maxsize=64)
def _compiled(query: sa.Executable) -> sa.engine.Compiled:
    """Compiled once per query object: the module's constant queries (``stats`` on every render) reuse it."""
    return query.compile(dialect=_DIALECT)


COUNTS = sa.select(jobs_table.c.state, sa.func.count()).group_by(jobs_table.c.state)
COUNTS_BY_QUEUE = (sa.select(jobs_table.c.queue, jobs_table.c.state, sa.func.count())
                   .group_by(jobs_table.c.queue, jobs_table.c.state))
NEWEST_FIRST = sa.select(*jobs_table.c).order_by(jobs_table.c.seq.desc())
WORKERS_IN_START_ORDER = sa.select(*workers_table.c).order_by(workers_table.c.started_at, workers_table.c.id)


def count_query(states: Any, queue: str | None) -> sa.Select:
    """``SELECT count(*)`` of the jobs in ``states`` (any when None) of ``queue`` (any when None)."""
    query = sa.select(sa.func.count()).select_from(jobs_table)
    if states is not None:
        query = query.where(jobs_table.c.state.in_(sorted(state.value for state in states)))
    if queue is not None:
        query = query.where(jobs_table.c.queue == queue)
    return query
