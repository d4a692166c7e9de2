"""The dashboard's HTML pages and the actions their buttons post.

Pages: overview (counts, figures of the last hour, queues with their limits
and paused state, live workers with their busy slots and running jobs, recent
jobs), jobs (filtered by state and queue), one job (attempts and
output), the DLQ. Actions (retry, cancel; a queue's pause and resume in
``control.py``) exist only when not read-only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from queuectl.domain import defaults
from queuectl.domain.errors import InvalidJob, JobNotFound
from queuectl.domain.model import Job, JobState, validate_id
from queuectl.domain.ports import Page

from .attempts import attempt_number, attempt_page, page_number, tail
from .links import ALIAS, job_url
from .queues import rank
from .security import TOKEN_FIELD, TOKEN_HEADER, check_same_site
from .state import dashboard
from .workers import SHOWN_RUNNING, worker_rows

WINDOW = timedelta(seconds=defaults.STATS_WINDOW_SECONDS)
RECENT = 12
TOP_QUEUES = 20  # the overview's queue table
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_FORM_BYTES = 8192


def job_id_of(request: Request) -> str:
    """The path's job id (or ``?id=`` after ``/jobs/~``, see ``links``); a malformed one is
    simply a job that does not exist (404)."""
    job_id = request.path_params["job_id"]
    if job_id == ALIAS:
        job_id = request.query_params.get("id", "")
    try:
        return validate_id(job_id)
    except InvalidJob:
        raise JobNotFound(job_id) from None


def page_of(request: Request) -> Page:
    """``?state=&queue=&limit=`` as a ``Page``; a bad value is a 400."""
    params = request.query_params
    state = JobState.parse(params["state"]) if params.get("state") else None
    try:
        limit = int(params.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        raise InvalidJob(f"invalid limit '{params['limit']}': use a whole number") from None
    if not 0 < limit <= MAX_LIMIT:
        raise InvalidJob(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return Page(state=state, queue=params.get("queue") or None, limit=limit)


# -- pages ----------------------------------------------------------------------
def overview(request: Request) -> Response:
    """One store aggregate for every figure; the page lists only the deepest queues."""
    board = dashboard(request)
    stats = board.stats.stats(WINDOW)
    controlled = board.queues is not None
    return board.page(request, "overview.html", stats=stats, totals=stats.jobs,
                      queues=rank(stats.jobs_by_queue, TOP_QUEUES), workers=worker_rows(board.jobs),
                      recent=board.jobs.list(Page(limit=RECENT)), states=list(JobState),
                      paused=board.queues.paused() if controlled else None,
                      limits=board.queues.limits() if controlled else {}, shown_running=SHOWN_RUNNING)


def jobs(request: Request) -> Response:
    board, page = dashboard(request), page_of(request)
    return board.page(request, "jobs.html", jobs=board.jobs.list(page), filters=page, states=list(JobState))


def job(request: Request) -> Response:
    """The job and one page of its attempts, newest first, each output a capped tail."""
    board, job_id, number = dashboard(request), job_id_of(request), page_number(request)
    found = board.jobs.get(job_id)
    logs = board.jobs.logs(job_id)
    page = attempt_page(len(logs), number)
    shown = page.newest_first(logs)
    outputs = [tail(_output(board, found, entry, first=number == 1 and i == 0)) for i, entry in enumerate(shown)]
    return board.page(request, "job.html", job=found, attempts=list(zip(shown, outputs)), pager=page,
                      pager_links=page.links(found.id), dependencies=board.jobs.dependency_states(found))


def output(request: Request) -> Response:
    """One attempt's stored output (the tail the store keeps), as plain text."""
    board, job_id, number = dashboard(request), job_id_of(request), attempt_number(request)
    logs = board.jobs.logs(job_id)
    entry = next((entry for entry in logs if entry.attempt.attempt == number), None)
    if entry is None:
        raise HTTPException(404, f"job '{job_id}' has no attempt {number}")
    found = board.jobs.get(job_id) if entry is logs[0] else None
    return PlainTextResponse(_output(board, found, entry, first=found is not None))


def _output(board: Any, job: Job | None, entry: Any, first: bool) -> str:
    """An attempt's stored output; for the running attempt on this host, its file's tail."""
    if first and job is not None and entry.attempt.finished_at is None and board.home is not None:
        return _local_output(board.home, job)
    return entry.output or ""


def dlq(request: Request) -> Response:
    board = dashboard(request)
    return board.page(request, "dlq.html", jobs=board.jobs.dead_letters(MAX_LIMIT))


def _local_output(home: Any, job: Job) -> str:
    """The running attempt's output so far, when it runs on this host."""
    from ..logs_cli import local_output

    return local_output(home, job) or ""


# -- actions --------------------------------------------------------------------
async def form_token(request: Request) -> tuple[str | None, dict[str, str]]:
    """The CSRF token (header or form field) and the urlencoded form fields."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "request body too large")
    fields = dict(parse_qsl(body.decode("utf-8", "replace"))) if body else {}
    return request.headers.get(TOKEN_HEADER) or fields.get(TOKEN_FIELD), fields


def action(verb: str, move: Callable[[Any, str], Job]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        board = dashboard(request)
        supplied, fields = await form_token(request)
        check_same_site(request, supplied, board.token)
        job_id = job_id_of(request)
        done = await run_in_threadpool(move, board.jobs, job_id)
        target = local_path(fields.get("next"), job_url(job_id))
        return RedirectResponse(with_notice(target, f"{verb} {done.id}: now {done.state.value}"), 303)

    endpoint.__name__ = f"{verb.lower()}_job"
    return endpoint


def local_path(candidate: str | None, default: str) -> str:
    """Redirect only within the dashboard: a path, never another host."""
    if candidate and candidate.startswith("/") and not candidate.startswith("//") and "\\" not in candidate:
        return candidate
    return default


def with_notice(path: str, notice: str) -> str:
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "notice"] + [("notice", notice)]
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


def retry(jobs: Any, job_id: str) -> Job:
    """Any job in a state ``retry`` takes (``MOVES_FROM``), as ``queuectl retry ID``."""
    return jobs.retry([job_id])[0].unwrap()


def cancel(jobs: Any, job_id: str) -> Job:
    return jobs.cancel(job_id)


def routes(read_only: bool) -> list[BaseRoute]:
    found: list[BaseRoute] = [Route("/", overview), Route("/jobs", jobs), Route("/jobs/{job_id}/output", output),
                              Route("/jobs/{job_id:path}", job), Route("/dlq", dlq)]
    if read_only:
        return found
    actions = [Route("/jobs/{job_id}/retry", action("Retried", retry), methods=["POST"]),
               Route("/jobs/{job_id}/cancel", action("Cancelled", cancel), methods=["POST"])]
    return actions + found
