"""The dashboard's actions follow the model: retry and cancel buttons where ``MOVES_FROM`` allows
them, and pausing and resuming a queue (page buttons and JSON API), against a real SQLite store.

The queue tests need the pause service (``pause(queues)``, ``resume(queues)``,
``paused()``, SPEC 9.2); they skip, saying so, on a build without it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from queuectl.container import build_container  # noqa: E402
from queuectl.domain.model import MOVES_FROM, JobState  # noqa: E402
from queuectl.domain.ports import Page  # noqa: E402
from queuectl.entrypoints.dashboard.app import create_app  # noqa: E402

from .dashboard_support import fill  # noqa: E402

BASE = "http://127.0.0.1:8080"
TOKEN = "test-token-0123456789abcdef"
ROW = re.compile(r'<tr data-job="([^"]+)" data-state="([a-z]+)">(.*?)</tr>', re.S)


@pytest.fixture
def container(tmp_path: Path):
    home = tmp_path / "home"
    container = build_container(f"sqlite:///{home / 'queue.db'}", str(home))
    fill(container.store(), container.clock().now())
    yield container
    container.store().close()


def queue_service(container):
    """The pause service of this build; the test skips (visibly) without one."""
    provider = getattr(container, "queues", None)
    service = provider() if provider is not None else container.jobs()
    if not all(hasattr(service, name) for name in ("pause", "resume", "paused")):
        pytest.skip("needs the pause service: pause(queues), resume(queues), paused() (branch i13-pause)")
    return service


def client_for(container, queues=None, **options) -> TestClient:
    app = create_app(container.jobs(), container.stats(), token=TOKEN, queues=queues, **options)
    client = TestClient(app, base_url=BASE)
    assert client.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
    return client


def csrf_token(client: TestClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert match, "the overview embeds the CSRF token in its forms"
    return match.group(1)


def rows(html: str) -> dict[str, tuple[str, str]]:
    return {job_id: (state, cells) for job_id, state, cells in ROW.findall(html)}


# -- job actions follow MOVES_FROM -----------------------------------------------------------
def test_each_job_shows_exactly_the_buttons_its_state_allows(container):
    with client_for(container) as client:
        shown = rows(client.get("/jobs?limit=100").text)
    assert {state for state, _ in shown.values()} >= {"completed", "failed", "dead", "cancelled", "pending",
                                                       "processing"}
    for job_id, (state, cells) in shown.items():
        assert ('data-action="retry"' in cells) == (JobState(state) in MOVES_FROM["retry"]), job_id
        assert ('data-action="cancel"' in cells) == (JobState(state) in MOVES_FROM["cancel"]), job_id


def test_the_retry_api_takes_every_state_the_model_retries_and_refuses_the_others(container):
    with client_for(container) as client:
        token = {"x-csrf-token": csrf_token(client)}
        for job in container.jobs().list(Page(limit=0)):
            response = client.post(f"/api/jobs/{job.id}/retry", headers=token)
            if job.state in MOVES_FROM["retry"]:
                assert response.status_code == 200 and response.json()["state"] == "pending", job.id
                assert response.json()["attempts"] == 0
            else:
                assert response.status_code == 409, job.id
                assert container.jobs().get(job.id).state is job.state


# -- pause and resume a queue ----------------------------------------------------------------
def test_api_queues_lists_every_queue_with_its_counts_and_paused_state(container):
    service = queue_service(container)
    service.pause(["images", "later"])  # "later" has no job yet: pausing it is fine
    with client_for(container, queues=service) as client:
        listed = client.get("/api/queues").json()
    by_name = {queue["name"]: queue for queue in listed["queues"]}
    assert listed["all_paused"] is False and sorted(by_name) == ["default", "emails", "images", "later"]
    assert [name for name, queue in by_name.items() if queue["paused"]] == ["images", "later"]
    assert by_name["images"]["waiting"] == 1 and by_name["images"]["jobs"]["completed"] == 2
    assert by_name["later"]["jobs"] == {state.value: 0 for state in JobState}


def test_with_every_queue_paused_the_dashboard_says_so_and_one_queue_can_be_resumed(container):
    service = queue_service(container)
    service.pause(None)
    with client_for(container, queues=service) as client:
        assert 'data-paused="all"' in client.get("/").text
        listed = client.get("/api/queues").json()
        assert listed["all_paused"] is True and all(queue["paused"] for queue in listed["queues"])
        token = {"x-csrf-token": csrf_token(client)}
        assert client.post("/api/queues/emails/resume", headers=token).json() == {"name": "emails",
                                                                                    "paused": False}
        by_name = {queue["name"]: queue["paused"] for queue in client.get("/api/queues").json()["queues"]}
    assert by_name == {"default": True, "emails": False, "images": True}
    assert service.paused().is_paused("queue-first-used-later")


def test_pause_and_resume_a_queue_through_the_api(container):
    service = queue_service(container)
    with client_for(container, queues=service) as client:
        token = {"x-csrf-token": csrf_token(client)}
        assert client.post("/api/queues/images/pause", headers=token).json() == {"name": "images", "paused": True}
        assert service.paused().is_paused("images") and not service.paused().is_paused("emails")
        assert client.post("/api/queues/images/resume", headers=token).json() == {"name": "images",
                                                                                    "paused": False}
        assert not service.paused().is_paused("images")
        bad = client.post("/api/queues/bad%20name/pause", headers=token)
        assert bad.status_code == 400 and "invalid queue name" in bad.json()["error"]


def test_the_overview_pauses_and_resumes_a_queue_with_its_buttons(container):
    service = queue_service(container)
    with client_for(container, queues=service) as client:
        page = client.get("/").text
        assert 'data-action="pause" data-queue="images"' in page
        done = client.post("/queues/images/pause", data={"csrf_token": csrf_token(client), "next": "/"},
                           follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/?notice=queue+images%3A+paused"
        page = client.get("/").text
        assert 'data-action="resume" data-queue="images"' in page and "badge paused" in page
        client.post("/queues/images/resume", data={"csrf_token": csrf_token(client)}, follow_redirects=False)
        assert not service.paused().is_paused("images")


def test_pausing_needs_the_token_and_a_same_site_request(container):
    service = queue_service(container)
    with client_for(container, queues=service) as client:
        token = csrf_token(client)
        assert client.post("/queues/images/pause", data={"next": "/"}).status_code == 403
        assert client.post("/api/queues/images/pause", headers={"x-csrf-token": "guess"}).status_code == 403
        cross = client.post("/api/queues/images/pause", headers={"x-csrf-token": token,
                                                                  "origin": "http://evil.example"})
        assert cross.status_code == 403
    assert not service.paused().is_paused("images")


def test_a_read_only_dashboard_shows_paused_queues_but_cannot_pause(container):
    service = queue_service(container)
    service.pause(["emails"])
    with client_for(container, queues=service, read_only=True) as client:
        page = client.get("/").text
        assert "badge paused" in page and "data-action=" not in page and "csrf_token" not in page
        assert client.get("/api/queues").status_code == 200
        for path in ("/queues/images/pause", "/api/queues/images/pause", "/api/queues/emails/resume"):
            assert client.post(path).status_code in (404, 405), path
    assert service.paused().is_paused("emails") and not service.paused().is_paused("images")
