"""The store contract of schedules (SPEC 9.3), on every store.

Names are unique; ``due`` finds the running schedules whose tick has come and
whose lease is free; ``take`` gives a schedule's lease to one caller only, also
when workers race from several processes' store objects; ``advance`` needs the
lease's token. Time is a fixed fake ``NOW`` (whole milliseconds, as BSON keeps it).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from queuectl.container import build_container
from queuectl.domain.errors import DuplicateSchedule, ScheduleNotFound
from queuectl.domain.ports import Store
from queuectl.domain.schedules import Schedule

NOW = datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)
JOB = {"command": "echo hi", "queue": "reports", "priority": 3, "max_retries": None, "timeout": 60.0,
       "cwd": "/srv/app", "env": {"MODE": "nightly"}}


def schedule(name: str, next_run: datetime = NOW, paused: bool = False) -> Schedule:
    return Schedule(name=name, cron="* * * * *", job=JOB, next_run=next_run, created_at=NOW - MINUTE,
                    tz="Europe/Paris", paused=paused)


def test_a_schedule_reads_back_as_it_was_added(store):
    store.schedules.add(schedule("nightly"))
    assert store.schedules.get("nightly") == schedule("nightly")
    assert store.schedules.get("nightly").job == JOB


def test_a_name_is_taken_once_and_a_second_add_changes_nothing(store):
    store.schedules.add(schedule("nightly"))
    with pytest.raises(DuplicateSchedule):
        store.schedules.add(schedule("nightly", next_run=NOW + MINUTE, paused=True))
    assert store.schedules.list() == [schedule("nightly")]


def test_list_is_by_name_and_remove_deletes_one(store):
    for name in ("b", "a", "c"):
        store.schedules.add(schedule(name))
    assert [s.name for s in store.schedules.list()] == ["a", "b", "c"]
    assert store.schedules.remove("b").name == "b"
    assert [s.name for s in store.schedules.list()] == ["a", "c"]


def test_an_unknown_name_is_not_found_for_every_call_that_names_one(store):
    for call in (lambda: store.schedules.get("x"), lambda: store.schedules.remove("x"),
                 lambda: store.schedules.set_paused("x", True)):
        with pytest.raises(ScheduleNotFound, match="schedule 'x' not found"):
            call()


def test_pause_keeps_the_next_run_and_resume_sets_it(store):
    store.schedules.add(schedule("nightly"))
    assert store.schedules.set_paused("nightly", True).paused
    assert store.schedules.get("nightly").next_run == NOW
    resumed = store.schedules.set_paused("nightly", False, NOW + 5 * MINUTE)
    assert (resumed.paused, resumed.next_run) == (False, NOW + 5 * MINUTE)


def test_due_finds_running_schedules_whose_tick_has_come_earliest_first(store):
    store.schedules.add(schedule("later", NOW + MINUTE))
    store.schedules.add(schedule("paused", NOW - MINUTE, paused=True))
    store.schedules.add(schedule("b-now", NOW))
    store.schedules.add(schedule("a-earlier", NOW - 2 * MINUTE))
    assert [s.name for s in store.schedules.due(NOW, 10)] == ["a-earlier", "b-now"]
    assert [s.name for s in store.schedules.due(NOW, 1)] == ["a-earlier"]


def test_a_taken_schedule_is_not_due_and_not_taken_again_until_its_lease_ends(store):
    store.schedules.add(schedule("nightly"))
    taken = store.schedules.take("nightly", NOW, NOW + MINUTE, "token-1")
    assert taken is not None and (taken.lease_token, taken.lease_until) == ("token-1", NOW + MINUTE)
    assert store.schedules.due(NOW, 10) == []
    assert store.schedules.take("nightly", NOW, NOW + MINUTE, "token-2") is None
    assert store.schedules.take("nightly", NOW + MINUTE, NOW + 2 * MINUTE, "token-2").lease_token == "token-2"


def test_a_schedule_not_due_or_paused_or_missing_is_not_taken(store):
    store.schedules.add(schedule("later", NOW + MINUTE))
    store.schedules.add(schedule("paused", NOW, paused=True))
    for name in ("later", "paused", "missing"):
        assert store.schedules.take(name, NOW, NOW + MINUTE, "t") is None


def test_advance_needs_the_lease_s_token_and_frees_the_lease(store):
    store.schedules.add(schedule("nightly"))
    store.schedules.take("nightly", NOW, NOW + MINUTE, "token-1")
    assert not store.schedules.advance("nightly", "stale", NOW, NOW + MINUTE)
    assert store.schedules.advance("nightly", "token-1", NOW, NOW + MINUTE)
    advanced = store.schedules.get("nightly")
    assert (advanced.last_run, advanced.next_run, advanced.lease_token, advanced.lease_until) == (
        NOW, NOW + MINUTE, None, None)
    assert not store.schedules.advance("nightly", "token-1", NOW, NOW + 2 * MINUTE)


def test_workers_racing_for_a_schedule_from_their_own_store_objects_give_one_lease(shared_store_url, home: Path):
    opened = [build_container(shared_store_url, str(home)).store() for _ in range(6)]
    opened[0].schedules.add(schedule("nightly"))
    won: list[str] = []
    start = threading.Barrier(len(opened))

    def race(store: Store, token: str) -> None:
        start.wait()
        if store.schedules.take("nightly", NOW, NOW + MINUTE, token) is not None:
            won.append(token)

    threads = [threading.Thread(target=race, args=(s, f"t{i}")) for i, s in enumerate(opened)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(won) == 1 and opened[1].schedules.get("nightly").lease_token == won[0]
    finally:
        for store in opened:
            store.close()


def corrupt(store_url: str, home: Path, name: str) -> None:
    """Write a due schedule whose stored fields are unreadable, behind the repository's back."""
    if store_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        conn.execute("INSERT INTO schedules VALUES (?, '* * * * *', 'UTC', '{not json', 0, ?, ?, NULL, NULL, NULL)",
                     (name, NOW.timestamp(), NOW.timestamp()))
        conn.commit()
        conn.close()
    else:
        import pymongo

        client = pymongo.MongoClient(store_url)
        client.get_default_database()["schedules"].insert_one({"_id": name, "paused": False, "next_run": NOW})
        client.close()


def test_a_row_edited_into_something_unreadable_is_skipped_by_due(shared_store_url, home: Path):
    store = build_container(shared_store_url, str(home)).store()
    try:
        store.schedules.add(schedule("good"))
        corrupt(shared_store_url, home, "bad")
        assert [s.name for s in store.schedules.due(NOW, 10)] == ["good"]
    finally:
        store.close()
