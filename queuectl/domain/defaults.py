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
BACKOFF_JITTER = 0.0
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
COMMAND_MAX_BYTES = 128 * 1024  # a longer argument cannot reach /bin/sh -c (Linux MAX_ARG_STRLEN)
ID_MAX_LENGTH = 128
LATEST_YEAR = 9999  # run_at and --delay must land within it
DURATION_LIMIT = 3_652_058 * DAY_SECONDS  # the whole calendar, years 1-9999: no duration is longer
LIST_LIMIT_MAX = 1_000_000  # list --limit, dlq list --limit
QUOTE_WIDTH = 80  # characters of a user's value an error message quotes

# -- other defaults -----------------------------------------------------------
DEFAULT_QUEUE = "default"
LIST_LIMIT = 100
STATS_WINDOW_SECONDS = 3600.0
PRUNE_OLDER_THAN = 7 * DAY_SECONDS  # ``prune`` without --older-than
PRUNE_BATCH = 500  # jobs deleted per store call by prune and retention
RETENTION_INTERVAL_SECONDS = 300.0  # how often a worker prunes past ``retention``
