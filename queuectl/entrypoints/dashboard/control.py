"""Pausing, resuming and limiting queues from the dashboard (SPEC 9.2 ``pause`` /
``resume``, 9.7 ``queue limit``).

``GET /api/queues`` lists every queue the store has jobs in, and every queue
paused (or resumed) or limited by name, with its counts, its ``limit`` (null
when none) and whether it is paused. ``POST /api/queues/{name}/pause``,
``/resume`` and ``/limit`` (form field ``limit``: 0, no limit, to 100000)
answer JSON; ``/queues/{name}/pause``, ``/resume`` and ``/limit`` (the
overview's buttons and form) answer with a redirect. Like the job actions they
need the CSRF token and a same-site request, a bad name or limit is a 400 with
nothing stored, and a read-only dashboard has none of them. The service is
``Dashboard.queues`` (``pause(queues)``, ``resume(queues)``, ``paused()``,
``set_limit(queue, limit)``, ``limits()``); a dashboard built without one
serves no queue route.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from queuectl.domain import defaults
from queuectl.domain.errors import InvalidJob
from queuectl.domain.limits import validate_limit
from queuectl.domain.model import WAITING, JobState, validate_id

from .pages import form_token, local_path, with_notice
from .security import check_same_site
from .state import dashboard

MAX_LIMIT = defaults.QUEUE_LIMIT_MAX  # as ``queue limit NAME N`` (SPEC 9.7)
DIGITS = re.compile(r"[0-9]{1,12}")  # the form's text as a number; its range is the domain's


def queue_name_of(request: Request) -> str:
    """The path's queue name; a malformed one is a 400 (``InvalidJob``)."""
    return validate_id(request.path_params["name"], "queue name")


def limit_of(fields: dict[str, str]) -> int:
    """The form's ``limit``: digits, then the domain's rule (``limits.validate_limit``); anything else is a 400."""
    text = fields.get("limit")
    if text is None:
        raise InvalidJob(f"a limit is required: send limit=N, N from 0 (no limit) to {MAX_LIMIT}")
    return validate_limit(int(text) if DIGITS.fullmatch(text) else text)


def queues(request: Request) -> Response:
    """Every known queue: its counts per state, waiting jobs, its limit, and whether it is paused."""
    board = dashboard(request)
    summaries = board.queues.summaries()  # which queues are known, and their counts: ``queue list``'s rule
    return JSONResponse({"all_paused": board.queues.paused().all, "queues": [
        {"name": s.name, "paused": s.paused, "limit": s.limit, "waiting": sum(s.jobs[state] for state in WAITING),
         "jobs": {state.value: s.jobs[state] for state in JobState}}
        for s in summaries]})


def pause(service: Any, name: str) -> None:
    service.pause([name])


def resume(service: Any, name: str) -> None:
    service.resume([name])


def _apply(move: Callable[[Any, str], None]) -> Callable[[Request], Any]:
    """The checked request's queue, moved; then whether it is paused now."""
    async def checked(request: Request) -> tuple[str, bool, dict[str, str]]:
        board = dashboard(request)
        supplied, fields = await form_token(request)
        check_same_site(request, supplied, board.token)
        name = queue_name_of(request)
        await run_in_threadpool(move, board.queues, name)
        paused = await run_in_threadpool(board.queues.paused)
        return name, paused.is_paused(name), fields

    return checked


def api_action(move: Callable[[Any, str], None]) -> Callable[[Request], Any]:
    checked = _apply(move)

    async def endpoint(request: Request) -> Response:
        name, paused, _ = await checked(request)
        return JSONResponse({"name": name, "paused": paused})

    endpoint.__name__ = f"api_{move.__name__}_queue"
    return endpoint


def page_action(move: Callable[[Any, str], None]) -> Callable[[Request], Any]:
    checked = _apply(move)

    async def endpoint(request: Request) -> Response:
        name, paused, fields = await checked(request)
        notice = f"queue {name}: {'paused' if paused else 'running'}"
        return RedirectResponse(with_notice(local_path(fields.get("next"), "/"), notice), 303)

    endpoint.__name__ = f"{move.__name__}_queue"
    return endpoint


async def _set_limit(request: Request) -> tuple[str, int, bool, dict[str, str]]:
    """The checked request's queue limited (0: unlimited); nothing is stored unless every input is valid."""
    board = dashboard(request)
    supplied, fields = await form_token(request)
    check_same_site(request, supplied, board.token)
    name = queue_name_of(request)
    limit = limit_of(fields)
    await run_in_threadpool(board.queues.set_limit, name, limit)
    paused = await run_in_threadpool(board.queues.paused)
    return name, limit, paused.is_paused(name), fields


async def api_limit(request: Request) -> Response:
    name, limit, paused, _ = await _set_limit(request)
    return JSONResponse({"name": name, "limit": limit or None, "paused": paused})


async def page_limit(request: Request) -> Response:
    name, limit, _, fields = await _set_limit(request)
    notice = f"queue {name}: at most {limit} running" if limit else f"queue {name}: no limit"
    return RedirectResponse(with_notice(local_path(fields.get("next"), "/"), notice), 303)


def routes(read_only: bool, controlled: bool) -> list[BaseRoute]:
    """The queue routes: none without a pause service, only the listing when read-only."""
    if not controlled:
        return []
    listing: list[BaseRoute] = [Route("/api/queues", queues)]
    if read_only:
        return listing
    limit = [Route("/api/queues/{name}/limit", api_limit, methods=["POST"]),
             Route("/queues/{name}/limit", page_limit, methods=["POST"])]
    return listing + limit + [Route(f"{prefix}/queues/{{name}}/{move.__name__}", action(move), methods=["POST"])
                              for move in (pause, resume)
                              for prefix, action in (("/api", api_action), ("", page_action))]
