"""The dashboard's Starlette application: routes, shared state and error pages.

``create_app`` takes the services it shows; nothing here opens a store or
reads the environment, so tests build it around any store. Store calls are
synchronous: Starlette runs the plain ``def`` endpoints in its thread pool.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from queuectl.domain.errors import (ConcurrentUpdate, InvalidJob, InvalidTransition, JobNotFound, QueuectlError,
                                    StoreUnavailable)
from queuectl.domain.services import JobService, StatsService

from . import api, control, pages
from .auth import TokenGate
from .security import Guard
from .state import HERE, REFRESH_SECONDS, Dashboard, dashboard

log = logging.getLogger(__name__)


def create_app(jobs: JobService, stats: StatsService, *, token: str, metrics_public: bool = False,
               read_only: bool = False, allowed_hosts: Iterable[str] | None = None,
               home: Path | None = None, store_label: str = "",
               refresh_seconds: float = REFRESH_SECONDS, queues: Any = None) -> Starlette:
    """The dashboard around these services, open to requests carrying ``token``.

    ``queues``: the pause service (``control.py``); without it no queue can be paused here.

    ``allowed_hosts``: the host names a Host header may name besides IP
    addresses (None accepts any, for tests).
    """
    state = Dashboard(jobs, stats, read_only, home=home, store_label=store_label,
                      refresh_seconds=refresh_seconds, queues=queues)
    routes: list[BaseRoute] = [*pages.routes(read_only), *api.routes(read_only),
                               *control.routes(read_only, controlled=queues is not None),
                               Route("/metrics", api.metrics),
                               Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, allowed_hosts=allowed_hosts),
                                           Middleware(TokenGate, token=token, metrics_public=metrics_public)],
                    exception_handlers={QueuectlError: _domain_error, HTTPException: _http_error,
                                        Exception: _internal_error})
    app.state.dashboard = state
    return app


# -- errors ---------------------------------------------------------------------
_STATUS = ((JobNotFound, 404), (InvalidTransition, 409), (ConcurrentUpdate, 409), (StoreUnavailable, 503), (InvalidJob, 400))


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/metrics"))


def error_response(request: Request, status_code: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message, "status": status_code}, status_code=status_code)
    return dashboard(request).page(request, "error.html", status_code=status_code,
                                   status=status_code, message=message)


def _domain_error(request: Request, exc: Exception) -> Response:
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
    if status == 503:
        log.warning("store unavailable: %s", exc)
    return error_response(request, status, str(exc))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(request, exc.status_code, exc.detail)


def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error serving %s", request.url.path)
    return JSONResponse({"error": f"internal error: {type(exc).__name__}", "status": 500}, status_code=500)
