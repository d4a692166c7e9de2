"""The SQLite tables and the indexes that serve each query of the repositories.

Times are REAL epoch seconds, states the ``JobState`` word, JSON values TEXT.
``seq`` is the store-assigned enqueue order: FIFO among equal priority and
``run_at`` never depends on clock ties.
"""

from __future__ import annotations

import sqlalchemy as sa

from .columns import PROCESSING_SQL, SCHEMA_VERSION, WAITING_SQL  # noqa: F401 (re-exported)

metadata = sa.MetaData()

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text, nullable=False, unique=True),
    sa.Column("command", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("queue", sa.Text, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("max_retries", sa.Integer, nullable=False),
    sa.Column("timeout", sa.Float, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("run_at", sa.Float, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("exit_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("worker", sa.Text),
    sa.Column("lease_token", sa.Text),
    sa.Column("lease_until", sa.Float),
    sqlite_autoincrement=True,
)

# One row per history entry; a claim's lease token is unique, so it names the row.
attempts = sa.Table(
    "attempts", metadata,
    sa.Column("token", sa.Text, primary_key=True),
    sa.Column("job_id", sa.Text, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("ordinal", sa.Integer, nullable=False),  # 0-based position in the job's history
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("worker", sa.Text, nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("exit_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("output", sa.Text),  # the captured output tail
    sa.Column("outcome", sa.Text),  # the job's state when the attempt closed (JobState word)
)

settings = sa.Table(
    "settings", metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # JSON
)

workers = sa.Table(
    "workers", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("pid_started_at", sa.Float, nullable=False),
    sa.Column("queues", sa.Text, nullable=False),  # JSON list
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("last_heartbeat", sa.Float, nullable=False),
    sa.Column("current_job", sa.Text),
    sa.Column("stop_requested", sa.Boolean, nullable=False, default=False),
)

INDEXES = (
    # claim order: priority desc, then run_at, then enqueue order, waiting jobs only
    sa.Index("ix_jobs_claim", jobs.c.priority.desc(), jobs.c.run_at, jobs.c.seq,
             sqlite_where=sa.text(WAITING_SQL)),
    # counts per state, and list by state newest first
    sa.Index("ix_jobs_state_seq", jobs.c.state, jobs.c.seq),
    # expired leases
    sa.Index("ix_jobs_lease", jobs.c.lease_until, sqlite_where=sa.text(PROCESSING_SQL)),
    # a job's history in order
    sa.Index("ix_attempts_job", attempts.c.job_id, attempts.c.ordinal, unique=True),
    # stats: counts per state and queue, queue depth and the oldest due job, from the index alone
    sa.Index("ix_jobs_state_queue", jobs.c.state, jobs.c.queue, jobs.c.run_at),
    # stats: attempts finished in a window, and the metrics' totals, from the index alone
    sa.Index("ix_attempts_finished", attempts.c.finished_at, attempts.c.outcome, attempts.c.started_at),
)

# Columns added after version 1: an older file gets them on first use.
ADDED_COLUMNS = (("attempts", "outcome", "TEXT"),)


def create_statements() -> list[sa.schema.ExecutableDDLElement]:
    """Idempotent DDL: safe to run from several processes at once."""
    tables = [sa.schema.CreateTable(table, if_not_exists=True) for table in metadata.sorted_tables]
    return tables + [sa.schema.CreateIndex(index, if_not_exists=True) for index in INDEXES]


def upgrade(conn: sa.Connection) -> None:
    """Add the columns an older file lacks (before the indexes that use them are created).

    Runs inside the schema's write transaction, so two processes never both add one.
    """
    for table, column, kind in ADDED_COLUMNS:
        present = {row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table})")}
        if present and column not in present:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
