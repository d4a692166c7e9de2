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
