"""The JSON API under ``/api/`` and ``/metrics``.

Shapes are the CLI's ``--json`` shapes (``render``): ``/api/jobs`` is ``list
--json``, ``/api/jobs/{id}`` is ``show --json`` with one page of its
``history`` (``?page=1``: the newest 50 attempts, oldest first as in ``show``;
``history_total`` and ``links`` to the newer and older pages), ``/api/status``
is ``status --json``, ``/api/stats`` is ``stats --json``, ``/api/workers``
is each live worker of ``status --json`` with its ``slots``, ``busy`` and
``running`` job ids. Errors are ``{"error", "status"}``
with 400, 403, 404, 409 or 503 (the store is unreachable).
"""

from __future__ import annotations

from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from queuectl.domain.errors import InvalidJob
from queuectl.domain.timeutil import parse_duration

from .. import render
from .attempts import attempt_page, page_number
from .metrics import metrics_text
from .pages import WINDOW, cancel, form_token, job_id_of, page_of, retry
from .security import check_same_site
from .state import dashboard
from .workers import worker_rows


def stats(request: Request) -> Response:
    since = request.query_params.get("since")
    window = parse_duration(since) if since else WINDOW
    if window.total_seconds() <= 0:
        raise InvalidJob(f"the window must be longer than 0, got '{since}'")
    return JSONResponse(render.stats_dict(dashboard(request).stats.stats(window)))


def status(request: Request) -> Response:
    return JSONResponse(render.status_dict(dashboard(request).jobs.status()))


def workers(request: Request) -> Response:
    """Each live worker as in ``status --json``, with its ``slots``, ``busy`` (how many run now)
    and ``running`` (their ids, oldest first)."""
    board = dashboard(request)
    now = board.now()
    return JSONResponse([{**render.worker_dict(row.worker), "running": [job.id for job in row.running],
                          "heartbeat_age_seconds": round((now - row.worker.last_heartbeat).total_seconds(), 3)}
                         for row in worker_rows(board.jobs)])


def jobs(request: Request) -> Response:
    found = dashboard(request).jobs.list(page_of(request))
    return JSONResponse([render.job_dict(job) for job in found])


def job(request: Request) -> Response:
    number = page_number(request)
    board = dashboard(request)
    found = board.jobs.get(job_id_of(request))
    page = attempt_page(len(found.history), number)
    return JSONResponse({**render.job_dict(found),
                         "dependencies": render.dependencies_list(board.jobs.dependency_states(found)),
                         "history": [render.attempt_dict(a) for a in page.oldest_first(found.history)],
                         "history_total": page.total, "links": page.links(found.id, prefix="/api")})


def dead(request: Request) -> Response:
    return JSONResponse([render.job_dict(job) for job in dashboard(request).jobs.dead_letters(0)])


def metrics(request: Request) -> Response:
    body, content_type = metrics_text(dashboard(request).stats)
    return Response(body, media_type=content_type)


def action(move: Callable[[Any, str], Any]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        board = dashboard(request)
        supplied, _ = await form_token(request)
        check_same_site(request, supplied, board.token)
        done = await run_in_threadpool(move, board.jobs, job_id_of(request))
        return JSONResponse(render.job_dict(done))

    endpoint.__name__ = f"api_{move.__name__}"
    return endpoint


def routes(read_only: bool) -> list[BaseRoute]:
    found: list[BaseRoute] = [
        Route("/api/stats", stats), Route("/api/status", status), Route("/api/workers", workers),
        Route("/api/jobs", jobs), Route("/api/jobs/{job_id:path}", job), Route("/api/dlq", dead),
    ]
    if read_only:
        return found
    return [Route("/api/jobs/{job_id}/retry", action(retry), methods=["POST"]),
            Route("/api/jobs/{job_id}/cancel", action(cancel), methods=["POST"])] + found
