"""What every command shares: the global options and a lazily built container.

``AppState`` is the click context ``obj``. Nothing is resolved, created or
connected until a command asks for a service, so ``--help`` and usage errors
cost nothing. Tests pass ``AppState(container=...)`` with overridden providers.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import locations

if TYPE_CHECKING:  # pragma: no cover - typing only; the container is imported lazily
    from queuectl.container import Container
    from queuectl.domain.queue_service import QueueService
    from queuectl.domain.schedule_service import ScheduleService
    from queuectl.domain.services import ConfigService, JobService, StatsService

class AppState:
    def __init__(self, container: "Container | None" = None, home: str | None = None,
                 db: str | None = None) -> None:
        self.home_option = home
        self.db_option = db
        self.in_shell = False
        self._container = container
        self._locations: locations.Locations | None = None
        self._store_used = False
        self._building = threading.Lock()

    # -- where -------------------------------------------------------------
    @property
    def locations(self) -> locations.Locations:
        if self._locations is None:
            self._locations = locations.resolve(self.home_option, self.db_option)
            for notice in self._locations.notices:  # an ignored .env; where .env put the store
                click.echo(notice, err=True)
        return self._locations

    @property
    def home(self) -> Path:
        """The queue home, created (0700) on first use."""
        return locations.ensure_home(self.locations.home)

    @property
    def url(self) -> str | None:
        """The store URL these options and this environment name (None if it cannot be told)."""
        try:
            return self.locations.url
        except (OSError, RuntimeError):
            return None

    # -- what --------------------------------------------------------------
    @property
    def container(self) -> "Container":
        with self._building:  # the shell's completion thread may ask first
            if self._container is None:
                from queuectl.container import build_container

                home = self.home
                self._container = build_container(self.locations.url, str(home))
        return self._container

    def jobs(self) -> "JobService":
        service = self.container.jobs()
        self._store_used = True  # only once the store opened without error
        return service

    def config(self) -> "ConfigService":
        service = self.container.settings()
        self._store_used = True
        return service

    def queues(self) -> "QueueService":
        service = self.container.queues()
        self._store_used = True
        return service

    def stats(self) -> "StatsService":
        service = self.container.stats()
        self._store_used = True
        return service

    def schedules(self) -> "ScheduleService":
        service = self.container.schedules()
        self._store_used = True
        return service

    def close(self) -> None:
        """Release the store connection if a command opened one."""
        if self._store_used and self._container is not None:
            self._store_used = False
            self._container.store().close()


pass_app = click.make_pass_decorator(AppState, ensure=True)
