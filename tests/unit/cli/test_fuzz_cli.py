"""Property: whatever arguments reach ``enqueue``, ``list``, ``show``, ``stats``, ``config``,
``cancel``, ``retry``, ``update`` and ``dlq``, the CLI answers with exit 0, 1 or 2, never a
traceback or an ``internal error``, never a raw control character in an ``Error:`` line, and a
command that fails changes nothing stored (``retry`` and ``cancel`` of several ids: nothing but
the jobs they name as moved).

Driven in process through click's CliRunner on the in-memory store: hundreds of calls a
second. A quick run here, in every unit run; thousands more in tests/integration/test_fuzz_heavy.py.
"""

from __future__ import annotations

import copy
import re

from click.testing import CliRunner
from dependency_injector import providers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queuectl.adapters.memory import InMemoryStore
from queuectl.container import build_container
from queuectl.domain.ports import Page
from queuectl.entrypoints.cli import cli
from queuectl.entrypoints.context import AppState

from ..fakes import FakeClock
from ...strategies import config_keys, durations, identifier, job_texts, numbers, text, times
from .support import NOW, add, make_dead

QUICK = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
PER_JOB = ("retry", "cancel")  # several ids: one line per job moved, one Error: line per job refused


def _options(**choices) -> st.SearchStrategy[list[str]]:
    """Some of these options, each with a value, in any order."""
    pairs = st.lists(st.sampled_from(sorted(choices)), max_size=4).flatmap(
        lambda names: st.tuples(*[choices[name].map(lambda value, n=name: [n, value]) for name in names]))
    return pairs.map(lambda chosen: [word for pair in chosen for word in pair])


flags = st.lists(st.sampled_from(["--json", "--all", "--help", "--bogus", "-"]), max_size=1)
enqueue_args = st.tuples(
    st.lists(st.one_of(job_texts, text, identifier), max_size=3),
    _options(**{"--id": identifier, "--priority": numbers, "--max-retries": numbers, "--timeout": numbers,
                "--delay": durations, "--run-at": times, "--queue": identifier}),
).map(lambda parts: ["enqueue", *parts[0], *parts[1]])
command_lines = st.one_of(
    enqueue_args,
    st.tuples(_options(**{"--state": text, "--queue": identifier, "--limit": numbers}), flags)
    .map(lambda parts: ["list", *parts[0], *parts[1]]),
    st.tuples(identifier, flags).map(lambda parts: ["show", parts[0], *parts[1]]),
    st.tuples(identifier, flags).map(lambda parts: ["cancel", parts[0], *parts[1]]),
    st.tuples(st.sampled_from(["retry", "cancel"]), st.lists(identifier, max_size=3),
              _options(**{"--state": text, "--queue": identifier}), flags)
    .map(lambda parts: [parts[0], *parts[1], *parts[2], *parts[3]]),
    st.tuples(identifier, _options(**{"--priority": numbers, "--max-retries": numbers, "--timeout": numbers,
                                      "--delay": durations, "--run-at": times, "--queue": identifier}), flags)
    .map(lambda parts: ["update", parts[0], *parts[1], *parts[2]]),
    st.tuples(st.lists(identifier, max_size=2), flags).map(lambda parts: ["dlq", "retry", *parts[0], *parts[1]]),
    st.tuples(_options(**{"--limit": numbers}), flags).map(lambda parts: ["dlq", "list", *parts[0], *parts[1]]),
    st.tuples(_options(**{"--since": durations}), flags).map(lambda parts: ["stats", *parts[0], *parts[1]]),
    st.tuples(config_keys, st.one_of(numbers, durations, text)).map(lambda kv: ["config", "set", *kv]),
    st.tuples(config_keys, flags).map(lambda parts: ["config", "get", parts[0], *parts[1]]),
    st.lists(text, min_size=1, max_size=3),
)
file_inputs = st.lists(job_texts, max_size=4).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogateescape"))


def fresh_app() -> tuple[AppState, InMemoryStore]:
    store = InMemoryStore()
    add(store, "tgt")
    make_dead(store, "d")
    container = build_container("memory://", "/nonexistent/queuectl-fuzz-home")
    container.store.override(providers.Object(store))
    container.clock.override(providers.Object(FakeClock(NOW)))
    return AppState(container=container), store


def stored(store: InMemoryStore) -> tuple[list, dict]:
    jobs = [store.jobs.get(job.id) for job in store.jobs.list(Page(limit=0))]
    return copy.deepcopy([vars(job) for job in jobs]), dict(store.settings.load())


def invoke(args: list[str], input: bytes | None = None):
    app, store = fresh_app()
    before = stored(store)
    result = CliRunner().invoke(cli, args, obj=app, input=input)
    assert result.exit_code in (0, 1, 2), (args, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert "Traceback" not in result.output and "internal error" not in result.output, (args, result.output)
    for line in result.stderr.splitlines():
        assert not RAW_CONTROL.search(line), (args, line)
    return result, store, before


def check_command(args: list[str]) -> None:
    result, store, before = invoke(args)
    if result.exit_code == 1 and args[0] in PER_JOB:  # several ids, each on its own: only the named ones moved
        moved = {line.split()[1] for line in result.stdout.splitlines()}
        errors = result.stderr.splitlines()
        assert errors and all(line.startswith("Error: job '") for line in errors), (args, result.stderr)
        after = {job["id"]: job for job in stored(store)[0]}
        assert {job["id"] for job in before[0] if after[job["id"]] != job} <= moved, args
    elif result.exit_code != 0:
        assert len([line for line in result.stderr.splitlines() if line.startswith("Error:")]) == 1, \
            (args, result.stderr)
        assert stored(store) == before, args


def check_file(content: bytes) -> None:
    result, store, before = invoke(["enqueue", "--file", "-"], input=content)
    added = len(stored(store)[0]) - len(before[0])
    summary = result.stdout.splitlines()[-1]
    assert summary.startswith(f"Enqueued {added} job"), (content[:200], result.output)


@QUICK
@given(command_lines)
def test_any_command_line_exits_0_1_or_2_and_a_failed_one_changes_nothing(args):
    check_command(args)


@QUICK
@given(file_inputs)
def test_any_enqueue_file_stores_exactly_the_lines_it_counts(content):
    check_file(content)

