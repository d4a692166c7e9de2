"""The composition root: the one module that knows every adapter.

Nothing connects and no adapter module is imported until a provider is
called, so ``queuectl --help`` stays fast and a SQLite user never imports
pymongo. Tests swap parts with ``provider.override(...)``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any, Callable

# Integrations dependency-injector probes for when it is imported: we use none
# of them, and where they are installed the probes alone cost ~0.14 s and
# ~10 MB in every queuectl process.
_UNUSED_INTEGRATIONS = ("pydantic_settings", "yaml", "werkzeug", "werkzeug.local", "fastapi",
                        "fastapi.params", "fast_depends", "starlette", "starlette.requests")
# It also imports asyncio, which imports ssl (OpenSSL: ~8 ms and ~4 MB per
# process) only for TLS transports. No queuectl process runs TLS through
# asyncio (the dashboard serves plain HTTP on loopback; pymongo's synchronous
# client does its own TLS), so asyncio is loaded with ssl hidden too.
_ASYNCIO_TLS = ("ssl",)


def _import_dependency_injector() -> tuple[Any, Any]:
    """Import dependency-injector with its optional integrations hidden, then unhide them.

    Hidden modules are only absent while it imports (it asks once, then never
    again), so a later ``import starlette`` by the dashboard works as usual.
    Its pydantic probe is answered by a stand-in reporting a version it
    ignores, because that probe cannot take "absent" for an answer.
    """
    if "dependency_injector.containers" in sys.modules:
        from dependency_injector import containers, providers
        return containers, providers
    hidden = [name for name in _UNUSED_INTEGRATIONS if name not in sys.modules]
    if "asyncio" not in sys.modules:
        hidden += [name for name in _ASYNCIO_TLS if name not in sys.modules]
    stand_in = "pydantic" not in sys.modules
    sys.modules.update(dict.fromkeys(hidden))  # type: ignore[arg-type]
    if stand_in:
        sys.modules["pydantic"] = types.SimpleNamespace(VERSION="2 (not loaded)")  # type: ignore[assignment]
    try:
        from dependency_injector import containers, providers
    finally:
        for name in hidden + (["pydantic"] if stand_in else []):
            sys.modules.pop(name, None)
    return containers, providers


containers, providers = _import_dependency_injector()

from queuectl.domain.errors import UnsupportedStore  # noqa: E402
from queuectl.domain.services import ConfigService, JobService, StatsService  # noqa: E402
from queuectl.domain.urls import home_store_url  # noqa: E402
from queuectl.domain.worker_admin import WorkerAdmin  # noqa: E402

STORE_KINDS = {"sqlite": "sqlite", "mongodb": "mongodb", "mongodb+srv": "mongodb", "memory": "memory"}


def store_kind(url: str) -> str:
    """The Selector key for a store URL: its scheme, with mongodb+srv folded into mongodb."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    try:
        return STORE_KINDS[scheme]
    except KeyError:
        raise UnsupportedStore(
            f"unsupported store URL scheme '{scheme or url}': use sqlite:///PATH, mongodb:// or mongodb+srv://"
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
                                   home_store=config.home_store),
        mongodb=providers.Singleton(_lazy("queuectl.adapters.mongo", "MongoStore"), url=config.url),
        memory=providers.Singleton(_lazy("queuectl.adapters.memory", "InMemoryStore"), url=config.url),
    )
    notifier = providers.Singleton(_lazy("queuectl.adapters.wakeup", "WakeNotifier"), home=config.home)
    jobs = providers.Factory(JobService, store=store, clock=clock, notifier=notifier)
    settings = providers.Factory(ConfigService, store=store)
    stats = providers.Factory(StatsService, store=store, clock=clock)
    processes = providers.Singleton(_lazy("queuectl.adapters.process_control", "OsProcessControl"), home=config.home)
    worker_admin = providers.Factory(WorkerAdmin, store=store, processes=processes, clock=clock)

    # The worker process: called with the worker's own name / channel / info.
    wake_channel = providers.Factory(_lazy("queuectl.adapters.wakeup", "WakeChannel"), home=config.home)
    runner = providers.Factory(_lazy("queuectl.adapters.shell_runner", "ShellRunner"), home=config.home,
                               store_url=config.url)
    worker = providers.Factory(_lazy("queuectl.domain.execution", "Worker"), store=store, clock=clock)


def take_handed_url() -> str | None:
    """In a worker that ``worker start`` launched: its store URL, handed by pipe (None otherwise)."""
    from queuectl.adapters.processes import take_handed_url as take

    return take()


def build_container(url: str, home: str) -> Container:
    container = Container()
    container.config.from_dict({"url": url, "home": home, "store_kind": store_kind(url),
                                "home_store": url == home_store_url(home)})
    return container
