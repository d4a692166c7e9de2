"""End to end: the real ``queuectl dashboard`` process, driven by headless Chromium.

Debian's ``chromium`` through Playwright (never a downloaded browser). Without
Chromium or Playwright the test is skipped with the reason, except under CI
(``CI`` set), where ``.ci/run`` installs both and a skip would hide a failure.
The screenshot it takes goes to the test's temporary folder; with
``QUEUECTL_UPDATE_SCREENSHOT=1`` it replaces the README's ``docs/dashboard.png``
(a test run never dirties the work tree by itself).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

from queuectl.container import build_container

from .dashboard_support import WORKER, fill, read_url, start_dashboard, stop_dashboard

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
WAIT_MS = 15_000


def _require(available: bool, reason: str) -> None:
    if not available:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the browser test: .ci/run installs it)")
        pytest.skip(reason)


@pytest.fixture
def browser_page():
    _require(CHROMIUM.exists(), f"no Chromium at {CHROMIUM}: apt-get install chromium chromium-driver")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require(False, "Playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1360, "height": 900})
        finally:
            browser.close()


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[str, object]]:
    """A store with jobs in every state, and the dashboard serving it on a free port."""
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'queue.db'}"
    container = build_container(url, str(home))
    fill(container.store(), container.clock().now())
    process = start_dashboard(home, url)
    try:
        yield read_url(process), container.store()
    finally:
        stop_dashboard(process)
        container.store().close()


def test_the_dashboard_shows_the_queue_refreshes_itself_retries_a_dead_job_and_pauses_a_queue(dashboard, browser_page,
                                                                                               tmp_path):
    from playwright.sync_api import expect

    printed, store = dashboard
    base, token = printed.split("?token=")
    page = browser_page
    page.set_default_timeout(WAIT_MS)
    assert page.goto(base).status == 401  # without the token: nothing
    page.goto(printed)
    assert page.url == base  # the cookie is set and the token left the address bar

    counts = {state: page.locator(f'[data-count="{state}"]') for state in ("pending", "completed", "dead")}
    expect(counts["pending"]).to_have_text("3")
    expect(counts["completed"]).to_have_text("5")
    expect(counts["dead"]).to_have_text("1")
    row = page.locator('tr[data-job="backup-db"]')
    expect(row).to_contain_text("completed")
    expect(row).to_contain_text("pg_dump --format=custom")
    expect(page.locator('tr[data-worker="vm-4242-a1b2"]')).to_contain_text("render-video")

    # It refreshes itself: a change made elsewhere shows up without a reload.
    expect(page.locator("#pulse")).to_contain_text("updated", timeout=WAIT_MS)
    page.screenshot(path=str(_screenshot_path(tmp_path)), full_page=True)
    store.jobs.cancel("nightly-report", datetime.now(timezone.utc))
    expect(page.locator('[data-count="cancelled"]')).to_have_text("2")

    page.get_by_role("link", name="Dead letters").click()
    dead_row = page.locator('tr[data-job="flaky-upload"]')
    expect(dead_row).to_contain_text("exit code 22")
    dead_row.locator('button[data-action="retry"]').click()
    expect(page.locator(".notice")).to_contain_text("Retried flaky-upload: now pending")
    expect(page.locator('tr[data-job="flaky-upload"]')).to_have_count(0)
    expect(page.locator("main")).to_contain_text("The DLQ is empty.")
    assert store.jobs.get("flaky-upload").state.value == "pending"

    page.get_by_role("link", name="Overview").click()
    expect(counts["dead"]).to_have_text("0")
    expect(counts["pending"]).to_have_text("3")  # one back from the DLQ, one cancelled above

    # Pause a queue from its row, and resume it.
    images = page.locator('tr[data-queue="images"]')
    images.locator('button[data-action="pause"]').click()
    expect(page.locator(".notice")).to_contain_text("queue images: paused")
    expect(images.locator(".badge.paused")).to_have_count(1)
    assert store.queues.paused().is_paused("images") and not store.queues.paused().is_paused("emails")
    images.locator('button[data-action="resume"]').click()
    expect(page.locator(".notice")).to_contain_text("queue images: running")
    expect(images.locator(".badge.paused")).to_have_count(0)
    assert not store.queues.paused().anything

    # SPEC 9.7: a worker's busy slots / slots and each job it runs; a queue's limit and paused state.
    now = datetime.now(timezone.utc)
    second = store.jobs.claim_next(WORKER, now, now + timedelta(minutes=5))  # the same worker runs two jobs
    assert second is not None
    slots = next(worker.slots for worker in store.workers.workers() if worker.id == WORKER.id)
    worker_row = page.locator(f'tr[data-worker="{WORKER.id}"]')
    expect(worker_row.locator(f'[data-slots="{WORKER.id}"]')).to_have_text(f"2 / {slots}")
    expect(worker_row.locator("[data-running]")).to_have_count(2)
    expect(worker_row.locator(f'[data-running="{second.id}"]')).to_have_attribute("href", f"/jobs/{second.id}")
    store.queues.pause(["emails"])
    expect(page.locator('tr[data-queue="emails"] .badge.paused')).to_have_count(1)
    expect(page.locator('[data-limit="images"]')).to_have_text("-")
    images.locator('input[name="limit"]').fill("3")
    images.locator('button[data-action="limit"]').click()
    expect(page.locator(".notice")).to_contain_text("queue images: at most 3 running")
    expect(page.locator('[data-limit="images"]')).to_have_text("3")
    assert store.queues.limits() == {"images": 3}


def _screenshot_path(tmp_path: Path) -> Path:
    if os.environ.get("QUEUECTL_UPDATE_SCREENSHOT") == "1":
        return SCREENSHOT
    return tmp_path / "dashboard.png"
