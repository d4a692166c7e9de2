"""The dashboard's access token, through Starlette's test client and real processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from queuectl.container import build_container  # noqa: E402
from queuectl.entrypoints.dashboard import auth  # noqa: E402
from queuectl.entrypoints.dashboard.app import create_app  # noqa: E402

from .dashboard_support import fill, read_url, start_dashboard, stop_dashboard  # noqa: E402
from .test_dashboard_api import BASE, TOKEN, client_for, container, csrf_token, state_of  # noqa: E402,F401

def fetch(url: str, opener=None, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Status, final URL and body of a GET with urllib (redirects followed, cookies kept by ``opener``)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=60) as response:
            return response.status, response.url, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, url, error.read().decode()


PATHS = ["/", "/jobs", "/jobs/flaky-upload", "/dlq", "/api/status", "/api/jobs/flaky-upload", "/metrics",
         "/static/dashboard.js"]


def anonymous(container, **options) -> TestClient:
    return TestClient(create_app(container.jobs(), container.stats(), token=TOKEN, **options), base_url=BASE)


@pytest.mark.parametrize("path", PATHS)
def test_every_path_answers_401_without_the_token(container, path):
    response = anonymous(container).get(path, follow_redirects=False)
    assert response.status_code == 401 and "token" in response.text
    assert "pg_dump" not in response.text and "csrf_token" not in response.text


def test_the_printed_url_sets_an_http_only_strict_cookie_and_drops_the_token_from_the_address(container):
    client = anonymous(container)
    login = client.get(f"/jobs?state=dead&token={TOKEN}", follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/jobs?state=dead"
    cookie = login.headers["set-cookie"]
    assert TOKEN in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = client.get(login.headers["location"])
    assert page.status_code == 200 and 'data-job="flaky-upload"' in page.text


@pytest.mark.parametrize("credentials", [
    {"params": {"token": "wrong-token-0123456789"}},
    {"params": {"token": ""}},
    {"params": [("token", TOKEN), ("token", "second")]},
    {"headers": {"authorization": "Bearer wrong"}},
    {"headers": {"authorization": f"Basic {TOKEN}"}},
    {"headers": {"cookie": f"{auth.cookie_name(TOKEN)}=wrong"}},
    {"headers": {"cookie": f"queuectl-other={TOKEN}"}},
])
def test_a_wrong_token_in_any_place_is_refused(container, credentials):
    client = anonymous(container)
    for path in ("/", "/api/status", "/metrics"):
        assert client.get(path, follow_redirects=False, **credentials).status_code == 401, path


def test_a_scraper_may_send_the_token_as_a_bearer_header_or_a_query(container):
    client = anonymous(container)
    for path in ("/metrics", "/api/status"):
        bearer = client.get(path, headers={"authorization": f"Bearer {TOKEN}"})
        query = client.get(path, params={"token": TOKEN}, follow_redirects=False)
        assert bearer.status_code == query.status_code == 200, path
    assert "queuectl_jobs" in client.get("/metrics", params={"token": TOKEN}).text


def test_metrics_public_opens_only_metrics(container):
    client = anonymous(container, metrics_public=True)
    assert client.get("/metrics").status_code == 200
    for path in ("/", "/api/stats", "/api/jobs"):
        assert client.get(path).status_code == 401, path


def test_tokens_are_compared_in_constant_time(container, monkeypatch):
    compared = []
    real = auth.hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    client = anonymous(container)
    assert client.get("/api/status", headers={"authorization": "Bearer guess"}).status_code == 401
    assert client.get("/api/status", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert (b"guess", TOKEN.encode()) in compared and (TOKEN.encode(), TOKEN.encode()) in compared


def test_a_local_user_without_the_token_cannot_fetch_a_csrf_token_nor_cancel(container):
    """The attack of the security review: GET /jobs for the CSRF token, then POST cancel."""
    attacker = anonymous(container)
    page = attacker.get("/jobs")
    assert page.status_code == 401 and not re.search(r'name="csrf_token"', page.text)
    leaked = csrf_token(client_for(container))  # even a CSRF token learnt elsewhere is not enough
    for path, kwargs in (("/jobs/welcome-mail/cancel", {"data": {"csrf_token": leaked}}),
                         ("/api/jobs/welcome-mail/cancel", {"headers": {"x-csrf-token": leaked}})):
        assert attacker.post(path, follow_redirects=False, **kwargs).status_code == 401, path
    assert state_of(container, "welcome-mail") == "pending"


def test_the_csrf_token_is_still_required_with_the_access_token(container):
    client = anonymous(container)
    refused = client.post("/api/jobs/welcome-mail/cancel", headers={"authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 403 and state_of(container, "welcome-mail") == "pending"


# -- --token-file ------------------------------------------------------------------------
def token_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "token"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_token_file_gives_a_fixed_token(tmp_path):
    assert auth.read_token_file(token_file(tmp_path, f"  {TOKEN}\n")) == TOKEN


@pytest.mark.parametrize("text, mode, reason", [
    (TOKEN, 0o640, "accessible by group or others"),
    (TOKEN, 0o604, "accessible by group or others"),
    ("", 0o600, "is empty"),
    ("\n  \n", 0o600, "is empty"),
    ("short", 0o600, "must be one line of"),
    (f"{TOKEN}\nsecond line", 0o600, "must be one line of"),
    ("x" * 5000, 0o600, "must be one line of"),
])
def test_an_unsafe_or_unusable_token_file_is_refused_with_one_error_line(tmp_path, text, mode, reason):
    home = tmp_path / "home"
    path = token_file(tmp_path, text, mode)
    result = subprocess.run([sys.executable, "-m", "queuectl", "--home", str(home), "dashboard", "--port", "0",
                             "--token-file", str(path)], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            env={k: v for k, v in os.environ.items() if k not in ("QUEUECTL_DB", "MONGO_URI")})
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert result.returncode == 2 and len(errors) == 1 and reason in errors[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


# -- real processes ------------------------------------------------------------------------
@pytest.fixture
def store_home(tmp_path: Path):
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'queue.db'}"
    container = build_container(url, str(home))
    fill(container.store(), container.clock().now())
    container.store().close()
    return home, url


def test_a_dashboard_on_127_0_0_2_serves_its_printed_url(store_home):
    home, url = store_home
    process = start_dashboard(home, url, "--host", "127.0.0.2")
    try:
        printed = read_url(process)
        assert printed.startswith("http://127.0.0.2:") and "?token=" in printed
        base = printed.split("?")[0]
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        status, landed, page = fetch(printed, browser)
        assert status == 200 and landed == base and 'data-worker="vm-4242-a1b2"' in page
        assert fetch(base + "api/status", browser)[0] == 200  # the cookie does it
        assert fetch(base + "api/status")[0] == 401
    finally:
        assert "Warning" not in stop_dashboard(process)


@pytest.mark.parametrize("options", [(), ("--read-only",)])
def test_a_public_bind_warns_on_stderr_and_still_needs_the_token(store_home, options):
    home, url = store_home
    process = start_dashboard(home, url, "--host", "0.0.0.0", *options)
    try:
        printed = read_url(process)
        port = printed.split(":")[2].split("/")[0]
        token = printed.split("?token=")[1]
        api = f"http://127.0.0.1:{port}/api/status"
        assert fetch(api)[0] == 401
        assert fetch(api, headers={"authorization": f"Bearer {token}"})[0] == 200
        rebound = fetch(api, headers={"host": f"rebound.example:{port}", "authorization": f"Bearer {token}"})
        assert rebound[0] == 400  # DNS-rebinding protection stays on a public bind
    finally:
        stderr = stop_dashboard(process)
    warnings = [line for line in stderr.splitlines() if line.startswith("Warning")]
    assert len(warnings) == 1 and "0.0.0.0 is not a loopback address" in warnings[0]
