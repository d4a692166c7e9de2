"""Every link and form of the dashboard reaches its job, whatever characters the id holds."""

from __future__ import annotations

import html
import re

import pytest

pytest.importorskip("starlette")

from queuectl.domain.model import Job  # noqa: E402
from queuectl.entrypoints.dashboard.links import job_url  # noqa: E402

from .test_dashboard_api import client_for, container, csrf_token, state_of  # noqa: E402,F401

# Ids a store may hold: dot segments and a colon. (An id ending in a newline can no longer be
# stored: ids are full-matched; job_url still encodes one, below.)
ODD_IDS = ["..", ".", "a:b", "nightly.v2"]


@pytest.fixture
def odd(container):
    now = container.clock().now()
    for job_id in ODD_IDS:
        container.store().jobs.add(Job.new(job_id, f"echo {job_id!r}", now, queue="odd:q"))
    with client_for(container) as client:
        yield client


def links(page: str) -> list[str]:
    return [html.unescape(url) for url in re.findall(r'(?:href|action)="([^"]+)"', page)]


def test_every_job_link_on_the_pages_reaches_that_job(odd):
    listed = odd.get("/jobs", params={"queue": "odd:q"}).text
    rows = re.findall(r'<tr data-job="([^"]*)"[^>]*>\s*<td><a class="id" href="([^"]+)"', listed)
    assert sorted(html.unescape(job_id) for job_id, _ in rows) == sorted(ODD_IDS)
    for job_id, href in rows:
        job_id = html.unescape(job_id)
        page = odd.get(html.unescape(href))
        assert page.status_code == 200 and f"echo {job_id!r}" in html.unescape(page.text), repr(job_id)
        assert odd.get(job_url(job_id, prefix="/api")).json()["id"] == job_id


def test_links_are_percent_encoded_so_no_id_breaks_a_url():
    assert job_url("tail\n") == "/jobs/~?id=tail%0A"
    assert job_url("a b/c?d#e", "retry") == "/jobs/~/retry?id=a%20b%2Fc%3Fd%23e"
    assert job_url("..", "cancel") == "/jobs/~/cancel?id=.."
    assert job_url("a:b", prefix="/api") == "/api/jobs/a%3Ab"


@pytest.mark.parametrize("job_id", ODD_IDS)
def test_the_cancel_button_cancels_exactly_that_job(container, odd, job_id):
    page = odd.get(job_url(job_id)).text
    action = next(url for url in links(page) if url.endswith("/cancel") or "/cancel?" in url)
    done = odd.post(action, data={"csrf_token": csrf_token(odd), "next": "/jobs"}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert [state_of(container, other) for other in ODD_IDS] == [
        "cancelled" if other == job_id else "pending" for other in ODD_IDS]


def test_the_queue_link_of_the_overview_is_encoded(odd):
    assert "/jobs?queue=odd%3Aq" in links(odd.get("/").text)
