"""Turn domain values into text for people (aligned tables) and JSON for programs.

Pure functions returning strings; the commands echo them. Times are UTC
ISO-8601 with milliseconds and ``Z``; states are their plain word; whole
floats print as integers (``3`` not ``3.0``).
"""

from __future__ import annotations

import json
import shlex
from typing import Any, Iterable, Mapping, Sequence

from queuectl.domain.model import WAITING, Attempt, Job, JobState
from queuectl.domain.ports import WorkerInfo
from queuectl.domain.quoting import printable
from queuectl.domain.services import RunningJob, Status
from queuectl.domain.stats import QueueStats
from queuectl.domain.timeutil import format_time

from .render_queues import paused_dict, paused_line

COMMAND_WIDTH = 40
COMMAND_MIN_WIDTH = 20  # status cuts a running command to the terminal, never below this
ERROR_WIDTH = 60
NONE = "-"


# -- values ------------------------------------------------------------------
def natural(value: Any) -> Any:
    """Whole floats as ints, everything else unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def text(value: Any) -> str:
    if value is None:
        return NONE
    return str(natural(value))


def truncate(value: str | None, width: int) -> str:
    """One line of at most ``width`` characters; control characters escaped, never sent to the terminal."""
    if not value:
        return NONE
    flat = printable(" ".join(value.split()))
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def seconds_text(value: float | None) -> str:
    """A duration for people: ``350ms``, ``12.5s``, ``4m 05s``, ``1h``, ``2h 03m``, ``3d 04h``."""
    if value is None:
        return NONE
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 60:
        return f"{value:.1f}".removesuffix(".0") + "s"
    whole = int(value)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1)):
        if whole >= size:
            rest = (whole % size) // sub_size
            return f"{whole // size}{unit} {rest:02d}{sub}" if rest else f"{whole // size}{unit}"
    return f"{whole}s"  # pragma: no cover - every value >= 60 matched above


def _rounded(value: float | None, places: int = 3) -> float | int | None:
    return None if value is None else natural(round(value, places))


def to_json(value: Any) -> str:
    """Strict JSON: every number shown is finite by construction, and a NaN would be a bug to hear about."""
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)


# -- JSON objects (SPEC section 5) ---------------------------------------------
def attempt_dict(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt, "worker": attempt.worker, "host": attempt.host,
        "started_at": format_time(attempt.started_at), "finished_at": format_time(attempt.finished_at),
        "exit_code": attempt.exit_code, "error": attempt.error,
    }


def job_dict(job: Job, history: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": job.id, "command": job.command, "state": job.state.value, "attempts": job.attempts,
        "max_retries": job.max_retries, "priority": job.priority, "queue": job.queue,
        "run_at": format_time(job.run_at), "timeout": natural(job.timeout),
        "created_at": format_time(job.created_at), "updated_at": format_time(job.updated_at),
        "started_at": format_time(job.started_at), "finished_at": format_time(job.finished_at),
        "exit_code": job.exit_code, "last_error": job.last_error, "worker": job.worker,
        "cwd": job.cwd, "env": dict(job.env), "after": list(job.after),
        "unique_key": job.unique_key, "retry_on": job.retry_on, "no_retry_on": job.no_retry_on,
    }
    if history:
        data["history"] = [attempt_dict(a) for a in job.history]
    return data


def worker_dict(worker: WorkerInfo) -> dict[str, Any]:
    return {
        "id": worker.id, "host": worker.host, "pid": worker.pid, "queues": list(worker.queues),
        "current_job": worker.current_job, "slots": worker.slots, "busy": worker.busy,
        "started_at": format_time(worker.started_at),
        "last_heartbeat": format_time(worker.last_heartbeat),
    }


def status_dict(status: Status) -> dict[str, Any]:
    return {
        "jobs": {state.value: status.jobs.get(state, 0) for state in JobState},
        "workers": [worker_dict(w) for w in status.workers],
        "paused": paused_dict(status.paused),
        "running": [running_dict(r) for r in status.running],
    }


def running_dict(running: RunningJob) -> dict[str, Any]:
    job = running.job
    return {"id": job.id, "worker": job.worker, "host": running.host,
            "queue": job.queue, "started_at": format_time(job.started_at),
            "elapsed_seconds": _rounded(running.elapsed_seconds), "command": job.command}


def stats_dict(stats: QueueStats) -> dict[str, Any]:
    """The ``stats --json`` object; its keys are part of the contract (README, Observability)."""
    durations = stats.durations
    return {
        "now": format_time(stats.now), "since": format_time(stats.since),
        "window_seconds": _rounded(stats.window_seconds),
        "jobs": {state.value: count for state, count in stats.jobs.items()},
        "completed": stats.completed, "failed": stats.failed,
        "completed_per_minute": _rounded(stats.per_minute(stats.completed)),
        "failed_per_minute": _rounded(stats.per_minute(stats.failed)),
        "success_rate": _rounded(stats.success_rate, 4),
        "duration_seconds": {"count": durations.count, "p50": _rounded(durations.p50),
                             "p95": _rounded(durations.p95), "max": _rounded(durations.max)},
        "queue_depth": stats.queue_depth,
        "oldest_waiting_age_seconds": _rounded(stats.oldest_waiting_age),
        "retries_scheduled": stats.retries_scheduled,
        "dlq_size": stats.dlq_size,
        "queues": {queue: {state.value: states.get(state, 0) for state in JobState}
                   for queue, states in sorted(stats.jobs_by_queue.items())},
    }


def stats_text(stats: QueueStats) -> str:
    durations, rate = stats.durations, stats.success_rate
    jobs = ", ".join(f"{state.value} {count}" for state, count in stats.jobs.items())
    rows = [
        ("window", f"last {seconds_text(stats.window_seconds)} (since {format_time(stats.since)})"),
        ("completed", f"{stats.completed} ({stats.per_minute(stats.completed):.2f}/min)"),
        ("failed", f"{stats.failed} ({stats.per_minute(stats.failed):.2f}/min)"),
        ("success_rate", NONE if rate is None else f"{rate * 100:.1f}%"),
        ("duration", f"p50 {seconds_text(durations.p50)}, p95 {seconds_text(durations.p95)}, "
                     f"max {seconds_text(durations.max)} ({durations.count} runs)"),
        ("jobs", jobs),
        ("oldest_waiting", seconds_text(stats.oldest_waiting_age)),
        ("retries_scheduled", stats.retries_scheduled),
        ("dlq_size", stats.dlq_size),
    ]
    width = max(len(key) for key, _ in rows)
    lines = [f"{key.ljust(width)}  {text(value)}" for key, value in rows]
    depth = stats.queue_depth
    lines += ["", table(("QUEUE", "WAITING"), depth.items()) if depth else "No jobs waiting."]
    return "\n".join(lines)


def settings_dict(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: natural(value) for key, value in values.items()}


# -- tables ------------------------------------------------------------------
def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns two spaces apart; the last column is not padded."""
    cells = [list(headers)] + [[text(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def when(job: Job) -> str | None:
    """When a waiting job runs next; for any other job, when it last changed."""
    return format_time(job.run_at if job.state in WAITING else job.updated_at)


def jobs_table(jobs: Sequence[Job]) -> str:
    if not jobs:
        return "No jobs."
    rows = [(j.id, j.state.value, j.attempts, j.priority, j.queue, when(j), truncate(j.command, COMMAND_WIDTH))
            for j in jobs]
    return table(("ID", "STATE", "ATTEMPTS", "PRIORITY", "QUEUE", "RUN_AT/UPDATED", "COMMAND"), rows)


def dead_table(jobs: Sequence[Job]) -> str:
    if not jobs:
        return "The DLQ is empty."
    rows = [(j.id, j.attempts, format_time(j.finished_at or j.updated_at), truncate(j.last_error, ERROR_WIDTH),
             truncate(j.command, COMMAND_WIDTH)) for j in jobs]
    return table(("ID", "ATTEMPTS", "DIED_AT", "LAST_ERROR", "COMMAND"), rows)


def dependencies_list(states: Sequence[tuple[str, JobState | None]]) -> list[dict[str, Any]]:
    """``show --json``'s ``dependencies``: each id with its state now (null: removed since)."""
    return [{"id": job_id, "state": state.value if state else None} for job_id, state in states]


def job_detail(job: Job, dependencies: Sequence[tuple[str, JobState | None]] = ()) -> str:
    """Every field, one per line (control characters escaped), then each dependency with its state,
    then one row per attempt."""
    fields = {**job_dict(job), "env": env_text(job.env), "after": " ".join(job.after) or None}
    width = max(len(key) for key in fields)
    lines = [f"{key.ljust(width)}  {printable(text(value))}" for key, value in fields.items()]
    if dependencies:
        lines += ["", "dependencies:", table(("ID", "STATE"), [(job_id, state.value if state else "(removed)")
                                                               for job_id, state in dependencies])]
    if job.history:
        rows = [(a.attempt, a.worker, a.host, format_time(a.started_at), format_time(a.finished_at),
                 a.exit_code, truncate(a.error, ERROR_WIDTH)) for a in job.history]
        lines += ["", "history:", table(("ATTEMPT", "WORKER", "HOST", "STARTED_AT", "FINISHED_AT",
                                         "EXIT", "ERROR"), rows)]
    else:
        lines += ["", "history: no attempts yet"]
    return "\n".join(lines)


def env_text(env: Mapping[str, str]) -> str | None:
    """A job's variables as a shell would take them: ``CI=1 NAME='two words'``; None for none."""
    return " ".join(printable(f"{name}={shlex.quote(value)}") for name, value in env.items()) or None


def status_text(status: Status) -> str:
    counts = table([state.value.upper() for state in JobState],
                   [[status.jobs.get(state, 0) for state in JobState]])
    counts += f"\n\n{paused_line(status.paused)}" if status.paused.anything else ""
    running = f"\n\n{running_table(status.running)}" if status.running else ""
    if not status.workers:
        return f"{counts}\n\nNo live workers.{running}"
    return f"{counts}\n\n{workers_table(status.workers)}{running}"


def workers_table(workers: Sequence[WorkerInfo]) -> str:
    """One row per worker; SLOTS is busy/total (``--concurrency``)."""
    rows = [(w.id, w.host, w.pid, ",".join(w.queues) or "*", f"{w.busy}/{w.slots}", w.current_job,
             format_time(w.last_heartbeat)) for w in workers]
    return table(("WORKER", "HOST", "PID", "QUEUES", "SLOTS", "CURRENT_JOB", "LAST_HEARTBEAT"), rows)


def running_table(running: Sequence[RunningJob], columns: int | None = None) -> str:
    """Each running job with its elapsed time; the command cut to what is left of the terminal's width."""
    import shutil

    rows = [(r.job.id, r.job.worker, r.host, elapsed_text(r.elapsed_seconds)) for r in running]
    widths = [max(len(text(cell)) for cell in column) for column in zip(("ID", "WORKER", "HOST", "ELAPSED"), *rows)]
    room = max(COMMAND_MIN_WIDTH, (columns or shutil.get_terminal_size().columns) - sum(widths) - 2 * len(widths))
    return table(("ID", "WORKER", "HOST", "ELAPSED", "COMMAND"),
                 [(*row, truncate(r.job.command, room)) for row, r in zip(rows, running)])


def elapsed_text(seconds: float) -> str:
    """``42s``, ``1m 05s``, ``2h 03m``, ``3d 04h``: the two largest units."""
    whole = int(seconds)
    for size, unit, smaller, small in ((86400, "d", 3600, "h"), (3600, "h", 60, "m"), (60, "m", 1, "s")):
        if whole >= size:
            return f"{whole // size}{unit} {whole % size // smaller:02d}{small}"
    return f"{whole}s"


def settings_table(values: Mapping[str, Any]) -> str:
    return table(("KEY", "VALUE"), settings_dict(values).items())
