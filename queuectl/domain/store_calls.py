"""Store calls through an outage: the worker's settings and every call retried while the store is out."""

from __future__ import annotations

from datetime import datetime
from typing import Callable, TypeVar

from . import defaults
from .errors import StoreUnavailable
from .outage import Outage
from .ports import Clock, Store, Waiter
from .settings import Settings

T = TypeVar("T")


class StoreCalls:
    """Mixed into ``Worker``: the store, the clock and the outage it rides out."""

    store: Store
    clock: Clock
    waiter: Waiter
    outage: Outage
    _settings: Settings | None
    _settings_at: datetime | None
    stopping: bool

    def settings(self, now: datetime) -> Settings:
        """The stored settings, re-read every few seconds; the last ones read while the store is out.

        A read that succeeds does not end an outage: SQLite serves reads while
        another process holds the write lock.
        """
        if self._settings is not None and (now - self._settings_at).total_seconds() < defaults.SETTINGS_REFRESH_SECONDS:
            return self._settings
        if self._settings is None:
            stored = self._call(self.store.settings.load)
        else:
            try:
                stored = self.store.settings.load()
            except StoreUnavailable as error:
                self.outage.failed(error, now)
                self._settings_at = now
                return self._settings
        self._settings, self._settings_at = Settings.from_stored(stored), now
        return self._settings

    def _call(self, action: Callable[[], T], patient: bool = True) -> T:
        """``action()``, tried again with backoff while the store is unavailable.

        Gives up (raises ``StoreUnavailable``) at once when not ``patient``,
        else once the worker is asked to stop. ``action`` is called afresh
        each time, so it reads the clock itself.
        """
        while True:
            try:
                result = action()
            except StoreUnavailable as error:
                pause = self.outage.failed(error, self.clock.now())
                if self.stopping or not patient:
                    raise
                self.waiter.wait(pause)
                continue
            self._answered()
            return result

    def _answered(self) -> None:
        if self.outage.down:
            self.outage.answered(self.clock.now())
