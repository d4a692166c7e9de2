"""Pausing and resuming queues from the dashboard (SPEC 9.2 ``pause`` / ``resume``).

``GET /api/queues`` lists every queue the store has jobs in, and every queue
paused (or resumed) by name, with its counts and whether it is paused. ``POST
/api/queues/{name}/pause`` and ``/resume`` (JSON) and ``/queues/{name}/pause``
and ``/resume`` (the overview's buttons, answered with a redirect) change one
queue; like the job actions they need the CSRF token and a same-site request,
and a read-only dashboard has none of them. The service is
``Dashboard.queues`` (``pause(queues)``, ``resume(queues)``, ``paused()``); a
dashboard built without one serves no queue route.
"""

from __future__ import annotations

from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from queuectl.domain.model import WAITING, JobState, validate_id

from .pages import WINDOW, form_token, local_path, with_notice
from .security import check_same_site
from .state import dashboard


def queue_name_of(request: Request) -> str:
    """The path's queue name; a malformed one is a 400 (``InvalidJob``)."""
    return validate_id(request.path_params["name"], "queue name")


def queues(request: Request) -> Response:
    """Every known queue: its counts per state, waiting jobs, and whether it is paused."""
    board = dashboard(request)
    by_queue = board.stats.stats(WINDOW).jobs_by_queue
    paused = board.queues.paused()
    names = sorted(set(by_queue) | paused.queues | paused.resumed)
    return JSONResponse({"all_paused": paused.all, "queues": [
        {"name": name, "paused": paused.is_paused(name),
         "waiting": sum(by_queue.get(name, {}).get(state, 0) for state in WAITING),
         "jobs": {state.value: by_queue.get(name, {}).get(state, 0) for state in JobState}}
        for name in names]})


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


def routes(read_only: bool, controlled: bool) -> list[BaseRoute]:
    """The queue routes: none without a pause service, only the listing when read-only."""
    if not controlled:
        return []
    listing: list[BaseRoute] = [Route("/api/queues", queues)]
    if read_only:
        return listing
    return listing + [Route(f"{prefix}/queues/{{name}}/{move.__name__}", action(move), methods=["POST"])
                      for move in (pause, resume) for prefix, action in (("/api", api_action), ("", page_action))]
