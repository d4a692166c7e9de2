"""``pause`` / ``resume`` and the paused queues in ``status``: what the user types and sees."""

from __future__ import annotations

import json

import pytest
from dependency_injector import providers

from queuectl.domain import defaults
from queuectl.domain.pausing import Paused
from queuectl.domain.ports import Notifier

from .support import one_error


class CountingNotifier(Notifier):
    def __init__(self) -> None:
        self.calls = 0

    def jobs_changed(self) -> None:
        self.calls += 1


def test_pause_with_queues_pauses_those_queues(invoke, store):
    result = invoke("pause", "--queue", "nightly", "--queue", "weekly")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Paused queues nightly, weekly (running jobs go on)\n"
    assert store.queues.paused() == Paused(queues=frozenset({"nightly", "weekly"}))


def test_pause_alone_pauses_every_queue_and_status_says_so(invoke, store):
    assert invoke("pause").stdout == "Paused every queue, also queues first used later (running jobs go on)\n"
    assert store.queues.paused() == Paused(all=True)
    assert "\nPaused: every queue\n" in invoke("status").stdout
    assert json.loads(invoke("status", "--json").stdout)["paused"] == {"all": True, "queues": [], "resumed": []}


def test_resume_of_one_queue_under_a_global_pause_says_the_rest_stays_paused(invoke, store):
    invoke("pause")
    result = invoke("resume", "--queue", "urgent")
    assert result.stdout == "Resumed queue urgent; every other queue stays paused\n"
    assert "Paused: every queue except urgent" in invoke("status").stdout
    assert json.loads(invoke("status", "--json").stdout)["paused"] == {
        "all": True, "queues": [], "resumed": ["urgent"]}


def test_resume_alone_resumes_everything_and_status_shows_no_paused_line(invoke, store):
    invoke("pause", "--queue", "nightly")
    assert "Paused: nightly" in invoke("status").stdout
    assert invoke("resume").stdout == "Resumed every queue\n"
    assert store.queues.paused() == Paused()
    assert "Paused" not in invoke("status").stdout
    assert json.loads(invoke("status", "--json").stdout)["paused"] == {"all": False, "queues": [], "resumed": []}


def test_resume_wakes_the_idle_workers_of_this_host(invoke, container):
    notifier = CountingNotifier()
    container.notifier.override(providers.Object(notifier))
    invoke("pause")
    assert notifier.calls == 0
    invoke("resume", "--queue", "nightly")
    invoke("resume")
    assert notifier.calls == 2


@pytest.mark.parametrize("command", ["pause", "resume"])
@pytest.mark.parametrize("bad", ["", "two words", "a/b", "nightly\n", "*", "x" * 129])
def test_an_invalid_queue_name_is_a_usage_error_and_nothing_is_stored(invoke, store, command, bad):
    store.queues.pause(None)
    error = one_error(invoke(command, "--queue", "ok", "--queue", bad), code=2)
    assert "invalid queue name" in error
    assert store.queues.paused() == Paused(all=True)


def test_pausing_more_queues_by_name_than_the_bound_is_one_error_and_nothing_is_stored(invoke, store):
    names = [f"q{n}" for n in range(defaults.PAUSED_QUEUES_MAX)]
    store.queues.pause(names)
    error = one_error(invoke("pause", "--queue", "one-more"))
    assert f"at most {defaults.PAUSED_QUEUES_MAX} queues" in error
    assert len(store.queues.paused().queues) == defaults.PAUSED_QUEUES_MAX
