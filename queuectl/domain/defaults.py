"""Every default and every bound, in one place (as RQ keeps ``defaults.py``).

The domain, the adapters and the entrypoints read these names; no other module
writes a default or a limit as a literal.
"""

from __future__ import annotations

DAY_SECONDS = 86_400

# -- configuration defaults (SPEC sections 7 and 9.4) ------------------------
MAX_RETRIES = 3
BACKOFF_BASE = 2.0
BACKOFF_MAX = 3600.0
BACKOFF_JITTER = 0.0  # share of a retry delay drawn at random either side (0 = none)
JOB_TIMEOUT = 0.0  # seconds; 0 = none
LEASE_SECONDS = 30.0
POLL_INTERVAL = 0.5
OUTPUT_MAX = 64 * 1024 * 1024  # bytes of output kept per attempt
RETENTION = 0.0  # seconds a final job is kept; 0 = keep forever
HISTORY_MAX = 100  # attempts kept in full per job

# -- bounds that keep every number finite and every worker alive (SPEC 9.4) --
MAX_RETRIES_LIMIT = 1_000_000
PRIORITY_LIMIT = 1_000_000_000  # every store keeps it in a 64-bit integer with room to spare
TIMEOUT_LIMIT = 30 * DAY_SECONDS  # a job's timeout and job_timeout
BACKOFF_BASE_LIMIT = 1000.0
BACKOFF_MAX_LIMIT = 30 * DAY_SECONDS
LEASE_SECONDS_RANGE = (1.0, 3600.0)
POLL_INTERVAL_RANGE = (0.01, 60.0)
OUTPUT_MAX_RANGE = (1024, 1024 ** 4)  # 1 KiB to 1 TiB
RETENTION_LIMIT = 3650 * DAY_SECONDS
HISTORY_MAX_RANGE = (1, 10_000)
ERROR_MAX = 1024  # characters kept of an error text (an attempt's error, a job's last_error)
COMMAND_MAX_BYTES = 128 * 1024 - 1  # Linux's MAX_ARG_STRLEN (128 KiB) counts the closing NUL: /bin/sh -c takes no more
ID_MAX_LENGTH = 128
UNIQUE_KEY_MAX_LENGTH = 256
LATEST_YEAR = 9999  # run_at and --delay must land within it
DURATION_LIMIT = 3_652_058 * DAY_SECONDS  # the whole calendar, years 1-9999: no duration is longer
LIST_LIMIT_MAX = 1_000_000  # list --limit, dlq list --limit
QUOTE_WIDTH = 80  # characters of a user's value an error message quotes
DEPENDENCIES_MAX = 100  # jobs one job may wait for (``enqueue --after``)
PAUSED_QUEUES_MAX = 1000  # queues paused by name (every claim reads them)
QUEUE_LIMIT_MAX = 100_000  # ``queue limit NAME N``: jobs of one queue running at once
SLOTS_MAX = 256  # ``worker run --concurrency M``: jobs one worker process runs at once
LIMITED_QUEUES_MAX = 1000  # queues with a limit (a claim that may take from them reads them all)

# -- other defaults -----------------------------------------------------------
DEFAULT_QUEUE = "default"
LIST_LIMIT = 100  # jobs a listing returns unless told (``list --limit``, ``Page``)
STATS_WINDOW_SECONDS = 3600.0
PRUNE_OLDER_THAN = 7 * DAY_SECONDS  # ``prune`` without --older-than
PRUNE_BATCH = 500  # jobs deleted per store call by prune and retention
RETENTION_INTERVAL_SECONDS = 300.0  # how often a worker prunes past ``retention``
RECOVERY_BATCH = 100  # jobs with an expired lease recovered per heartbeat
COMPLETION_LIMIT = 50  # job ids the shell's tab completion offers at most
COMPLETION_SECONDS = 0.5  # how long the shell's completion waits for the store before offering nothing
SCHEDULE_CHECK_SECONDS = 1.0  # a worker asks the store for due schedules at most this often
SCHEDULE_BATCH = 100  # due schedules run per check

# -- how a worker paces itself (not settings: tuned here, read by the worker) --
SETTINGS_REFRESH_SECONDS = 5.0  # a worker re-reads the stored settings this often
# A worker may claim ahead as many jobs as it expects to finish in PREFETCH_WINDOW seconds
# (from how long its recent jobs took), at most PREFETCH_MAX.
PREFETCH_WINDOW = 0.02
PREFETCH_MAX = 16
OUTAGE_RETRY_FIRST_SECONDS = 0.1  # the first pause after a store call failed; doubles each time
OUTAGE_RETRY_CAP_SECONDS = 5.0  # and never grows past this
KILL_GRACE_SECONDS = 2.0  # between SIGTERM to a command's process group and SIGKILL
WORKER_START_DEADLINE_SECONDS = 20.0  # ``worker start`` waits this long for each worker to register

# -- timeouts of the stores and servers ---------------------------------------------
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0  # a write waits this long for SQLite's lock (URL: ?timeout=S)
MONGO_TIMEOUT_SECONDS = 4.0  # server selection and connecting, unless the URL sets them
MONGO_DATABASE = "queuectl"  # when the URL names none
DASHBOARD_SHUTDOWN_SECONDS = 5  # open connections get this long once the dashboard is asked to stop

# -- a job's context (SPEC 9.1) -----------------------------------------------
CWD_MAX_BYTES = 4096  # a job's working directory (Linux's PATH_MAX)
ENV_MAX_VARIABLES = 100  # variables a job may add to the worker's environment
ENV_MAX_BYTES = 64 * 1024  # all of them together, as NAME=VALUE bytes
