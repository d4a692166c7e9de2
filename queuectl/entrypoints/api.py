"""The Python API (SPEC 9.3): ``queuectl.connect()`` and the ``Client`` it returns.

The client calls the services the CLI calls, through the same container, with
the store chosen by the same rules (``locations.resolve``): ``db``, else
``$QUEUECTL_DB``, ``$MONGO_URI`` (a trusted ``.env`` may set them), else the
SQLite file in the queue home. Every failure is a ``QueuectlError`` whose
message is the text the CLI prints after ``Error: `` (the store URL's password
scrubbed, unprintable characters escaped). Nothing is opened until the first
call that needs the store.
"""

from __future__ import annotations

import builtins
import logging
import os
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, Sequence, Unpack

from queuectl.domain import defaults
from queuectl.domain.errors import InvalidJob, QueuectlError
from queuectl.domain.model import JobState, validate_id
from queuectl.domain.quoting import printable, quoted

from . import locations
from .api_job import EnqueueOptions, Job, job_mapping
from .api_wait import wait_for

if TYPE_CHECKING:
    from queuectl.container import Container
    from queuectl.domain.services import JobService

logger = logging.getLogger(__name__)


class ClientClosed(QueuectlError):
    """A call on a client after ``close()``."""


def connect(db: str | None = None, home: str | os.PathLike[str] | None = None) -> "Client":
    """A client of the queue that ``queuectl [--db DB] [--home HOME]`` would use."""
    found = locations.resolve(None if home is None else os.fspath(home), db)
    for notice in found.notices:  # an ignored .env (a warning), or where .env put the store (a note)
        if notice.startswith("warning:"):
            warnings.warn(notice, stacklevel=3)
        else:
            logger.info(notice)
    with _as_cli_error(found.url):
        from queuectl.container import build_container

        container = build_container(found.url, str(locations.ensure_home(found.home)))
    return Client(container, found.url)


@contextmanager
def _as_cli_error(url: str | None) -> Iterator[None]:
    """A ``QueuectlError`` leaves with the CLI's text: the URL's password scrubbed, escaped."""
    try:
        yield
    except QueuectlError as error:
        error.args = (printable(locations.scrub(str(error), url)),)
        raise


class Client:
    """One connection to a queue: enqueue, read, cancel, retry and wait for jobs.

    Get one from ``queuectl.connect()``; ``close()`` it, or use it as a context
    manager. A client holds one store connection: use one client per thread.
    """

    def __init__(self, container: "Container", url: str) -> None:
        self._container = container
        self._url = url
        self._service: JobService | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """The store URL in use, its password hidden."""
        return locations.redact_url(self._url)

    def _jobs(self) -> "JobService":
        if self._closed:
            raise ClientClosed("this queuectl client is closed")
        if self._service is None:
            self._service = self._container.jobs()
        return self._service

    def enqueue(self, command: str, **options: Unpack[EnqueueOptions]) -> Job:
        """Store a job running ``command``; return it (its ``id`` is generated unless given).

        Options, as the CLI's: ``id``, ``queue``, ``priority``, ``max_retries``,
        ``timeout`` (seconds), ``run_at`` (``datetime`` or ISO-8601 text; UTC if it
        has no offset) or ``delay`` (``timedelta``, seconds, or ``"5m"``), ``cwd``
        (default: the current directory), ``env`` (a mapping of variables), ``after``
        (ids of existing jobs to wait for: the job starts ``blocked``), ``unique_key``,
        ``retry_on`` or ``no_retry_on``. Raises ``InvalidJob`` (checked as the JSON form
        is), ``DuplicateJob``, ``UnknownDependency`` or ``UniqueKeyHeld``.
        """
        from queuectl.domain.specs import spec_from_mapping

        with _as_cli_error(self._url):
            return Job.of(self._jobs().enqueue(spec_from_mapping(job_mapping(command, options))))

    def get(self, job_id: str) -> Job:
        """The job with its whole history (``queuectl show``); ``JobNotFound`` if absent."""
        with _as_cli_error(self._url):
            return Job.of(self._jobs().get(validate_id(job_id)))

    def list(self, state: JobState | str | None = None, queue: str | None = None,
             limit: int = defaults.LIST_LIMIT) -> builtins.list[Job]:
        """Jobs newest first, without history (``queuectl list``): at most ``limit`` (0 = all)."""
        from queuectl.domain.ports import Page

        with _as_cli_error(self._url):
            page = Page(state=None if state is None else JobState.parse(state),
                        queue=None if queue is None else validate_id(queue, "queue name"), limit=_limit(limit))
            return [Job.of(job) for job in self._jobs().list(page)]

    def cancel(self, job_id: str) -> Job:
        """Cancel a waiting job, or kill and cancel a running one (``queuectl cancel``)."""
        with _as_cli_error(self._url):
            return Job.of(self._jobs().cancel(validate_id(job_id)))

    def retry(self, job_id: str) -> Job:
        """Run a completed, failed, dead or cancelled job again: pending, attempts reset to 0."""
        with _as_cli_error(self._url):
            (result,) = self._jobs().retry([validate_id(job_id)])
            return Job.of(result.unwrap())

    def wait(self, ids: Sequence[str] | str = (), timeout: float | None = None, *,
             queue: str | None = None) -> builtins.list[Job]:
        """Block until every job of ``ids`` is final (completed, dead or cancelled); return them
        in the order given (``queuectl wait ID...``). With no ids: until no job of ``queue`` (of
        any queue without one) is unfinished, returning those that became final meanwhile.

        A job that ended dead or cancelled is returned, not raised: check ``job.state``.
        ``WaitTimeout`` (naming how many were unfinished) if ``timeout`` seconds pass first.
        """
        with _as_cli_error(self._url):
            chosen = _ids(ids)
            if chosen and queue is not None:
                raise InvalidJob("give job ids or queue, not both")
            queue = None if queue is None else validate_id(queue, "queue name")
            return [Job.of(job) for job in wait_for(self._jobs(), chosen, queue, timeout)]

    def close(self) -> None:
        """Release the store connection (if one was opened); the client is unusable afterwards."""
        if not self._closed:
            self._closed = True
            if self._service is not None:
                self._container.store().close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<queuectl.Client {self.url}{' closed' if self._closed else ''}>"


def _ids(ids: Sequence[str] | str) -> list[str]:
    """The job ids to wait for, each checked; one id alone may be given as a string."""
    return [validate_id(job_id) for job_id in ([ids] if isinstance(ids, str) else ids)]


def _limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= defaults.LIST_LIMIT_MAX:
        raise InvalidJob(f"\"limit\" must be an integer from 0 to {defaults.LIST_LIMIT_MAX}, got {quoted(limit)}")
    return limit
