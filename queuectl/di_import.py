"""Importing dependency-injector without the integrations it probes for (the only such patching).

When imported, dependency-injector looks for pydantic-settings, PyYAML,
Werkzeug, FastAPI, fast-depends and Starlette, and imports each one it finds;
it also imports asyncio, which imports ssl. queuectl uses none of them in the
container, and where they are installed (the dashboard brings Starlette and
with it much of that list) the probes dominate every process's start-up:
medians on the loaded 2-core test machine, 0.10 s vs 0.62 s for ``import
queuectl.container`` and 27.6 MB vs 47.6 MB for an idle worker
(docs/di-import.md has the method and the rest). So they are hidden while it
imports, and only then: a later ``import starlette`` (the dashboard) works as usual.

This leans on the library's import-time behaviour (``pyproject.toml`` pins
its minor version for that reason); ``tests/unit/test_di_import.py`` checks
that providers still work and that every hidden module comes back.
"""

from __future__ import annotations

import sys
import types
from typing import Any

# Integrations dependency-injector probes for when it is imported: we use none of them.
UNUSED_INTEGRATIONS = ("pydantic_settings", "yaml", "werkzeug", "werkzeug.local", "fastapi",
                       "fastapi.params", "fast_depends", "starlette", "starlette.requests")
# asyncio imports ssl (OpenSSL) only for TLS transports. No queuectl process
# runs TLS through asyncio (the dashboard serves plain HTTP on loopback;
# pymongo's synchronous client does its own TLS), so asyncio loads with ssl hidden.
ASYNCIO_TLS = ("ssl",)


def import_dependency_injector() -> tuple[Any, Any]:
    """``(containers, providers)``, imported with the unused integrations hidden, then unhidden.

    The library asks once, at import, then never again. Its pydantic probe is
    answered by a stand-in reporting a version it ignores, because that probe
    cannot take "absent" for an answer.
    """
    if "dependency_injector.containers" in sys.modules:
        from dependency_injector import containers, providers
        return containers, providers
    hidden = [name for name in UNUSED_INTEGRATIONS if name not in sys.modules]
    if "asyncio" not in sys.modules:
        hidden += [name for name in ASYNCIO_TLS if name not in sys.modules]
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
