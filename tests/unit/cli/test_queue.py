"""``queue list`` and ``queue limit``: what the user types and sees."""

from __future__ import annotations

import json

import pytest
from dependency_injector import providers

from queuectl.domain import defaults
from queuectl.domain.model import JobState

from .support import add, make_dead, one_error
from .test_pause import CountingNotifier


def test_queue_limit_stores_the_limit_and_says_so(invoke, store):
    result = invoke("queue", "limit", "deploys", "1")
    assert (result.exit_code, result.stdout) == (0, "Queue 'deploys': at most 1 running job\n")
    assert invoke("queue", "limit", "builds", str(defaults.QUEUE_LIMIT_MAX)).stdout == (
        f"Queue 'builds': at most {defaults.QUEUE_LIMIT_MAX} running jobs\n")
    assert store.queues.limits() == {"deploys": 1, "builds": defaults.QUEUE_LIMIT_MAX}


def test_queue_limit_zero_removes_the_limit(invoke, store):
    invoke("queue", "limit", "deploys", "3")
    result = invoke("queue", "limit", "deploys", "0")
    assert (result.exit_code, result.stdout) == (0, "Queue 'deploys': limit removed\n")
    assert store.queues.limits() == {}


def test_queue_limit_wakes_the_idle_workers_of_this_host(invoke, container):
    notifier = CountingNotifier()
    container.notifier.override(providers.Object(notifier))
    invoke("queue", "limit", "deploys", "0")
    assert notifier.calls == 1


@pytest.mark.parametrize("args", [["deploys", "--", "-1"], ["deploys", "-1"], ["deploys", "100001"],
                                  ["deploys", "1.5"], ["deploys", "abc"], ["deploys", ""], ["deploys", "1e3"],
                                  ["two words", "1"], ["", "1"], ["a/b", "1"], ["x" * 129, "1"], ["deploys"]])
def test_a_bad_limit_or_queue_name_is_a_usage_error_and_nothing_is_stored(invoke, store, args):
    store.queues.set_limit("emails", 2)
    one_error(invoke("queue", "limit", *args), code=2)
    assert store.queues.limits() == {"emails": 2}


def test_queue_list_shows_every_known_queue_with_counts_limit_and_pause(invoke, store):
    add(store, "d1", queue="deploys")
    add(store, "d2", queue="deploys")
    make_dead(store, "broken")
    store.queues.set_limit("deploys", 1)
    store.queues.set_limit("builds", 4)  # limited, no job yet
    store.queues.pause(["nightly"])  # paused, no job yet
    lines = invoke("queue", "list").stdout.splitlines()
    assert lines[0].split() == ["QUEUE", "PENDING", "BLOCKED", "PROCESSING", "FAILED", "DEAD", "DONE", "LIMIT",
                                "PAUSED"]
    assert [line.split() for line in lines[1:]] == [
        ["builds", "0", "0", "0", "0", "0", "0", "4", "no"],
        ["default", "0", "0", "0", "0", "1", "0", "-", "no"],
        ["deploys", "2", "0", "0", "0", "0", "0", "1", "no"],
        ["nightly", "0", "0", "0", "0", "0", "0", "-", "yes"],
    ]


def test_queue_list_json_is_an_array_of_name_jobs_limit_paused(invoke, store):
    add(store, "d1", queue="deploys")
    store.queues.set_limit("deploys", 2)
    store.queues.pause(None)
    result = invoke("queue", "list", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"name": "deploys",
                                          "jobs": {**{state.value: 0 for state in JobState}, "pending": 1},
                                          "limit": 2, "paused": True}]


def test_queue_list_of_an_empty_store_says_so(invoke):
    assert invoke("queue", "list").stdout == "No queues yet.\n"
    assert json.loads(invoke("queue", "list", "--json").stdout) == []
