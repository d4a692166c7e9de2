"""The dashboard with thousands of queues and thousands of attempts, on a real SQLite store.

Costs are counted, never timed: the SQL statements one render sends to the
store (every connection's trace callback) must not grow with the number of
queues, and what a page or a scrape returns stays bounded.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from queuectl.adapters.sqlite.database import SqliteDatabase  # noqa: E402
from queuectl.container import build_container  # noqa: E402
from queuectl.domain.model import Job, JobState  # noqa: E402
from queuectl.entrypoints.dashboard.app import create_app  # noqa: E402

from .test_dashboard_api import BASE, TOKEN  # noqa: E402

MANY = 5000


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every SQL statement sent by any connection opened from now on."""
    sent: list[str] = []
    opened = SqliteDatabase._open

    def traced(self):
        conn = opened(self)
        conn.set_trace_callback(sent.append)
        return conn

    monkeypatch.setattr(SqliteDatabase, "_open", traced)
    return sent


def dashboard_over(tmp_path: Path, queues: int):
    """A store with ``queues`` queues, queue ``q<i>`` holding i % 7 + 1 pending jobs."""
    home = tmp_path / f"home-{queues}"
    container = build_container(f"sqlite:///{home / 'queue.db'}", str(home))
    now = container.clock().now() - timedelta(seconds=5)
    container.store().jobs.add_many([Job.new(f"j{i}-{n}", "true", now, queue=f"q{i}")
                                     for i in range(queues) for n in range(i % 7 + 1)])
    client = TestClient(create_app(container.jobs(), container.stats(), token=TOKEN), base_url=BASE,
                        headers={"authorization": f"Bearer {TOKEN}"})
    return container, client


def queries_to_render(client: TestClient, path: str, sent: list[str]) -> int:
    client.get(path)  # the first render opens connections and caches what it may
    sent.clear()
    assert client.get(path).status_code == 200
    return sum(1 for statement in sent if statement.lstrip().upper().startswith(("SELECT", "WITH")))


@pytest.mark.parametrize("path", ["/", "/metrics", "/api/stats"])
def test_a_render_sends_as_many_queries_for_5000_queues_as_for_3(tmp_path, statements, path):
    counts = []
    for queues in (3, MANY):
        container, client = dashboard_over(tmp_path, queues)
        with client:
            counts.append(queries_to_render(client, path, statements))
        container.store().close()
    assert counts[0] == counts[1] and counts[0] > 0, counts


def test_the_overview_lists_the_deepest_queues_and_counts_the_rest(tmp_path):
    container, client = dashboard_over(tmp_path, MANY)
    with client:
        page = client.get("/").text
    rows = re.findall(r'<tr data-queue="([^"]+)"', page)
    assert len(rows) == 20 and all(int(name[1:]) % 7 == 6 for name in rows)  # all 7 deep
    assert "and 4980 more queues" in page
    assert re.search(r'data-count="pending">(\d+)<', page).group(1) == str(sum(i % 7 + 1 for i in range(MANY)))
    container.store().close()


def test_metrics_keep_the_50_deepest_queues_and_sum_the_rest_under_other(tmp_path):
    container, client = dashboard_over(tmp_path, MANY)
    with client:
        text = client.get("/metrics").text
    container.store().close()
    jobs = next(f for f in text_string_to_metric_families(text) if f.name == "queuectl_jobs").samples
    queues = {sample.labels["queue"] for sample in jobs}
    assert len(queues) == 51 and "_other" in queues and len(jobs) == 51 * len(JobState)
    assert sum(sample.value for sample in jobs) == sum(i % 7 + 1 for i in range(MANY))
    other = {s.labels["state"]: s.value for s in jobs if s.labels["queue"] == "_other"}
    assert other["pending"] == sum(i % 7 + 1 for i in range(MANY)) - 50 * 7


# -- a job with many attempts -------------------------------------------------------------
ATTEMPTS = 90  # under history_max (100), so every attempt keeps its output
OUTPUT = "".join(f"line {n:05d} of a chatty job\n" for n in range(800))  # 22,400 characters


@pytest.fixture
def chatty(tmp_path: Path):
    """A job that failed ``ATTEMPTS`` times, each attempt with ``OUTPUT``."""
    from queuectl.domain.backoff import BackoffPolicy

    from .dashboard_support import WORKER

    home = tmp_path / "home"
    container = build_container(f"sqlite:///{home / 'queue.db'}", str(home))
    jobs, start = container.store().jobs, container.clock().now() - timedelta(hours=2)
    jobs.add(Job.new("chatty", "./flaky.sh", start, max_retries=ATTEMPTS))
    for n in range(ATTEMPTS):
        at = start + timedelta(minutes=n)
        job = jobs.claim_next(WORKER, at, at + timedelta(seconds=30))
        token = job.lease_token
        job.fail(at + timedelta(seconds=0.5), "exit code 1", BackoffPolicy(base=1, maximum=0), exit_code=1)
        assert jobs.record_outcome(job, token, OUTPUT)
    client = TestClient(create_app(container.jobs(), container.stats(), token=TOKEN), base_url=BASE,
                        headers={"authorization": f"Bearer {TOKEN}"})
    with client:
        yield client
    container.store().close()


def shown_attempts(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-attempt="(\d+)"', page)]


def test_the_job_page_shows_the_newest_50_attempts_with_capped_outputs_and_pages_to_older(chatty):
    first = chatty.get("/jobs/chatty")
    assert shown_attempts(first.text) == list(range(ATTEMPTS, ATTEMPTS - 50, -1))
    assert "41–90 of 90" in first.text and len(first.text) < 50 * 17_000
    assert first.text.count("line 00799 of a chatty job") == 50 and "line 00000 of" not in first.text
    older = re.search(r'href="([^"]+)" rel="next">older', first.text).group(1)
    assert older == "/jobs/chatty?page=2"
    second = chatty.get(older).text
    assert shown_attempts(second) == list(range(40, 0, -1)) and 'rel="next"' not in second
    assert "No attempts on this page" in chatty.get("/jobs/chatty?page=3").text
    for bad in ("0", "-1", "two", "99999999", "1e3"):
        assert chatty.get("/jobs/chatty", params={"page": bad}).status_code == 400, bad


def test_a_cut_output_links_to_the_stored_output(chatty):
    page = chatty.get("/jobs/chatty").text
    link = re.search(r'href="([^"]+)">the stored output', page).group(1)
    assert link == f"/jobs/chatty/output?attempt={ATTEMPTS}"
    stored = chatty.get(link)
    assert stored.headers["content-type"].startswith("text/plain") and stored.text == OUTPUT
    assert chatty.get("/jobs/chatty/output?attempt=500").status_code == 404
    assert chatty.get("/jobs/chatty/output?attempt=x").status_code == 400


def test_the_api_pages_a_jobs_history_with_links(chatty):
    first = chatty.get("/api/jobs/chatty").json()
    assert [a["attempt"] for a in first["history"]] == list(range(41, ATTEMPTS + 1))
    assert first["history_total"] == ATTEMPTS
    assert first["links"] == {"self": "/api/jobs/chatty?page=1", "newer": None, "older": "/api/jobs/chatty?page=2"}
    second = chatty.get(first["links"]["older"]).json()
    assert [a["attempt"] for a in second["history"]] == list(range(1, 41)) and second["links"]["older"] is None
