"""The SQLite schema, declared once: tables, columns, keys, indexes and version.

Plain Python, so that the processes on the hot path (workers, ``enqueue``)
read it without importing SQLAlchemy. Everything else is derived from it: the
DDL run on a new file (``create_statements``), the column lists of the fixed
SQL (``hot_path.py``, ``queries.py``), and the SQLAlchemy tables of the
``stats`` aggregates (``core.py``, built only when one runs).

Times are REAL epoch seconds, states the ``JobState`` word, JSON values TEXT.
``seq`` is the store-assigned enqueue order: FIFO among equal priority and
``run_at`` never depends on clock ties.
"""

from __future__ import annotations

from dataclasses import dataclass

from queuectl.domain.model import FINAL, WAITING, JobState

# Bumped when the schema changes; stored in ``PRAGMA user_version``.
# 2: attempts.outcome and the indexes behind ``stats``.
# 3: jobs.cwd and jobs.env (SPEC 9.1), and the queue_pauses table (SPEC 9.2).
# 4: the schedules table; jobs.unique_key, retry_on, no_retry_on and the unique index of held keys; jobs.after
#    and the dependencies table (SPEC 9.3).
# 5: the queue_limits table and workers.slots (SPEC 9.7).
SCHEMA_VERSION = 5

# Literal SQL, not bound parameters, so that SQLite can match the partial
# indexes: a partial index is only used when the query's WHERE clause
# visibly implies the index's WHERE clause.
# Derived from the model, in the states' declaration order: the text must stay
# "state IN ('pending', 'failed')", the one existing files' index was built with.
WAITING_SQL = "state IN ({})".format(", ".join(f"'{state.value}'" for state in JobState if state in WAITING))
PROCESSING_SQL = f"state = '{JobState.PROCESSING.value}'"
# The keys held (``Job.held_key``): a job's unique key while it is not final.
HELD_KEY_SQL = "unique_key IS NOT NULL AND state NOT IN ({})".format(
    ", ".join(f"'{state.value}'" for state in JobState if state in FINAL))

_RESERVED = frozenset({"key"})  # names SQL reserves: quoted in the DDL


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # INTEGER, TEXT, FLOAT or BOOLEAN
    required: bool = True  # NOT NULL
    references: str | None = None  # "table.column", deleted with the row it names
    default: str | None = None  # SQL literal: what the rows already there get when the column is added

    def ddl(self) -> str:
        default = f" DEFAULT {self.default}" if self.default is not None else ""
        return f"{_quoted(self.name)} {self.type}{' NOT NULL' if self.required else ''}{default}"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: str  # the primary key
    autoincrement: bool = False  # the key is an INTEGER never reused
    unique: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def ddl(self) -> str:
        parts = [column.ddl() + (" PRIMARY KEY AUTOINCREMENT" if self.autoincrement and column.name == self.key
                                 else "") for column in self.columns]
        if not self.autoincrement:
            parts.append(f"PRIMARY KEY ({_quoted(self.key)})")
        parts += [f"UNIQUE ({name})" for name in self.unique]
        parts += [f"FOREIGN KEY({c.name}) REFERENCES {_referenced(c.references)} ON DELETE CASCADE"
                  for c in self.columns if c.references]
        return f"CREATE TABLE IF NOT EXISTS {self.name} ( {', '.join(parts)} )"


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    terms: tuple[str, ...]  # column names, "DESC" allowed
    unique: bool = False
    where: str | None = None  # a partial index

    def ddl(self) -> str:
        where = f" WHERE {self.where}" if self.where else ""
        return (f"CREATE {'UNIQUE ' if self.unique else ''}INDEX IF NOT EXISTS {self.name}"
                f" ON {self.table} ({', '.join(self.terms)}){where}")


def _quoted(name: str) -> str:
    return f'"{name}"' if name in _RESERVED else name


def _referenced(target: str) -> str:
    table, column = target.split(".")
    return f"{table} ({column})"


JOBS = Table("jobs", (
    Column("seq", "INTEGER"), Column("id", "TEXT"), Column("command", "TEXT"), Column("state", "TEXT"),
    Column("queue", "TEXT"), Column("priority", "INTEGER"), Column("max_retries", "INTEGER"),
    Column("timeout", "FLOAT"), Column("attempts", "INTEGER"), Column("run_at", "FLOAT"),
    Column("created_at", "FLOAT"), Column("updated_at", "FLOAT"), Column("started_at", "FLOAT", False),
    Column("finished_at", "FLOAT", False), Column("exit_code", "INTEGER", False),
    Column("last_error", "TEXT", False), Column("worker", "TEXT", False), Column("lease_token", "TEXT", False),
    Column("lease_until", "FLOAT", False),
    Column("cwd", "TEXT", False), Column("env", "TEXT", False),  # env: a JSON object, NULL when empty
    Column("after", "TEXT", False),  # the job's dependencies: a JSON array of ids, NULL when none
    Column("unique_key", "TEXT", False), Column("retry_on", "TEXT", False), Column("no_retry_on", "TEXT", False),
), key="seq", autoincrement=True, unique=("id",))

# One row per history entry; a claim's lease token is unique, so it names the row.
ATTEMPTS = Table("attempts", (
    Column("token", "TEXT"), Column("job_id", "TEXT", references="jobs.id"),
    Column("ordinal", "INTEGER"),  # 0-based position in the job's history
    Column("attempt", "INTEGER"), Column("worker", "TEXT"), Column("host", "TEXT"), Column("started_at", "FLOAT"),
    Column("finished_at", "FLOAT", False), Column("exit_code", "INTEGER", False), Column("error", "TEXT", False),
    Column("output", "TEXT", False),  # the captured output tail
    Column("outcome", "TEXT", False),  # the job's state when the attempt closed (JobState word)
), key="token")

SETTINGS = Table("settings", (Column("key", "TEXT"), Column("value", "TEXT")), key="key")  # value: JSON

WORKERS = Table("workers", (
    Column("id", "TEXT"), Column("host", "TEXT"), Column("pid", "INTEGER"), Column("pid_started_at", "FLOAT"),
    Column("queues", "TEXT"),  # JSON list
    Column("started_at", "FLOAT"), Column("last_heartbeat", "FLOAT"), Column("current_job", "TEXT", False),
    Column("stop_requested", "BOOLEAN"),
    Column("slots", "INTEGER", default="1"),  # jobs the worker runs at once (SPEC 9.7)
), key="id")

# The paused queues (``pausing.Paused``): a queue's row says whether it is paused; without one,
# the row of ``EVERY_QUEUE`` (a name no queue can have) decides; without that, it runs.
QUEUE_PAUSES = Table("queue_pauses", (Column("queue", "TEXT"), Column("paused", "BOOLEAN")), key="queue")
EVERY_QUEUE = "*"

# Per-queue limits (``limits.py``): at most ``max_running`` jobs of ``queue`` processing at once; no row, no limit.
QUEUE_LIMITS = Table("queue_limits", (Column("queue", "TEXT"), Column("max_running", "INTEGER")), key="queue")

# One row per (job, dependency): who waits for whom, looked up by ``depends_on`` when a job ends.
# ``depends_on`` is no foreign key: a final dependency may be removed while its dependents wait.
DEPENDENCIES = Table("dependencies", (Column("seq", "INTEGER"), Column("job_id", "TEXT", references="jobs.id"),
                                      Column("depends_on", "TEXT")), key="seq", autoincrement=True)

# Schedules (``schedules.Schedule``): job is the JSON of the job each run enqueues.
SCHEDULES = Table("schedules", (
    Column("name", "TEXT"), Column("cron", "TEXT"), Column("tz", "TEXT"), Column("job", "TEXT"),
    Column("paused", "BOOLEAN"), Column("next_run", "FLOAT"), Column("created_at", "FLOAT"),
    Column("last_run", "FLOAT", False), Column("lease_until", "FLOAT", False), Column("lease_token", "TEXT", False),
), key="name")
SCHEDULES_DUE_SQL = "paused = 0"

TABLES = (JOBS, SETTINGS, WORKERS, ATTEMPTS, QUEUE_PAUSES, SCHEDULES,
          DEPENDENCIES, QUEUE_LIMITS)  # in creation order: a table after those it references

INDEXES = (
    # claim order: priority desc, then run_at, then enqueue order, waiting jobs only
    Index("ix_jobs_claim", "jobs", ("priority DESC", "run_at", "seq"), where=WAITING_SQL),
    # counts per state, and list by state newest first
    Index("ix_jobs_state_seq", "jobs", ("state", "seq")),
    # expired leases
    Index("ix_jobs_lease", "jobs", ("lease_until",), where=PROCESSING_SQL),
    # a job's history in order
    Index("ix_attempts_job", "attempts", ("job_id", "ordinal"), unique=True),
    # stats: counts per state and queue, queue depth and the oldest due job, from the index alone
    Index("ix_jobs_state_queue", "jobs", ("state", "queue", "run_at")),
    # stats: attempts finished in a window, and the metrics' totals, from the index alone
    Index("ix_attempts_finished", "attempts", ("finished_at", "outcome", "started_at")),
    # a worker's look for due schedules, every second or so
    Index("ix_schedules_due", "schedules", ("next_run",), where=SCHEDULES_DUE_SQL),
    # a unique key is held by one job at a time: every write that would make a second holder fails
    Index("ix_jobs_held_key", "jobs", ("unique_key",), unique=True, where=HELD_KEY_SQL),
    # the jobs waiting for one that just ended
    Index("ix_dependencies_on", "dependencies", ("depends_on",)),
)

# Columns added after version 1: an older file gets them on first use (before the indexes).
ADDED_COLUMNS = (("attempts", "outcome"), ("jobs", "cwd"), ("jobs", "env"), ("jobs", "after"),
                 ("jobs", "unique_key"), ("jobs", "retry_on"), ("jobs", "no_retry_on"), ("workers", "slots"))

JOB_COLUMNS = JOBS.names
ATTEMPT_COLUMNS = ATTEMPTS.names
WORKER_COLUMNS = WORKERS.names
SCHEDULE_COLUMNS = SCHEDULES.names


def create_statements() -> list[str]:
    """Idempotent DDL: safe to run from several processes at once."""
    return [table.ddl() for table in TABLES] + [index.ddl() for index in INDEXES]


def add_column_statement(table_name: str, column_name: str) -> str:
    table = next(table for table in TABLES if table.name == table_name)
    column = next(column for column in table.columns if column.name == column_name)
    assert not column.required or column.default is not None, "a column added to existing rows needs a value"
    return f"ALTER TABLE {table.name} ADD COLUMN {column.ddl()}"
