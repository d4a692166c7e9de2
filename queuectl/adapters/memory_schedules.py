"""InMemoryScheduleRepository: schedules of the in-memory store, each call under one lock."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from queuectl.domain.errors import DuplicateSchedule, ScheduleNotFound
from queuectl.domain.ports import ScheduleRepository
from queuectl.domain.schedules import Schedule


class InMemoryScheduleRepository(ScheduleRepository):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._schedules: dict[str, Schedule] = {}

    def add(self, schedule: Schedule) -> None:
        with self._lock:
            if schedule.name in self._schedules:
                raise DuplicateSchedule(schedule.name)
            self._schedules[schedule.name] = schedule

    def get(self, name: str) -> Schedule:
        with self._lock:
            return self._get(name)

    def _get(self, name: str) -> Schedule:
        try:
            return self._schedules[name]
        except KeyError:
            raise ScheduleNotFound(name) from None

    def list(self) -> list[Schedule]:
        with self._lock:
            return [self._schedules[name] for name in sorted(self._schedules)]

    def remove(self, name: str) -> Schedule:
        with self._lock:
            return self._schedules.pop(self._get(name).name)

    def set_paused(self, name: str, paused: bool, next_run: datetime | None = None) -> Schedule:
        with self._lock:
            schedule = replace(self._get(name), paused=paused)
            if next_run is not None:
                schedule = replace(schedule, next_run=next_run)
            self._schedules[name] = schedule
            return schedule

    def due(self, now: datetime, limit: int) -> list[Schedule]:
        with self._lock:
            due = [s for s in self._schedules.values() if not s.paused and s.next_run <= now and s.lease_free(now)]
        return sorted(due, key=lambda s: (s.next_run, s.name))[:limit]

    def take(self, name: str, now: datetime, until: datetime, token: str) -> Schedule | None:
        with self._lock:
            schedule = self._schedules.get(name)
            if schedule is None or schedule.paused or schedule.next_run > now or not schedule.lease_free(now):
                return None
            schedule = replace(schedule, lease_until=until, lease_token=token)
            self._schedules[name] = schedule
            return schedule

    def advance(self, name: str, token: str, last_run: datetime, next_run: datetime) -> bool:
        with self._lock:
            schedule = self._schedules.get(name)
            if schedule is None or schedule.lease_token != token:
                return False
            self._schedules[name] = replace(schedule, last_run=last_run, next_run=next_run,
                                            lease_until=None, lease_token=None)
            return True
