"""The only place that reads the wall clock."""

from __future__ import annotations

from datetime import datetime, timezone

from queuectl.domain.ports import Clock


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(timezone.utc)
