"""What ``wait``'s same-host wake-ups cost a worker: each final outcome, with and without waiters."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from queuectl.adapters.outcome_wakeup import OutcomeWaitChannel, waiters_dir
from queuectl.adapters.wakeup import WakeNotifier
from queuectl.domain.ports import Finished, Outcome, WorkerRef
from report import Report
from sections import new_jobs, sqlite_url, store_for


def _settle_all(store, notifier: WakeNotifier | None, n: int) -> float:
    """Seconds per outcome: complete each claimed job, write it with the next claim (the worker's
    hot path), then report it as the worker does (``notifier``; None: not at all)."""
    worker, now = WorkerRef("bench", "bench"), datetime.now(timezone.utc)
    until = now + timedelta(seconds=300)
    _, held = store.jobs.settle_and_claim([], worker, now, until)
    started, done = time.perf_counter(), 0
    while held:
        job = held[0]
        token = job.lease_token
        job.succeed(now)
        _, held = store.jobs.settle_and_claim([Outcome(job, token)], worker, now, until)
        if notifier is not None:
            notifier.jobs_finished([Finished(job.id, job.queue)])
        done += 1
    return (time.perf_counter() - started) / max(done, 1)


def outcome_report_cost(report: Report, scratch: Path, n: int, rounds: int = 3) -> None:
    """One SQLite outcome: not reported, reported with no waiter folder, reported to one listening waiter.

    The modes take turns, ``rounds`` times, and each keeps its best: a shared machine's noise only adds."""
    figures: dict[str, float] = {}
    for round_ in range(rounds):
        for mode in ("not reported", "no waiter folder", "one waiter listening"):
            seconds = _one_mode(scratch / f"report-{round_}-{mode.replace(' ', '-')}", mode, n)
            figures[mode] = min(figures.get(mode, seconds), seconds)
    base = figures["not reported"]
    for mode, seconds in figures.items():
        report.add("sqlite", f"outcome + claim, {mode}", f"{seconds * 1e6:,.0f} us", f"{seconds / base:.2f} x")
    for case, waiters in (("no waiter folder", 0), ("empty waiter folder", -1), ("one waiter", 1)):
        report.add("sqlite", f"  of which the report alone, {case}",
                   f"{_report_alone(scratch / f'alone-{waiters}', waiters) * 1e6:,.1f} us")


def _one_mode(home: Path, mode: str, n: int) -> float:
    store = store_for(sqlite_url(home), home)
    store.jobs.add_many(new_jobs(n))
    channel = OutcomeWaitChannel(home) if mode == "one waiter listening" else None
    assert (channel is not None) == waiters_dir(home).exists()
    try:
        return _settle_all(store, None if mode == "not reported" else WakeNotifier(home), n)
    finally:
        if channel is not None:
            channel.close()
        store.close()


def _report_alone(home: Path, waiters: int, calls: int = 20_000) -> float:
    """Seconds per ``jobs_finished`` of one job (the waiters' sockets drained as they fill);
    ``waiters`` -1: the folder of a wait that has ended, empty."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    channels = [OutcomeWaitChannel(home) for _ in range(max(waiters, 0))]
    if waiters < 0:
        OutcomeWaitChannel(home).close()
    notifier, job = WakeNotifier(home), [Finished("bench-job", "default")]
    try:
        started = time.perf_counter()
        for n in range(calls):
            notifier.jobs_finished(job)
            if n % 100 == 0:
                for channel in channels:
                    channel.wait(0)
        return (time.perf_counter() - started) / calls
    finally:
        for channel in channels:
            channel.close()
