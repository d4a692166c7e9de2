"""Schedules: the use cases behind ``schedule add/list/remove/pause/resume``, and the runs a worker enqueues.

``ScheduleRunner`` is what every worker does in its upkeep, at most every
``defaults.SCHEDULE_CHECK_SECONDS``: one indexed query for due schedules; for
each, take its lease (one compare-and-set), enqueue the tick's run under its
deterministic id (a duplicate id means another worker already did), advance
it. However many workers race, each tick is enqueued once. A store error or a
bad stored schedule is logged and skipped, never raised into the worker.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any, Mapping

from . import defaults
from .errors import DuplicateJob, InvalidJob, InvalidSchedule, QueuectlError, StoreLost, StoreUnavailable
from .ports import Clock, CronCalendar, Notifier, Store
from .schedules import UTC, Schedule, validate_name
from .settings import Settings

log = logging.getLogger(__name__)


class ScheduleService:
    def __init__(self, store: Store, clock: Clock, calendar: CronCalendar) -> None:
        self.store = store
        self.clock = clock
        self.calendar = calendar

    def add(self, name: str, cron: str, job: Mapping[str, Any], tz: str = UTC) -> Schedule:
        """A new schedule (checked; nothing stored if the name is taken); its first run is the next tick."""
        schedule = Schedule.new(name, cron, job, self.clock.now(), self.calendar, tz)
        self.store.create()
        self.store.schedules.add(schedule)
        return schedule

    def list(self) -> list[Schedule]:
        return self.store.schedules.list()

    def remove(self, name: str) -> Schedule:
        """Runs already enqueued stay."""
        return self.store.schedules.remove(validate_name(name))

    def pause(self, name: str) -> Schedule:
        return self.store.schedules.set_paused(validate_name(name), True)

    def resume(self, name: str) -> Schedule:
        """Runs again from the next tick after now: ticks missed while paused are not replayed."""
        schedule = self.store.schedules.get(validate_name(name))
        next_run = self.calendar.next_after(schedule.cron, schedule.tz, self.clock.now())
        return self.store.schedules.set_paused(name, False, next_run)


class ScheduleRunner:
    """Enqueues the due runs of every schedule, exactly once per tick across workers and hosts."""

    def __init__(self, store: Store, calendar: CronCalendar, notifier: Notifier | None = None) -> None:
        self.store = store
        self.calendar = calendar
        self.notifier = notifier
        self._check_at: datetime | None = None

    def run_due(self, now: datetime, settings: Settings) -> list[str]:
        """The ids of the runs this call enqueued; at most one store query per check interval."""
        if self._check_at is not None and now < self._check_at:
            return []
        self._check_at = now + timedelta(seconds=defaults.SCHEDULE_CHECK_SECONDS)
        enqueued: list[str] = []
        try:
            for schedule in self.store.schedules.due(now, defaults.SCHEDULE_BATCH):
                job_id = self._run_logged(schedule, now, settings)
                if job_id is not None:
                    enqueued.append(job_id)
        except StoreUnavailable as error:
            log.warning("schedules: store unavailable (%s); trying again later", error)
        if enqueued and self.notifier is not None:
            self.notifier.jobs_changed()
        return enqueued

    def _run_logged(self, schedule: Schedule, now: datetime, settings: Settings) -> str | None:
        try:
            return self._run(schedule, now, settings)
        except (StoreUnavailable, StoreLost):
            raise
        except QueuectlError as error:  # a value the store refuses, say: the next schedule still runs
            log.error("schedule %s: %s; skipped", schedule.name, error)
            return None
        except (TypeError, ValueError, KeyError) as error:  # a stored value of the wrong kind (edited by hand)
            log.error("schedule %s: malformed in the store (%r); skipped", schedule.name, error)
            return None

    def _run(self, schedule: Schedule, now: datetime, settings: Settings) -> str | None:
        """Lease, enqueue, advance; None when another worker has it or it could not run."""
        token = os.urandom(8).hex()
        until = now + timedelta(seconds=settings.lease_seconds)
        taken = self.store.schedules.take(schedule.name, now, until, token)
        if taken is None:
            return None
        try:
            run = taken.due_run(now, self.calendar)
        except InvalidSchedule as error:  # left leased: tried again when the lease ends, not every second
            log.error("schedule %s: %s; skipped", schedule.name, error)
            return None
        if run is None:
            return None
        stored = self._enqueue(taken, run.tick, now, settings)
        if not self.store.schedules.advance(schedule.name, token, run.tick, run.next_run):
            log.warning("schedule %s: lease lost before it advanced", schedule.name)
        return run.job_id if stored else None

    def _enqueue(self, schedule: Schedule, tick: datetime, now: datetime, settings: Settings) -> bool:
        try:
            self.store.jobs.add(schedule.job_spec(tick).to_job(now, settings))
        except DuplicateJob:
            return False  # another worker enqueued this tick
        except InvalidJob as error:
            log.error("schedule %s: its job is invalid (%s); run at %s skipped", schedule.name, error, tick)
            return False
        log.info("schedule %s: enqueued run of %s", schedule.name, tick.isoformat())
        return True
