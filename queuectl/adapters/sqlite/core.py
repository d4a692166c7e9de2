"""The tables and runner of the ``stats`` aggregates, which SQLAlchemy Core builds (``stats.py``).

Core builds and compiles them; they run, like every other statement, on the
driver's connection inside ``SqliteDatabase.read`` (``rows``). Only ``stats``
and the metrics import this module; the hot paths and the other operators'
commands (fixed SQL in ``queries.py``) never do.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from .tables import ATTEMPTS, JOBS, Table

_DIALECT = sqlite.dialect(paramstyle="qmark")
_TYPES = {"INTEGER": sa.Integer, "TEXT": sa.Text, "FLOAT": sa.Float, "BOOLEAN": sa.Boolean}


def core_table(table: Table) -> sa.TableClause:
    """The declared table as a Core table (names and types: enough to build queries)."""
    return sa.table(table.name, *(sa.column(column.name, _TYPES[column.type]) for column in table.columns))


jobs_table, attempts_table = core_table(JOBS), core_table(ATTEMPTS)


def rows(conn: sqlite3.Connection, query: sa.Executable, **params: Any) -> list[tuple]:
    """Run a Core query on the driver's connection; its rows as plain tuples, in column order."""
    expanded = _compiled(query).construct_expanded_state(params)
    return conn.execute(expanded.statement, expanded.positional_parameters).fetchall()


@functools.lru_cache(maxsize=64)
def _compiled(query: sa.Executable) -> sa.engine.Compiled:
    """Compiled once per query object: ``stats.py``'s constant queries (on every render) reuse it."""
    return query.compile(dialect=_DIALECT)

