"""A job's attempts a page at a time, and each output as a capped tail.

A job may have thousands of attempts: the job page and ``/api/jobs/{id}``
show ``PER_PAGE`` of them (``?page=1`` the newest), with links to the older
and newer pages. An output on the page is its last ``OUTPUT_CHARS``; the
"whole output" link serves the tail the store keeps (itself capped), as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from starlette.requests import Request

from queuectl.domain.errors import InvalidJob

from .links import job_url

PER_PAGE = 50
MAX_PAGE = 1_000_000
OUTPUT_CHARS = 16_000  # of each attempt's stored tail, on the job page


@dataclass(frozen=True)
class AttemptPage:
    """Page ``number`` (1 = newest) of ``total`` attempts: indexes ``start:end`` of the
    oldest-first history."""

    number: int
    total: int
    start: int
    end: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PER_PAGE))

    def oldest_first(self, history: Sequence[Any]) -> list[Any]:
        return list(history[self.start:self.end])

    def newest_first(self, logs: Sequence[Any]) -> list[Any]:
        return list(logs[self.total - self.end:self.total - self.start])

    def links(self, job_id: str, prefix: str = "") -> dict[str, str | None]:
        def at(number: int) -> str | None:
            return job_url(job_id, prefix=prefix, page=number) if 1 <= number <= self.pages else None

        return {"self": at(self.number), "newer": at(self.number - 1), "older": at(self.number + 1)}


def page_number(request: Request) -> int:
    """``?page=`` (default 1); anything but a whole number from 1 to ``MAX_PAGE`` is a 400."""
    raw = request.query_params.get("page") or "1"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 7 and 1 <= int(raw) <= MAX_PAGE):
        raise InvalidJob(f"invalid page '{raw[:20]}': use a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def attempt_page(total: int, number: int) -> AttemptPage:
    end = max(total - PER_PAGE * (number - 1), 0)
    return AttemptPage(number, total, max(end - PER_PAGE, 0), end)


def attempt_number(request: Request) -> int:
    raw = request.query_params.get("attempt") or ""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9 and int(raw) >= 1):
        raise InvalidJob(f"invalid attempt '{raw[:20]}': use a whole number from 1")
    return int(raw)


def tail(text: str | None) -> tuple[str, bool]:
    """The last ``OUTPUT_CHARS`` of an output, and whether anything was cut."""
    text = text or ""
    return (text[-OUTPUT_CHARS:], len(text) > OUTPUT_CHARS)
