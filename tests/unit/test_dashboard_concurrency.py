"""SPEC 9.7 on the dashboard, against the in-memory store: each worker's busy slots and running
jobs, each queue's limit and paused state, and setting a limit (validated, CSRF-checked)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from queuectl.container import build_container  # noqa: E402
from queuectl.domain.model import Job  # noqa: E402
from queuectl.domain.ports import WorkerInfo, WorkerRef  # noqa: E402
from queuectl.entrypoints.dashboard.app import create_app  # noqa: E402
from queuectl.entrypoints.dashboard.workers import SHOWN_RUNNING  # noqa: E402

BASE = "http://127.0.0.1:8080"
TOKEN = "test-token-0123456789abcdef"
BUSY = WorkerRef("vm-100-busy", "vm")
IDLE = WorkerRef("vm-200-idle", "vm")


@pytest.fixture
def container(tmp_path):
    container = build_container("memory://", str(tmp_path / "home"))
    store, now = container.store(), container.clock().now()
    for n in range(3):  # claimed one by one, oldest first
        store.jobs.add(Job.new(f"run-{n}", f"sleep {n}", now - timedelta(seconds=30 - n), queue="images"))
        claimed = store.jobs.claim_next(BUSY, now - timedelta(seconds=30 - n), now + timedelta(minutes=5))
        assert claimed is not None and claimed.id == f"run-{n}"
    store.jobs.add(Job.new("mail-1", "true", now, queue="emails"))
    for ref, slots in ((BUSY, 4), (IDLE, 2)):
        store.workers.register(WorkerInfo(ref.id, ref.host, int(ref.id.split("-")[1]), 1.0, (),
                                          now - timedelta(minutes=5), now, slots=slots))
    return container


def client_for(container, **options) -> TestClient:
    app = create_app(container.jobs(), container.stats(), token=TOKEN, queues=container.queues(), **options)
    client = TestClient(app, base_url=BASE)
    assert client.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
    return client


def csrf(client: TestClient) -> dict[str, str]:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert match, "the overview embeds the CSRF token in its forms"
    return {"x-csrf-token": match.group(1)}


def cell(html: str, attribute: str, key: str) -> str:
    match = re.search(rf'<span {attribute}="{re.escape(key)}"[^>]*>([^<]*)</span>', html)
    assert match, f"no {attribute} for {key}"
    return match.group(1)


def test_api_workers_gives_each_worker_its_slots_and_the_jobs_it_runs_oldest_first(container):
    with client_for(container) as client:
        workers = {worker["id"]: worker for worker in client.get("/api/workers").json()}
    assert workers[BUSY.id]["slots"] == 4 and workers[BUSY.id]["busy"] == 3
    assert workers[BUSY.id]["running"] == ["run-0", "run-1", "run-2"]
    assert workers[IDLE.id]["slots"] == 2 and workers[IDLE.id]["busy"] == 0 and workers[IDLE.id]["running"] == []


def test_the_overview_shows_busy_slots_and_links_each_running_job(container):
    with client_for(container) as client:
        html = client.get("/").text
    assert cell(html, "data-slots", BUSY.id) == "3 / 4" and cell(html, "data-slots", IDLE.id) == "0 / 2"
    row = re.search(rf'<tr data-worker="{BUSY.id}">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'data-running="([^"]+)"', row) == ["run-0", "run-1", "run-2"]
    assert 'href="/jobs/run-1"' in row


def test_a_worker_with_many_running_jobs_lists_a_few_and_counts_the_rest(container):
    store, now = container.store(), container.clock().now()
    for n in range(3, SHOWN_RUNNING + 4):
        store.jobs.add(Job.new(f"run-{n}", "sleep 9", now, queue="images"))
        assert store.jobs.claim_next(BUSY, now, now + timedelta(minutes=5)) is not None
    with client_for(container) as client:
        html = client.get("/").text
    busy = SHOWN_RUNNING + 4
    assert cell(html, "data-slots", BUSY.id) == f"{busy} / 4"  # what the store holds, even beyond the slots
    row = re.search(rf'<tr data-worker="{BUSY.id}">(.*?)</tr>', html, re.S).group(1)
    assert len(re.findall(r'data-running="', row)) == SHOWN_RUNNING and f"+{busy - SHOWN_RUNNING} more" in row


def test_api_queues_gives_each_queue_its_limit_or_null_and_whether_it_is_paused(container):
    container.queues().set_limit("images", 2)
    container.queues().set_limit("reports", 5)  # no job yet: listed because it is limited
    container.queues().pause(["emails"])
    with client_for(container) as client:
        listed = {queue["name"]: queue for queue in client.get("/api/queues").json()["queues"]}
        html = client.get("/").text
    assert {name: (queue["limit"], queue["paused"]) for name, queue in listed.items()} == {
        "emails": (None, True), "images": (2, False), "reports": (5, False)}
    assert cell(html, "data-limit", "images") == "2" and cell(html, "data-limit", "emails") == "-"
    emails = re.search(r'<tr data-queue="emails">(.*?)</tr>', html, re.S).group(1)
    assert "badge paused" in emails and 'data-action="resume"' in emails


def test_a_limit_is_set_and_removed_through_the_api(container):
    service = container.queues()
    with client_for(container) as client:
        token = csrf(client)
        done = client.post("/api/queues/images/limit", data={"limit": "3"}, headers=token)
        assert done.status_code == 200 and done.json() == {"name": "images", "limit": 3, "paused": False}
        assert service.limits() == {"images": 3}
        assert client.post("/api/queues/images/limit", data={"limit": "100000"}, headers=token).json()["limit"] \
            == 100000
        assert client.post("/api/queues/images/limit", data={"limit": "0"}, headers=token).json() == {
            "name": "images", "limit": None, "paused": False}
    assert service.limits() == {}


@pytest.mark.parametrize("value", ["-1", "100001", "1e3", "3.0", " 3", "3 ", "0x10", "+3", "٣", "3;4", "",
                                   "1" * 5000])
def test_a_bad_limit_is_a_400_naming_the_rule_and_stores_nothing(container, value):
    service = container.queues()
    service.set_limit("images", 7)
    with client_for(container) as client:
        refused = client.post("/api/queues/images/limit", data={"limit": value}, headers=csrf(client))
    assert refused.status_code == 400
    assert "from 0 (no limit) to 100000" in refused.json()["error"]
    assert service.limits() == {"images": 7}


def test_setting_a_limit_needs_the_csrf_token_a_valid_queue_and_a_writable_dashboard(container):
    service = container.queues()
    with client_for(container) as client:
        assert client.post("/api/queues/images/limit", data={"limit": "3"}).status_code == 403
        missing = client.post("/api/queues/images/limit", headers=csrf(client))
        assert missing.status_code == 400 and "a limit is required" in missing.json()["error"]
        bad = client.post("/api/queues/bad%20name/limit", data={"limit": "3"}, headers=csrf(client))
        assert bad.status_code == 400 and "invalid queue name" in bad.json()["error"]
        assert client.post("/api/queues/images/limit", data={"limit": "3"}, headers={
            **csrf(client), "origin": "http://evil.example"}).status_code == 403
    with client_for(container, read_only=True) as client:
        assert client.post("/api/queues/images/limit", data={"limit": "3"}).status_code in (404, 405)
        assert 'data-action="limit"' not in client.get("/").text
        assert client.get("/api/queues").json()["queues"][0]["limit"] is None
    assert service.limits() == {}


def test_the_overview_form_sets_a_limit_and_says_so(container):
    with client_for(container) as client:
        token = csrf(client)["x-csrf-token"]
        assert 'data-action="limit" data-queue="images"' in client.get("/").text
        done = client.post("/queues/images/limit", data={"csrf_token": token, "next": "/", "limit": "4"},
                           follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/?notice=queue+images%3A+at+most+4+running"
        assert cell(client.get("/").text, "data-limit", "images") == "4"
        done = client.post("/queues/images/limit", data={"csrf_token": token, "limit": "0"}, follow_redirects=False)
        assert done.headers["location"] == "/?notice=queue+images%3A+no+limit"
        refused = client.post("/queues/images/limit", data={"csrf_token": token, "limit": "-2"})
        assert refused.status_code == 400 and "invalid queue limit &#39;-2&#39;" in refused.text
    assert container.queues().limits() == {}
