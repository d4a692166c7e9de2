"""The composition root: the one module that knows every adapter.

Nothing connects and no adapter module is imported until a provider is
called, so ``queuectl --help`` stays fast and a SQLite user never imports
pymongo. Tests swap parts with ``provider.override(...)``.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from queuectl.di_import import import_dependency_injector

containers, providers = import_dependency_injector()

from queuectl.domain.errors import UnsupportedStore  # noqa: E402
from queuectl.domain.queue_service import QueueService  # noqa: E402
from queuectl.domain.schedule_service import ScheduleRunner, ScheduleService  # noqa: E402
from queuectl.domain.services import ConfigService, JobService, StatsService  # noqa: E402
from queuectl.domain.urls import home_store_url  # noqa: E402
from queuectl.domain.worker_admin import WorkerAdmin  # noqa: E402

STORE_KINDS = {"sqlite": "sqlite", "mongodb": "mongodb", "mongodb+srv": "mongodb", "memory": "memory",
               "postgresql": "postgresql", "postgresql+psycopg": "postgresql"}


def store_kind(url: str) -> str:
    """The Selector key for a store URL: its scheme, mongodb+srv folded into mongodb, postgresql+psycopg into postgresql."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    try:
        return STORE_KINDS[scheme]
    except KeyError:
        raise UnsupportedStore(
            f"unsupported store URL scheme '{scheme or url}': use sqlite:///PATH, mongodb://, mongodb+srv:// or postgresql://"
        ) from None


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """A factory that imports its adapter only when first called."""

    def build(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    build.__qualname__ = f"{module}.{name}"
    return build


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()

    clock = providers.Singleton(_lazy("queuectl.adapters.clock", "SystemClock"))
    store = providers.Selector(
        config.store_kind,
        sqlite=providers.Singleton(_lazy("queuectl.adapters.sqlite", "SqliteStore"), url=config.url,
                                   home_store=config.home_store, one_connection=config.one_connection),
        mongodb=providers.Singleton(_lazy("queuectl.adapters.mongo", "MongoStore"), url=config.url),
        postgresql=providers.Singleton(_lazy("queuectl.adapters.postgres", "PostgresStore"), url=config.url),
        memory=providers.Singleton(_lazy("queuectl.adapters.memory", "InMemoryStore"), url=config.url),
    )
    notifier = providers.Singleton(_lazy("queuectl.adapters.wakeup", "WakeNotifier"), home=config.home)
    outputs = providers.Singleton(_lazy("queuectl.adapters.output_files", "LocalOutputFiles"), home=config.home)
    outcome_waiter = providers.Factory(_lazy("queuectl.adapters.outcome_wakeup", "OutcomeWaitChannel"),
                                       home=config.home)
    jobs = providers.Factory(JobService, store=store, clock=clock, notifier=notifier, outputs=outputs,
                             waiters=outcome_waiter.provider)
    settings = providers.Factory(ConfigService, store=store)
    queues = providers.Factory(QueueService, store=store, notifier=notifier)
    stats = providers.Factory(StatsService, store=store, clock=clock)
    calendar = providers.Singleton(_lazy("queuectl.adapters.cron_calendar", "CroniterCalendar"))
    schedules = providers.Factory(ScheduleService, store=store, clock=clock, calendar=calendar)
    scheduler = providers.Factory(ScheduleRunner, store=store, calendar=calendar, notifier=notifier)
    processes = providers.Singleton(_lazy("queuectl.adapters.process_control", "OsProcessControl"),
                                    home=config.home)
    worker_admin = providers.Factory(WorkerAdmin, store=store, processes=processes, clock=clock)

    # The worker process: called with the worker's own name / channel / info.
    # Wake-ups from other hosts: a change stream on MongoDB; SQLite and memory live on one host.
    # PostgreSQL: LISTEN queuectl_jobs, which the store notifies on commit.
    remote_wakeups = providers.Selector(
        config.store_kind,
        mongodb=providers.Factory(_lazy("queuectl.adapters.mongo.wakeups", "change_watch"), store=store),
        postgresql=providers.Factory(_lazy("queuectl.adapters.postgres.wakeups", "listen_watch"), store=store),
        sqlite=providers.Object(None), memory=providers.Object(None))
    wake_channel = providers.Factory(_lazy("queuectl.adapters.wakeup", "WakeChannel"), home=config.home,
                                     remote=remote_wakeups)
    runner = providers.Factory(_lazy("queuectl.adapters.shell_runner", "ShellRunner"), home=config.home,
                               store_url=config.url)
    # A worker's outcome waits for its next claim only where that claim is one local transaction.
    outcomes_ride_with_claim = providers.Selector(config.store_kind, sqlite=providers.Object(True),
                                                  mongodb=providers.Object(False), memory=providers.Object(True),
                                                  postgresql=providers.Object(False))
    worker = providers.Factory(_lazy("queuectl.domain.execution", "Worker"), store=store, clock=clock,
                               outputs=outputs, outcomes_ride_with_claim=outcomes_ride_with_claim,
                               notifier=notifier, scheduler=scheduler)
    # ``--concurrency`` above 1 (``domain/slots.py``): the dispatcher, and one executor and waker per slot.
    slot_pool = providers.Factory(_lazy("queuectl.domain.slots", "SlotPool"), store=store, clock=clock,
                                  outputs=outputs, notifier=notifier, scheduler=scheduler)
    slot_worker = providers.Factory(_lazy("queuectl.domain.slots", "SlotWorker"), store=store, clock=clock,
                                    outputs=outputs, notifier=notifier)
    slot_waker = providers.Factory(_lazy("queuectl.adapters.wakeup", "LocalWaker"))


def take_handed_url() -> str | None:
    """In a worker that ``worker start`` launched: its store URL, handed by pipe (None otherwise)."""
    from queuectl.adapters.processes import take_handed_url as take

    return take()


def build_container(url: str, home: str) -> Container:
    container = Container()
    container.config.from_dict({"url": url, "home": home, "store_kind": store_kind(url),
                                "home_store": url == home_store_url(home),
                                # True in a worker with slots: its threads share one SQLite connection
                                "one_connection": False})
    return container
