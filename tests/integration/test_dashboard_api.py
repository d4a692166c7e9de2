"""The dashboard's pages, JSON API and ``/metrics`` through Starlette's test client,
against a real SQLite store holding jobs in every state."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from queuectl.container import build_container  # noqa: E402
from queuectl.entrypoints.dashboard.app import create_app  # noqa: E402
from queuectl.entrypoints.dashboard.security import LOOPBACK_HOSTS  # noqa: E402

from .dashboard_support import fill  # noqa: E402

BASE = "http://127.0.0.1:8080"
TOKEN = "test-token-0123456789abcdef"
STATS_KEYS = ["now", "since", "window_seconds", "jobs", "completed", "failed", "completed_per_minute",
              "failed_per_minute", "success_rate", "duration_seconds", "queue_depth",
              "oldest_waiting_age_seconds", "retries_scheduled", "dlq_size", "queues"]


@pytest.fixture
def container(tmp_path: Path):
    home = tmp_path / "home"
    container = build_container(f"sqlite:///{home / 'queue.db'}", str(home))
    fill(container.store(), container.clock().now())
    yield container
    container.store().close()


def client_for(container, **options) -> TestClient:
    """A client logged in as a browser is: through the printed URL, which sets the cookie."""
    client = TestClient(create_app(container.jobs(), container.stats(), token=TOKEN, **options), base_url=BASE)
    login = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert login.status_code == 303, login.text
    return client


@pytest.fixture
def client(container):
    with client_for(container) as client:
        yield client


def csrf_token(client: TestClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dlq").text)
    assert match, "the DLQ page embeds the CSRF token in its retry form"
    return match.group(1)


def state_of(container, job_id: str) -> str:
    return container.store().jobs.get(job_id).state.value


# -- pages -------------------------------------------------------------------------
def test_the_overview_shows_counts_workers_queues_and_recent_jobs(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', page.text))
    assert counts == {"pending": "3", "blocked": "0", "processing": "1", "completed": "5", "failed": "1", "dead": "1",
                      "cancelled": "1"}
    assert 'data-worker="vm-4242-a1b2"' in page.text and 'href="/jobs/render-video"' in page.text
    assert 'data-job="flaky-upload" data-state="dead"' in page.text
    assert page.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in page.headers[
        "content-security-policy"]


def test_the_jobs_page_filters_by_state_and_queue(client):
    page = client.get("/jobs", params={"state": "completed", "queue": "images"})
    assert re.findall(r'<tr data-job="([^"]+)"', page.text) == ["resize-2", "resize-1"]
    assert client.get("/jobs", params={"state": "sleeping"}).status_code == 400


def test_the_job_page_shows_its_attempts_and_output(client):
    page = client.get("/jobs/flaky-upload")
    assert page.status_code == 200
    assert "curl: (22) The requested URL returned error: 503" in page.text
    assert 'data-attempt="1"' in page.text and 'data-action="retry"' in page.text


def test_commands_and_outputs_are_escaped(container, client):
    from queuectl.domain.model import Job

    container.store().jobs.add(Job.new("xss", "echo '<script>alert(1)</script>'", container.clock().now()))
    page = client.get("/jobs/xss").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("path", ["/jobs/nope", "/jobs/bad%20id", "/jobs/a/b/c", "/api/jobs/nope",
                                  "/api/jobs/%2e%2e", "/no/such/page"])
def test_unknown_or_malformed_ids_and_paths_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert response.json()["status"] == 404


# -- JSON API ------------------------------------------------------------------------
def test_api_stats_has_the_documented_keys_and_the_store_figures(client):
    stats = client.get("/api/stats").json()
    assert list(stats) == STATS_KEYS
    assert stats["jobs"] == {"pending": 3, "blocked": 0, "processing": 1, "completed": 5, "failed": 1, "dead": 1,
                             "cancelled": 1}
    assert (stats["completed"], stats["failed"], stats["success_rate"]) == (5, 2, round(5 / 7, 4))
    assert stats["duration_seconds"]["count"] == 7 and stats["duration_seconds"]["max"] == 42.5
    assert stats["queue_depth"] == {"default": 2, "emails": 1, "images": 1}
    assert (stats["retries_scheduled"], stats["dlq_size"]) == (1, 1)
    assert stats["oldest_waiting_age_seconds"] >= 45
    assert client.get("/api/stats", params={"since": "10m"}).json()["completed"] == 1
    assert client.get("/api/stats", params={"since": "soon"}).status_code == 400


def test_api_jobs_lists_and_filters_like_list_json(client):
    jobs = client.get("/api/jobs").json()
    assert len(jobs) == 12 and jobs[0]["id"] == "nightly-report" and "history" not in jobs[0]
    pending = client.get("/api/jobs", params={"state": "pending"}).json()
    assert [job["id"] for job in pending] == ["nightly-report", "welcome-mail", "thumbs-42"]
    assert [job["id"] for job in client.get("/api/jobs", params={"queue": "emails", "limit": 1}).json()] == [
        "welcome-mail"]
    assert client.get("/api/jobs", params={"limit": "lots"}).json()["status"] == 400


def test_api_job_is_the_show_json_record(client):
    job = client.get("/api/jobs/sync-crm").json()
    assert (job["state"], job["attempts"], job["last_error"]) == ("failed", 1, "exit code 1")
    assert [(a["attempt"], a["exit_code"]) for a in job["history"]] == [(1, 1)]


def test_api_workers_and_status(client):
    workers = client.get("/api/workers").json()
    assert [(w["id"], w["current_job"]) for w in workers] == [("vm-4242-a1b2", "render-video"),
                                                               ("vm-4243-c3d4", None)]
    assert all(0 <= w["heartbeat_age_seconds"] < 30 for w in workers)
    status = client.get("/api/status").json()
    assert status["jobs"]["dead"] == 1 and len(status["workers"]) == 2


# -- /metrics --------------------------------------------------------------------------
def test_metrics_parse_with_their_names_types_labels_and_values(client):
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    types = {name: family.type for name, family in families.items()}
    assert types == {"queuectl_jobs": "gauge", "queuectl_workers": "gauge",
                     "queuectl_oldest_pending_age_seconds": "gauge", "queuectl_jobs_completed": "counter",
                     "queuectl_jobs_failed": "counter", "queuectl_jobs_dead": "counter",
                     "queuectl_job_duration_seconds": "histogram"}
    jobs = {(s.labels["state"], s.labels["queue"]): s.value for s in families["queuectl_jobs"].samples}
    assert len(jobs) == 21  # every state of each of the three queues
    assert (jobs[("dead", "default")], jobs[("completed", "images")], jobs[("cancelled", "emails")]) == (1, 2, 0)
    value = {s.name: s.value for family in families.values() for s in family.samples if not s.labels}
    assert value["queuectl_workers"] == 2 and value["queuectl_oldest_pending_age_seconds"] >= 45
    assert (value["queuectl_jobs_completed_total"], value["queuectl_jobs_failed_total"],
            value["queuectl_jobs_dead_total"]) == (5, 2, 1)
    assert value["queuectl_job_duration_seconds_count"] == 7
    assert value["queuectl_job_duration_seconds_sum"] == pytest.approx(67.1)
    buckets = {s.labels["le"]: s.value for s in families["queuectl_job_duration_seconds"].samples
               if s.name.endswith("_bucket")}
    assert (buckets["1.0"], buckets["2.5"], buckets["60.0"], buckets["+Inf"]) == (1, 3, 7, 7)


def test_the_counters_do_not_drop_when_the_dlq_is_retried(container, client):
    before = client.get("/metrics").text
    container.jobs().retry_dead("flaky-upload")
    after = client.get("/metrics").text
    for name in ("queuectl_jobs_failed_total", "queuectl_jobs_dead_total"):
        assert re.search(rf"^{name} (\S+)$", before, re.M).group(1) == re.search(
            rf"^{name} (\S+)$", after, re.M).group(1)


# -- actions and their protection --------------------------------------------------------
def test_retry_from_the_page_needs_the_token(container, client):
    refused = client.post("/jobs/flaky-upload/retry", data={"next": "/dlq"}, follow_redirects=False)
    assert refused.status_code == 403 and state_of(container, "flaky-upload") == "dead"
    wrong = client.post("/jobs/flaky-upload/retry", data={"csrf_token": "guess"}, follow_redirects=False)
    assert wrong.status_code == 403 and state_of(container, "flaky-upload") == "dead"
    done = client.post("/jobs/flaky-upload/retry", data={"csrf_token": csrf_token(client), "next": "/dlq"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/dlq?notice=Retried")
    assert state_of(container, "flaky-upload") == "pending"


def test_a_cross_site_post_is_refused_even_with_the_token(container, client):
    token = csrf_token(client)
    for header in ({"origin": "http://evil.example"}, {"referer": "http://evil.example/page"},
                   {"origin": "null"}):
        response = client.post("/api/jobs/flaky-upload/retry", headers={"x-csrf-token": token, **header})
        assert response.status_code == 403, header
    assert state_of(container, "flaky-upload") == "dead"
    same = client.post("/api/jobs/flaky-upload/retry", headers={"x-csrf-token": token, "origin": BASE})
    assert same.status_code == 200 and same.json()["state"] == "pending"


def test_redirects_after_an_action_stay_on_the_dashboard(client):
    token = csrf_token(client)
    response = client.post("/jobs/welcome-mail/cancel", data={"csrf_token": token, "next": "//evil.example/x"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/jobs/welcome-mail?")


def test_api_cancel_and_refusals_of_impossible_moves(container, client):
    token = {"x-csrf-token": csrf_token(client)}
    assert client.post("/api/jobs/thumbs-42/cancel", headers=token).json()["state"] == "cancelled"
    conflict = client.post("/api/jobs/backup-db/cancel", headers=token)
    assert conflict.status_code == 409 and "completed" in conflict.json()["error"]
    assert client.post("/api/jobs/welcome-mail/retry", headers=token).status_code == 409  # waiting
    assert client.post("/api/jobs/nope/retry", headers=token).status_code == 404


def test_read_only_has_no_buttons_and_no_actions(container):
    with client_for(container, read_only=True) as client:
        dlq = client.get("/dlq").text
        assert 'data-job="flaky-upload"' in dlq and "csrf_token" not in dlq and 'data-action=' not in dlq
        assert "read-only" in client.get("/").text
        for path in ("/jobs/flaky-upload/retry", "/api/jobs/flaky-upload/retry", "/api/jobs/thumbs-42/cancel"):
            assert client.post(path).status_code in (404, 405), path
    assert state_of(container, "flaky-upload") == "dead"


def test_a_loopback_dashboard_refuses_foreign_host_headers(container):
    with client_for(container, allowed_hosts=LOOPBACK_HOSTS) as client:
        assert client.get("/api/status").status_code == 200
        assert client.get("/api/status", headers={"host": "localhost:8080"}).status_code == 200
        assert client.get("/api/status", headers={"host": "rebound.example"}).status_code == 400


def test_an_unreachable_store_is_a_clean_503(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    broken = build_container(f"sqlite:///{blocker / 'queue.db'}", str(tmp_path / "home"))
    with client_for(broken) as client:
        for path in ("/api/stats", "/api/jobs", "/metrics"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.json()["error"].startswith("cannot open SQLite store")
        assert client.get("/").status_code == 503


def test_stats_pages_and_metrics_work_on_mongodb(tmp_path):
    from .processes import drop_mongo_database, mongo_url_for_test

    url = mongo_url_for_test()  # skips without a server
    container = build_container(url, str(tmp_path / "home"))
    try:
        fill(container.store(), container.clock().now())
        with client_for(container) as client:
            stats = client.get("/api/stats").json()
            assert (stats["completed"], stats["failed"], stats["dlq_size"]) == (5, 2, 1)
            assert stats["duration_seconds"]["max"] == 42.5
            assert client.get("/").status_code == 200 and client.get("/jobs/flaky-upload").status_code == 200
            metrics = {s.name: s.value for family in text_string_to_metric_families(client.get("/metrics").text)
                       for s in family.samples if not s.labels}
            assert (metrics["queuectl_jobs_completed_total"], metrics["queuectl_job_duration_seconds_count"]) == (5, 7)
            token = {"x-csrf-token": csrf_token(client)}
            assert client.post("/api/jobs/flaky-upload/retry", headers=token).json()["state"] == "pending"
    finally:
        container.store().close()
        drop_mongo_database(url)
