"""Schedules as ``schedule list`` shows them: a table, or JSON objects."""

from __future__ import annotations

from typing import Any, Sequence

from queuectl.domain.schedules import Schedule
from queuectl.domain.timeutil import format_time

from .render import COMMAND_WIDTH, table, truncate


def schedule_dict(schedule: Schedule) -> dict[str, Any]:
    return {"name": schedule.name, "cron": schedule.cron, "tz": schedule.tz, "paused": schedule.paused,
            "next_run": format_time(schedule.next_run), "last_run": format_time(schedule.last_run),
            "created_at": format_time(schedule.created_at), "job": dict(schedule.job)}


def schedules_table(schedules: Sequence[Schedule]) -> str:
    if not schedules:
        return "No schedules."
    rows = [(s.name, s.cron, s.tz, "paused" if s.paused else "active", format_time(s.next_run),
             format_time(s.last_run) or "-", s.job.get("queue"), truncate(str(s.job.get("command")), COMMAND_WIDTH))
            for s in schedules]
    return table(("NAME", "CRON", "TZ", "STATE", "NEXT_RUN", "LAST_RUN", "QUEUE", "COMMAND"), rows)
