"""The SQLite schema's names as plain constants, for the SQL that runs without SQLAlchemy.

``schema.py`` declares the same tables with SQLAlchemy (types, keys, indexes,
DDL); a test keeps the two in step. The worker and ``enqueue`` read only this
module, so they never pay for importing SQLAlchemy.
"""

from __future__ import annotations

from queuectl.domain.model import WAITING, JobState

# Bumped when the schema changes; stored in ``PRAGMA user_version``.
# 2: attempts.outcome and the indexes behind ``stats``.
SCHEMA_VERSION = 2

# Literal SQL, not bound parameters, so that SQLite can match the partial
# indexes: a partial index is only used when the query's WHERE clause
# visibly implies the index's WHERE clause.
# Derived from the model, in the states' declaration order: the text must stay
# "state IN ('pending', 'failed')", the one existing files' index was built with.
WAITING_SQL = "state IN ({})".format(", ".join(f"'{state.value}'" for state in JobState if state in WAITING))
PROCESSING_SQL = f"state = '{JobState.PROCESSING.value}'"

JOB_COLUMNS = ("seq", "id", "command", "state", "queue", "priority", "max_retries", "timeout", "attempts",
               "run_at", "created_at", "updated_at", "started_at", "finished_at", "exit_code", "last_error",
               "worker", "lease_token", "lease_until")
ATTEMPT_COLUMNS = ("token", "job_id", "ordinal", "attempt", "worker", "host", "started_at", "finished_at",
                   "exit_code", "error", "output", "outcome")
WORKER_COLUMNS = ("id", "host", "pid", "pid_started_at", "queues", "started_at", "last_heartbeat",
                  "current_job", "stop_requested")
SETTING_COLUMNS = ("key", "value")

# Columns added after version 1: an older file gets them on first use.
ADDED_COLUMNS = (("attempts", "outcome", "TEXT"),)
