"""The interactive shell fed piped lines, and its tab completion."""

from __future__ import annotations

from click.testing import CliRunner

from queuectl.entrypoints.cli import cli
from queuectl.entrypoints.context import AppState
from queuectl.entrypoints.completion import candidates

from .support import all_jobs, error_lines, one_error


def test_the_shell_runs_piped_lines_and_a_failing_line_does_not_stop_the_next(invoke, store):
    lines = "enqueue a 'echo one'\nshow nope\n\n# a comment\nenqueue '{\"id\":\"b\",\"command\":\"true\"}'\nlist\n"
    result = invoke(input=lines)
    assert result.exit_code == 0
    assert error_lines(result) == ["Error: job 'nope' not found"]
    assert "queuectl >" not in result.output
    assert result.stdout.startswith("Enqueued job 'a': echo one\nEnqueued job 'b': true\n")
    assert sorted(j.id for j in all_jobs(store)) == ["a", "b"]


def test_the_shell_reports_usage_errors_and_unbalanced_quotes_and_goes_on(invoke, store):
    result = invoke(input="list --state nope\nenqueue 'unclosed\nbogus\nenqueue a true\n")
    assert result.exit_code == 0 and len(error_lines(result)) == 3
    assert store.jobs.get("a").command == "true"


def test_the_shell_accepts_lines_pasted_with_the_queuectl_prefix(invoke, store):
    result = invoke(input="queuectl enqueue a true\nqueuectl list --json\n")
    assert result.exit_code == 0 and '"id": "a"' in result.stdout


def test_the_shell_stops_at_exit_or_quit(invoke, store):
    for word in ("exit", "quit"):
        result = invoke(input=f"enqueue {word}1 true\n{word}\nenqueue after true\n")
        assert result.exit_code == 0
    assert sorted(j.id for j in all_jobs(store)) == ["exit1", "quit1"]


def test_the_shell_help_lists_the_commands_and_help_cmd_shows_one(invoke):
    out = invoke(input="help\nhelp dlq retry\n").stdout
    assert "Commands:" in out and "enqueue" in out and "exit or quit" in out
    assert "Usage: queuectl dlq retry" in out and "--all" in out


def test_the_shell_refuses_global_options_on_a_line(invoke, store):
    result = invoke(input="--db sqlite:///other.db list\n")
    assert result.exit_code == 0 and "--home and --db are chosen when the shell starts" in one_error(result, 0)


def test_the_shell_keeps_one_store_for_the_whole_session(tmp_path):
    state = AppState(home=str(tmp_path / "home"), db="memory://")
    result = CliRunner().invoke(cli, [], input="enqueue a true\nlist --json\n", obj=state)
    assert result.exit_code == 0
    assert '"id": "a"' in result.stdout


def test_shell_completion_offers_commands_subcommands_options_and_choices():
    top = candidates(cli, "")[0]
    assert top == sorted(top) and set(cli.commands) | {"help", "exit", "quit"} == set(top)
    assert candidates(cli, "dl") == (["dlq"], "dl")
    assert candidates(cli, "dlq ")[0] == ["list", "retry"]
    assert candidates(cli, "list --st") == (["--state"], "--st")
    assert candidates(cli, "list --state ")[0] == ["blocked", "cancelled", "completed", "dead", "failed", "pending",
                                                     "processing"]
    assert candidates(cli, "help con") == (["config"], "con")
    assert "--home" not in candidates(cli, "--")[0]
    assert candidates(cli, "enqueue 'open")[0] == []
