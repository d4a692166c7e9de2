"""What every dashboard endpoint shares, kept on ``app.state.dashboard``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from queuectl.domain.model import MOVES_FROM, JobState
from queuectl.domain.services import JobService, StatsService
from queuectl.domain.timeutil import format_time

from .. import render
from .links import job_url

HERE = Path(__file__).parent
REFRESH_SECONDS = 2.0
CANCELLABLE = MOVES_FROM["cancel"]
RETRYABLE = MOVES_FROM["retry"]


@dataclass
class Dashboard:
    """The services shown, the settings of this process, and the page renderer."""

    jobs: JobService
    stats: StatsService
    read_only: bool = False
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    home: Path | None = None
    store_label: str = ""
    refresh_seconds: float = REFRESH_SECONDS
    queues: Any = None  # the pause service: pause(queues), resume(queues), paused()
    templates: Jinja2Templates = field(init=False)

    def __post_init__(self) -> None:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters.update(ts=format_time, secs=render.seconds_text, short=render.truncate)
        env.globals.update(cancellable=lambda job: job.state in CANCELLABLE,
                           retryable=lambda job: job.state in RETRYABLE, DEAD=JobState.DEAD,
                           FAILED=JobState.FAILED, job_url=job_url)
        self.templates = Jinja2Templates(env=env)

    def now(self) -> datetime:
        return self.jobs.clock.now()

    def page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        now = self.now()
        context.update(read_only=self.read_only, csrf_token=self.token, store=self.store_label,
                       refresh_ms=int(self.refresh_seconds * 1000), now=now,
                       ago=lambda then: render.seconds_text(max((now - then).total_seconds(), 0.0)),
                       notice=request.query_params.get("notice"), path=request.url.path,
                       full_path=_full_path(request))
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)


def _full_path(request: Request) -> str:
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def dashboard(request: Request) -> Dashboard:
    return request.app.state.dashboard
