"""Schedules in the domain, on an injected clock: due ticks, missed ticks collapsing into one run,
exactly one enqueue when workers race, pause and resume, and a worker that a bad schedule or a
store outage never stops."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from queuectl.adapters.cron_calendar import CroniterCalendar
from queuectl.adapters.memory import InMemoryStore
from queuectl.domain import defaults
from queuectl.domain.errors import DuplicateSchedule, InvalidJob, InvalidSchedule, StoreUnavailable
from queuectl.domain.execution import Worker
from queuectl.domain.model import Job, JobState, validate_id
from queuectl.domain.ports import Page, WorkerInfo
from queuectl.domain.schedule_service import ScheduleRunner, ScheduleService
from queuectl.domain.schedules import NAME_MAX_LENGTH, Schedule, run_id
from queuectl.domain.settings import Settings

from .fakes import ClockWaiter, FakeClock, Script

T0 = datetime(2026, 12, 1, 12, 3, 0, tzinfo=timezone.utc)
SETTINGS = Settings()
JOB = {"command": "echo tick", "queue": "reports", "priority": 5, "cwd": "/tmp", "env": {"A": "1"}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def service(store, clock) -> ScheduleService:
    return ScheduleService(store, clock, CroniterCalendar())


def at(hour: int, minute: int) -> datetime:
    return T0.replace(hour=hour, minute=minute)


def jobs(store) -> list[str]:
    return sorted(job.id for job in store.jobs.list(Page(limit=100)))


def test_a_new_schedule_first_runs_at_the_next_tick_after_now(service):
    schedule = service.add("report", "*/5 * * * *", JOB)
    assert schedule.next_run == at(12, 5) and schedule.last_run is None and not schedule.paused


def test_a_schedule_in_a_time_zone_ticks_in_that_zone(service):
    assert service.add("paris", "0 9 * * *", JOB, tz="Europe/Paris").next_run == datetime(
        2026, 12, 2, 8, 0, tzinfo=timezone.utc)


def test_nothing_is_enqueued_before_the_tick_and_the_tick_s_run_once_it_has_come(service, store, clock):
    service.add("report", "*/5 * * * *", JOB)
    runner = ScheduleRunner(store, CroniterCalendar())
    assert runner.run_due(clock.now(), SETTINGS) == []
    clock.current = at(12, 5) + timedelta(seconds=2)
    assert runner.run_due(clock.now(), SETTINGS) == ["report@20261201T1205Z"]
    job = store.jobs.get("report@20261201T1205Z")
    assert (job.command, job.queue, job.priority, job.cwd, job.env) == ("echo tick", "reports", 5, "/tmp", {"A": "1"})
    assert (job.max_retries, job.state) == (SETTINGS.max_retries, JobState.PENDING)
    schedule = store.schedules.get("report")
    assert (schedule.last_run, schedule.next_run, schedule.lease_token) == (at(12, 5), at(12, 10), None)


def test_ticks_missed_while_no_worker_ran_collapse_into_one_run_of_the_latest(service, store, clock):
    service.add("report", "*/5 * * * *", JOB)
    clock.current = at(15, 7)
    assert ScheduleRunner(store, CroniterCalendar()).run_due(clock.now(), SETTINGS) == ["report@20261201T1505Z"]
    assert jobs(store) == ["report@20261201T1505Z"]
    assert store.schedules.get("report").next_run == at(15, 10)


def test_two_workers_checking_at_the_same_moment_enqueue_the_tick_once(service, store, clock):
    service.add("report", "*/5 * * * *", JOB)
    clock.current = at(12, 5)
    first, second = ScheduleRunner(store, CroniterCalendar()), ScheduleRunner(store, CroniterCalendar())
    assert first.run_due(clock.now(), SETTINGS) + second.run_due(clock.now(), SETTINGS) == ["report@20261201T1205Z"]
    assert jobs(store) == ["report@20261201T1205Z"]


def test_a_worker_enqueues_nothing_while_another_holds_the_schedule_s_lease(service, store, clock):
    service.add("report", "*/5 * * * *", JOB)
    clock.current = at(12, 5)
    other = store.schedules.take("report", clock.now(), clock.now() + timedelta(seconds=30), "other")
    assert other is not None and store.schedules.take("report", clock.now(), clock.now(), "mine") is None
    assert ScheduleRunner(store, CroniterCalendar()).run_due(clock.now(), SETTINGS) == []
    assert jobs(store) == []


def test_a_worker_that_died_holding_the_lease_is_taken_over_and_the_tick_still_enqueued_once(service, store, clock):
    service.add("report", "*/5 * * * *", JOB)
    clock.current = at(12, 5)
    store.schedules.take("report", clock.now(), clock.now() + timedelta(seconds=30), "dead-worker")
    store.jobs.add(store.schedules.get("report").job_spec(at(12, 5)).to_job(clock.now(), SETTINGS))  # then died
    clock.advance(31)
    assert ScheduleRunner(store, CroniterCalendar()).run_due(clock.now(), SETTINGS) == []  # already there
    assert jobs(store) == ["report@20261201T1205Z"]
    assert store.schedules.get("report").next_run == at(12, 10)
    assert not store.schedules.advance("report", "dead-worker", at(12, 5), at(12, 10))


def test_a_paused_schedule_enqueues_nothing_and_resume_does_not_replay_missed_ticks(service, store, clock):
    service.add("report", "*/5 * * * *", JOB)
    assert service.pause("report").paused
    clock.current = at(13, 1)
    runner = ScheduleRunner(store, CroniterCalendar())
    assert runner.run_due(clock.now(), SETTINGS) == [] and jobs(store) == []
    resumed = service.resume("report")
    assert not resumed.paused and resumed.next_run == at(13, 5)
    clock.current = at(13, 5)
    assert ScheduleRunner(store, CroniterCalendar()).run_due(clock.now(), SETTINGS) == ["report@20261201T1305Z"]


def test_a_worker_asks_the_store_for_due_schedules_at_most_once_per_check_interval(store, clock):
    calls = []
    due = store.schedules.due
    store.schedules.due = lambda now, limit: calls.append(now) or due(now, limit)
    runner = ScheduleRunner(store, CroniterCalendar())
    for _ in range(10):
        runner.run_due(clock.now(), SETTINGS)
        clock.advance(defaults.SCHEDULE_CHECK_SECONDS / 5)
    assert len(calls) == 2


def test_a_bad_stored_expression_is_skipped_and_the_other_schedules_still_run(service, store, clock):
    service.add("good", "*/5 * * * *", JOB)
    store.schedules.add(Schedule("bad", "99 * * * *", dict(JOB, max_retries=None, timeout=None), at(12, 0), T0))
    clock.current = at(12, 5)
    assert ScheduleRunner(store, CroniterCalendar()).run_due(clock.now(), SETTINGS) == ["good@20261201T1205Z"]


def test_a_store_outage_is_logged_and_never_raised(store, clock, caplog):
    def down(now, limit):
        raise StoreUnavailable("connection refused")

    store.schedules.due = down
    assert ScheduleRunner(store, CroniterCalendar()).run_due(clock.now(), SETTINGS) == []
    assert "store unavailable" in caplog.text


def test_a_worker_enqueues_and_runs_the_due_run_in_its_loop(service, store, clock, runner):
    service.add("report", "*/5 * * * *", {"command": "true"})
    clock.current = at(12, 5)
    info = WorkerInfo("w1", "host", 100, 1.0, (), clock.now(), clock.now())
    store.workers.register(info)
    worker = Worker(store, clock, runner, ClockWaiter(clock), info,
                    scheduler=ScheduleRunner(store, CroniterCalendar()))
    assert worker.run_once().id == "report@20261201T1205Z"
    worker.flush()
    assert store.jobs.get("report@20261201T1205Z").state is JobState.COMPLETED


def test_a_worker_busy_with_a_long_job_enqueues_a_due_run_at_its_next_lease_renewal(service, store, clock, runner):
    service.add("report", "*/5 * * * *", {"command": "true"})
    clock.current = at(12, 4)
    store.jobs.add(Job.new("long", "sleep 120", clock.now()))
    runner.scripts["long"] = [Script(duration=120)]
    info = WorkerInfo("w1", "host", 100, 1.0, (), clock.now(), clock.now())
    store.workers.register(info)
    worker = Worker(store, clock, runner, ClockWaiter(clock), info,
                    scheduler=ScheduleRunner(store, CroniterCalendar()))
    assert worker.run_once().id == "long"
    run = store.jobs.get("report@20261201T1205Z")
    assert run.created_at <= at(12, 5) + timedelta(seconds=SETTINGS.lease_seconds / 3 + 1)


def test_adding_a_name_that_exists_changes_nothing(service, store):
    service.add("report", "*/5 * * * *", JOB)
    with pytest.raises(DuplicateSchedule, match="schedule 'report' already exists"):
        service.add("report", "0 * * * *", {"command": "other"})
    assert store.schedules.get("report").cron == "*/5 * * * *"


@pytest.mark.parametrize("cron", ["* * * *", "* * * * * *", "@hourly", "61 * * * *", "0 0 31 2 *",
                                  "* * * * *\n* * * * *", "x" * 300])
def test_a_cron_expression_that_is_not_five_valid_fields_is_refused(service, store, cron):
    with pytest.raises(InvalidSchedule):
        service.add("report", cron, JOB)
    assert store.schedules.list() == []


@pytest.mark.parametrize("tz", ["Mars/Olympus", "../etc/passwd", "", "Europe/Paris\n", "x" * 100])
def test_an_unknown_time_zone_is_refused(service, tz):
    with pytest.raises(InvalidSchedule, match="unknown time zone"):
        service.add("report", "* * * * *", JOB, tz=tz)


def test_a_name_leaves_room_for_the_tick_within_the_id_length_and_its_runs_are_valid_job_ids(service):
    longest = "n" * NAME_MAX_LENGTH
    service.add(longest, "* * * * *", JOB)
    assert validate_id(run_id(longest, T0)) == longest + "@20261201T1203Z"
    assert len(run_id(longest, T0)) == defaults.ID_MAX_LENGTH
    for name in ("n" * (NAME_MAX_LENGTH + 1), "a@b", "a b", "report\n"):
        with pytest.raises(InvalidSchedule, match="invalid schedule name"):
            service.add(name, "* * * * *", JOB)


def test_a_schedule_s_job_is_checked_as_enqueue_checks_one_and_takes_no_id_or_time(service):
    with pytest.raises(InvalidJob):
        service.add("report", "* * * * *", {"command": "x", "priority": 10 ** 12})
    with pytest.raises(InvalidJob, match="takes no 'id'"):
        service.add("report", "* * * * *", {"command": "x", "id": "fixed"})


def test_a_schedule_stored_with_values_of_the_wrong_kind_is_skipped_and_the_others_run(service, store, clock):
    service.add("good", "*/5 * * * *", JOB)
    store.schedules.add(Schedule("bad-job", "* * * * *", "not a mapping", at(12, 0), T0))
    store.schedules.add(Schedule("bad-zone", "* * * * *", JOB, at(12, 0), T0, tz=None))
    clock.current = at(12, 5)
    assert ScheduleRunner(store, CroniterCalendar()).run_due(clock.now(), SETTINGS) == ["good@20261201T1205Z"]
