"""The dashboard's job page and JSON API show where and with what a job runs (SPEC 9.1)."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")

from queuectl.domain.model import Job  # noqa: E402

from .test_dashboard_api import client, container  # noqa: E402,F401  (the fixtures)


def test_the_job_page_and_api_show_cwd_and_escaped_env(container, client):  # noqa: F811
    now = container.clock().now()
    container.store().jobs.add(Job.new("ctx", "make", now, cwd="/srv/<app>", env={"CI": "1", "X": "<b>"}))
    container.store().jobs.add(Job.new("bare", "true", now))
    page = client.get("/jobs/ctx").text
    assert "/srv/&lt;app&gt;" in page and "<code>CI=1</code>" in page and "<code>X=&lt;b&gt;</code>" in page
    assert "where the worker runs" in client.get("/jobs/bare").text
    job = client.get("/api/jobs/ctx").json()
    assert (job["cwd"], job["env"]) == ("/srv/<app>", {"CI": "1", "X": "<b>"})
