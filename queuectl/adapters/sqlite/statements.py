"""The SQLAlchemy Core statements of the operator-facing queries.

Built once, on first import (plain Core constructs: nothing connects), so the
queries reuse SQLAlchemy's compiled cache. Only the repositories' Core methods
import this module; the hot paths in ``cycle.py`` do not.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import bindparam as param

from queuectl.domain.model import JobState

from . import schema
from .rows import MUTABLE_FIELDS

J, A, S, W = schema.jobs, schema.attempts, schema.settings, schema.workers

# Compare-and-set on what was loaded, for moves that are not fenced by a lease.
SWAP = (sa.update(J).where(J.c.id == param("b_id"), J.c.state == param("b_state"),
                           J.c.lease_token.is_not_distinct_from(param("b_token")))
        .values({name: param(name) for name in MUTABLE_FIELDS}))
BY_ID = sa.select(J).where(J.c.id == param("id"))
EXISTS = sa.select(J.c.seq).where(J.c.id == param("id"))
HISTORY = sa.select(A).where(A.c.job_id == param("id")).order_by(A.c.ordinal)
COUNTS = sa.select(J.c.state, sa.func.count()).group_by(J.c.state)
DEAD = sa.select(J).where(J.c.state == JobState.DEAD.value)
NEWEST_FIRST = sa.select(J).order_by(J.c.seq.desc())

WORKERS = sa.select(W).order_by(W.c.started_at, W.c.id)


def save_setting(key: str, value: str) -> sa.Insert:
    from sqlalchemy.dialects.sqlite import insert

    upsert = insert(S).values(key=key, value=value)
    return upsert.on_conflict_do_update(index_elements=[S.c.key], set_={"value": upsert.excluded.value})


def request_stop(worker_ids: list[str]) -> sa.Update:
    return sa.update(W).where(W.c.id.in_(worker_ids)).values(stop_requested=True)
