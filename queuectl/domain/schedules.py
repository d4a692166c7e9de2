"""Schedules (SPEC 9.3): a job enqueued on every tick of a five-field cron expression.

A schedule stores the job to enqueue as the fields ``enqueue`` takes (checked by
the same ``spec_from_mapping``), its expression and time zone, and ``next_run``,
the next tick (UTC). A run's job id is ``NAME@<tick>`` (``run_id``), so the
store's unique job id guards against a second enqueue of one tick; a lease on
the schedule (``ScheduleRepository.take``) lets one worker at a time advance it.
Ticks missed while no worker ran collapse into one run, of the latest missed
tick (``Schedule.due_run``). The cron arithmetic is behind the ``CronCalendar``
port (croniter, in ``adapters/``): this module stays standard-library only.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Mapping

from . import defaults
from .errors import InvalidJob, InvalidSchedule
from .model import RUN_ID_SUFFIX_LENGTH
from .quoting import quoted
from .specs import JobSpec, spec_from_mapping

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .ports import CronCalendar

NAME_MAX_LENGTH = defaults.ID_MAX_LENGTH - RUN_ID_SUFFIX_LENGTH  # room for "@20261201T1000Z"
_NAME = re.compile(rf"[A-Za-z0-9._:-]{{1,{NAME_MAX_LENGTH}}}")
CRON_MAX_LENGTH = 200
_CRON_SHAPE = re.compile(r"[!-~]+(?: +[!-~]+){4}")  # five fields of printable ASCII, single line
_ZONE = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+){0,3}")
ZONE_MAX_LENGTH = 64
UTC = "UTC"
_NOT_JOB_FIELDS = ("id", "run_at", "delay")  # a run's id and time come from its tick


def validate_name(value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidSchedule(f"invalid schedule name {quoted(value)}: use 1-{NAME_MAX_LENGTH} characters "
                              "of A-Z a-z 0-9 . _ : -")
    return value


def check_cron_shape(value: object) -> str:
    """Five space-separated fields (the calendar checks what they mean)."""
    if (not isinstance(value, str) or len(value) > CRON_MAX_LENGTH
            or not _CRON_SHAPE.fullmatch(value.strip(" "))):
        raise InvalidSchedule(f"invalid cron expression {quoted(value)}: give five fields, "
                              "minute hour day-of-month month day-of-week, e.g. '0 3 * * *'")
    return value.strip(" ")


def validate_zone(value: object) -> str:
    """An IANA time zone name (zoneinfo) such as ``Europe/Paris``; ``UTC`` by default."""
    if isinstance(value, str) and len(value) <= ZONE_MAX_LENGTH and _ZONE.fullmatch(value):
        try:
            zoneinfo.ZoneInfo(value)
            return value
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise InvalidSchedule(f"unknown time zone {quoted(value)}: give an IANA name such as Europe/Paris or UTC")


def run_id(name: str, tick: datetime) -> str:
    """``NAME@20261201T1000Z``: the job id of the run of ``name`` at ``tick``."""
    return f"{name}@{tick.astimezone(timezone.utc).strftime('%Y%m%dT%H%MZ')}"


def job_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The job a schedule enqueues, checked as ``enqueue`` checks one; JSON-ready (what stores keep)."""
    given = sorted(name for name in _NOT_JOB_FIELDS if data.get(name) is not None)
    if given:
        raise InvalidJob(f"a schedule's job takes no {', '.join(quoted(name) for name in given)}: "
                         "each run's id and time come from its tick")
    spec = spec_from_mapping(data)
    return {"command": spec.command, "queue": spec.queue, "priority": spec.priority,
            "max_retries": spec.max_retries, "timeout": spec.timeout, "cwd": spec.cwd, "env": dict(spec.env)}


@dataclass(frozen=True)
class Run:
    """What a due schedule does now: enqueue ``job_id`` (the tick's run), then wait for ``next_run``."""

    tick: datetime
    job_id: str
    next_run: datetime


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str
    job: Mapping[str, Any]  # ``job_fields``
    next_run: datetime
    created_at: datetime
    tz: str = UTC
    paused: bool = False
    last_run: datetime | None = None  # the tick of the last run enqueued
    lease_until: datetime | None = None  # a worker is advancing it until then
    lease_token: str | None = None

    @classmethod
    def new(cls, name: str, cron: str, job: Mapping[str, Any], now: datetime, calendar: CronCalendar,
            tz: str = UTC) -> "Schedule":
        """Checked; its first run is the first tick after ``now``."""
        name, cron, tz = validate_name(name), check_cron_shape(cron), validate_zone(tz)
        calendar.validate(cron, tz)
        return cls(name=name, cron=cron, job=job_fields(job), next_run=calendar.next_after(cron, tz, now),
                   created_at=now, tz=tz)

    def due_run(self, now: datetime, calendar: CronCalendar) -> Run | None:
        """The run due at ``now``, if any: the latest tick at or before ``now`` (missed ticks collapse)."""
        if self.paused or self.next_run > now:
            return None
        tick = max(self.next_run, calendar.last_at_or_before(self.cron, self.tz, now) or self.next_run)
        return Run(tick, run_id(self.name, tick), calendar.next_after(self.cron, self.tz, tick))

    def job_spec(self, tick: datetime) -> JobSpec:
        """The run's job, due now, checked again (the stored fields may come from an older version)."""
        if not isinstance(self.job, Mapping):
            raise InvalidJob(f"the stored job is not an object: {quoted(self.job)}")
        return spec_from_mapping({**self.job, "id": run_id(self.name, tick)})

    def lease_free(self, now: datetime) -> bool:
        return self.lease_until is None or self.lease_until <= now
