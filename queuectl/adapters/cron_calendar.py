"""CroniterCalendar: the ``CronCalendar`` port on croniter (five fields only, any IANA time zone).

Ticks are computed in the schedule's zone (so ``0 9 * * *`` in Europe/Paris
follows daylight saving) and returned in UTC. croniter's errors leave as
``InvalidSchedule``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import CroniterError, croniter

from queuectl.domain.errors import InvalidSchedule
from queuectl.domain.ports import CronCalendar
from queuectl.domain.quoting import quoted
from queuectl.domain.schedules import check_cron_shape

_JUST_AFTER = timedelta(microseconds=1)


class CroniterCalendar(CronCalendar):
    def validate(self, expr: str, tz: str) -> None:
        self.next_after(expr, tz, datetime.now(timezone.utc))

    def next_after(self, expr: str, tz: str, t: datetime) -> datetime:
        return self._step(expr, tz, t, forward=True)

    def last_at_or_before(self, expr: str, tz: str, t: datetime) -> datetime | None:
        try:
            return self._step(expr, tz, t + _JUST_AFTER, forward=False)
        except InvalidSchedule:
            return None

    @staticmethod
    def _step(expr: str, tz: str, t: datetime, forward: bool) -> datetime:
        expr = check_cron_shape(expr)  # croniter also takes six or seven fields and @-words
        try:
            ticks = croniter(expr, t.astimezone(ZoneInfo(tz)))
            tick = ticks.get_next(datetime) if forward else ticks.get_prev(datetime)
        except (CroniterError, ValueError, KeyError, TypeError, OverflowError) as error:  # KeyError: no such zone
            raise InvalidSchedule(f"invalid cron expression {quoted(expr)}: {_reason(error)}") from None
        return tick.astimezone(timezone.utc)


def _reason(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return "it never matches a date" if "failed to find" in text else text
