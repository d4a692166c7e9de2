"""The dashboard's job page and JSON API show a job's dependencies and their states (SPEC 9.3)."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")

from queuectl.domain.model import Job  # noqa: E402

from .test_dashboard_api import client, container  # noqa: E402,F401  (the fixtures)


def test_the_job_page_and_api_list_the_dependencies_with_their_states(container, client):  # noqa: F811
    now = container.clock().now()
    jobs = container.store().jobs
    jobs.add(Job.new("build", "make", now))
    jobs.add(Job.new("docs", "make docs", now))
    jobs.add(Job.new("deploy", "ship", now, after=["build", "docs"]))
    jobs.cancel("docs", now)
    page = client.get("/jobs/deploy").text
    assert 'href="/jobs/build"' in page and 'class="badge s-pending">pending' in page
    assert 'class="badge s-cancelled">cancelled' in page and "dependency &#39;docs&#39; ended cancelled" in page
    job = client.get("/api/jobs/deploy").json()
    assert job["after"] == ["build", "docs"]
    assert job["dependencies"] == [{"id": "build", "state": "pending"}, {"id": "docs", "state": "cancelled"}]
    assert "Waits for</dt><dd>–" in client.get("/jobs/build").text
