"""The shell's tab completion against a real SQLite store file: job ids, config keys, choices.

Completions are asked the way prompt_toolkit asks them (``Document``,
``CompleteEvent``), from the completer the interactive shell installs.
"""

from __future__ import annotations

import threading

import click
import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from queuectl.domain import defaults
from queuectl.domain.settings import KEYS
from queuectl.domain.specs import JobSpec
from queuectl.entrypoints import params
from queuectl.entrypoints.cli import cli
from queuectl.entrypoints.completion import StoreValues, make_completer, shell_values
from queuectl.entrypoints.context import AppState

# Lookups answer as soon as the store does; the cap itself is tested with a store that hangs.
WAIT = 60.0


@pytest.fixture
def state(tmp_path):
    state = AppState(home=str(tmp_path / "home"), db=f"sqlite:///{tmp_path / 'home' / 'queue.db'}")
    yield state
    state.close()


def enqueue(state: AppState, *job_ids: str) -> None:
    state.jobs().enqueue_many([JobSpec("true", id=job_id) for job_id in job_ids])


def complete(line: str, values, group: click.Group = cli) -> list[str]:
    completions = list(make_completer(group, values).get_completions(Document(line), CompleteEvent()))
    partial = line.split(" ")[-1]
    assert all(c.start_position == -len(partial) for c in completions)  # each replaces the typed word
    return [c.text for c in completions]


def test_tab_after_each_command_that_takes_a_job_id_offers_the_stored_ids_newest_first(state):
    enqueue(state, "build-1", "deploy-1", "build-2")
    values = shell_values(state, seconds=WAIT)
    for command in ("show", "logs", "cancel", "remove", "retry", "update", "dlq retry", "logs --follow",
                    "cancel build-1", "retry --queue q", "update --priority 5"):
        assert complete(f"{command} bu", values) == ["build-2", "build-1"], command
        assert complete(f"{command} ", values) == ["build-2", "deploy-1", "build-1"], command


def test_a_command_added_later_with_a_job_id_argument_completes_ids_without_an_edit(state):
    @click.group()
    def group() -> None: ...

    @group.command("frobnicate")
    @click.option("--queue", type=params.QUEUE)
    @click.argument("target", type=params.JOB_ID, nargs=-1)
    def frobnicate(queue: str | None, target: tuple[str, ...]) -> None: ...

    enqueue(state, "a1", "a2", "b1")
    values = shell_values(state, seconds=WAIT)
    assert complete("frobnicate a", values, group) == ["a2", "a1"]
    assert complete("frobnicate --queue q a1 b", values, group) == ["b1"]  # past an option's value, repeatable


def test_no_more_ids_once_the_one_id_a_command_takes_is_typed(state):
    enqueue(state, "job-1")
    values = shell_values(state, seconds=WAIT)
    assert complete("show job-1 ", values) == []
    assert complete("update job-1 ", values) == []
    assert complete("enqueue j", values) == []  # a new job's id is not one the store has
    assert complete("list --limit ", values) == []


def test_at_most_the_completion_limit_of_ids_is_offered_the_newest(state):
    enqueue(state, *(f"job-{n:03}" for n in range(defaults.COMPLETION_LIMIT + 10)))
    offered = complete("show job-", shell_values(state, seconds=WAIT))
    assert len(offered) == defaults.COMPLETION_LIMIT
    assert offered[0] == f"job-{defaults.COMPLETION_LIMIT + 9:03}" and offered[-1] == "job-010"


def test_config_get_and_set_complete_the_keys_and_not_the_value(state):
    values = shell_values(state, seconds=WAIT)
    assert complete("config get ", values) == sorted(KEYS)
    assert complete("config set max", values) == [key for key in sorted(KEYS) if key.startswith("max")]
    assert complete("config set max_retries ", values) == []


def test_queue_options_offer_the_default_paused_and_served_queues(state):
    from datetime import timedelta

    from queuectl.domain.ports import WorkerInfo

    state.queues().pause(["nightly"])
    now = state.container.clock().now()
    state.container.store().workers.register(WorkerInfo("w1", "host1", 4242, 1.0, ("emails", "images"),
                                                        now - timedelta(minutes=1), now))
    values = shell_values(state, seconds=WAIT)
    assert complete("list --queue ", values) == ["default", "emails", "images", "nightly"]
    assert complete("resume --queue n", values) == ["nightly"]
    assert complete("enqueue --queue e", values) == ["emails"]


def test_option_choices_still_complete(state):
    values = shell_values(state, seconds=WAIT)
    assert complete("list --state d", values) == ["dead"]
    assert complete("list --st", values) == ["--state"]


def test_a_store_that_cannot_be_read_offers_nothing_and_prints_nothing(tmp_path, capsys):
    broken = AppState(home=str(tmp_path / "home"), db=f"sqlite:///{tmp_path / 'missing' / 'queue.db'}")
    assert complete("show ", shell_values(broken, seconds=WAIT)) == []
    assert complete("show a", shell_values(broken, seconds=WAIT)) == []
    assert complete("show bad/prefix", shell_values(broken, seconds=WAIT)) == []
    assert complete("pause --queue ", shell_values(broken, seconds=WAIT)) == []
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


class HangingJobs:
    """A job service whose store does not answer until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def ids_starting(self, prefix: str) -> list[str]:
        self.calls += 1
        assert self.release.wait(timeout=60)
        return ["late-1"]


def test_a_store_that_does_not_answer_offers_nothing_and_one_lookup_waits_at_a_time():
    hanging = HangingJobs()
    values = StoreValues(lambda: hanging, seconds=0.05)
    try:
        assert complete("show ", values) == []
        assert complete("show l", values) == []  # the first lookup still hangs: no second one
        assert hanging.calls == 1
    finally:
        hanging.release.set()
    values = StoreValues(lambda: hanging, seconds=30)
    assert complete("show l", values) == ["late-1"]


def test_queue_offers_its_subcommands_and_queue_limit_the_known_queues(state):
    state.queues().set_limit("deploys", 1)
    values = shell_values(state, seconds=WAIT)
    assert complete("que", values) == ["queue"]
    assert complete("queue ", values) == ["limit", "list"]
    assert complete("queue limit d", values) == ["default", "deploys"]
    assert complete("list --queue dep", values) == ["deploys"]
