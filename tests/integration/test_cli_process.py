"""The real CLI in subprocesses: console script and ``python -m queuectl`` on a real SQLite file."""

from __future__ import annotations

import json
import os
import select
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

STORE_VARIABLES = ("QUEUECTL_HOME", "QUEUECTL_DB", "MONGO_URI", "QUEUECTL_DEBUG", "XDG_DATA_HOME")
TIMEOUT = 60


def console_script() -> str | None:
    beside = Path(sys.executable).parent / "queuectl"
    return str(beside) if beside.exists() else shutil.which("queuectl")


@pytest.fixture
def run(tmp_path: Path):
    """Run queuectl in a clean environment (no store variables) from an empty working directory."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()

    def run(*args: str, env: dict[str, str] | None = None, stdin: str | Path = "",
            script: bool = False) -> subprocess.CompletedProcess[str]:
        command = [console_script() or pytest.skip("the queuectl console script is not installed")] if script \
            else [sys.executable, "-m", "queuectl"]
        base = {k: v for k, v in os.environ.items() if k not in STORE_VARIABLES}
        base["HOME"] = str(tmp_path / "user")
        if isinstance(stdin, Path):
            with stdin.open() as source:
                return subprocess.run([*command, *args], stdin=source, capture_output=True, text=True,
                                      env={**base, **(env or {})}, cwd=cwd, timeout=TIMEOUT)
        return subprocess.run([*command, *args], input=stdin, capture_output=True, text=True,
                              env={**base, **(env or {})}, cwd=cwd, timeout=TIMEOUT)

    run.cwd = cwd  # type: ignore[attr-defined]
    return run


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_the_readme_first_run_flow_works_with_the_console_script(run, tmp_path):
    home = str(tmp_path / "home")
    enqueued = run("--home", home, "enqueue", '{"id":"job1","command":"echo hi"}', script=True)
    assert (enqueued.returncode, enqueued.stdout, enqueued.stderr) == (0, "Enqueued job 'job1': echo hi\n", "")
    listed = run("--home", home, "list", script=True)
    assert listed.returncode == 0 and listed.stdout.splitlines()[1].split()[:2] == ["job1", "pending"]
    shown = run("--home", home, "show", "job1", "--json", script=True)
    assert shown.returncode == 0 and '"command": "echo hi"' in shown.stdout


def test_the_home_and_the_database_are_owner_only(run, tmp_path):
    home = tmp_path / "fresh" / "queuectl"
    assert run("enqueue", "echo hi", env={"QUEUECTL_HOME": str(home)}).returncode == 0
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "queue.db").stat().st_mode) == 0o600


def test_the_default_home_is_under_xdg_data_home(run, tmp_path):
    assert run("enqueue", "true", env={"XDG_DATA_HOME": str(tmp_path / "xdg")}).returncode == 0
    assert (tmp_path / "xdg" / "queuectl" / "queue.db").is_file()


def test_a_dotenv_file_chooses_the_store_and_the_real_environment_wins(run, tmp_path):
    dotenv_db, env_db = tmp_path / "dotenv.db", tmp_path / "env.db"
    (run.cwd / ".env").write_text(f"QUEUECTL_DB=sqlite:///{dotenv_db}\n")
    assert run("--home", str(tmp_path / "h"), "enqueue", "a", "true").returncode == 0
    assert dotenv_db.is_file()
    result = run("--home", str(tmp_path / "h"), "list", "--json", env={"QUEUECTL_DB": f"sqlite:///{env_db}"})
    assert (result.returncode, result.stderr) == (1, f"Error: no store at {env_db}\n")
    assert not env_db.exists()


def test_a_dotenv_mongo_uri_is_used_unless_the_environment_sets_queuectl_db(run, tmp_path):
    (run.cwd / ".env").write_text("MONGO_URI=mongodb://queuectl:s3cret@127.0.0.1:1/q?serverSelectionTimeoutMS=500\n")
    from_dotenv = run("--home", str(tmp_path / "h"), "list")
    note, error = from_dotenv.stderr.splitlines()
    assert note == "note: .env sets MONGO_URI; using mongodb://queuectl:****@127.0.0.1:1/q?serverSelectionTimeoutMS=500"
    assert from_dotenv.returncode == 1 and error.startswith("Error: ") and "s3cret" not in error
    assert run("--db", f"sqlite:///{tmp_path / 'e.db'}", "enqueue", "true").returncode == 0
    from_env = run("--home", str(tmp_path / "h"), "list", env={"QUEUECTL_DB": f"sqlite:///{tmp_path / 'e.db'}"})
    assert (from_env.returncode, from_env.stdout.split()[-1], from_env.stderr) == (0, "true", "")


def test_from_a_deleted_directory_list_works_and_enqueue_asks_for_cwd(tmp_path):
    """The shell's directory was removed under it: no .env to read there, and no job recorded in it."""
    gone, home = tmp_path / "gone", str(tmp_path / "home")
    env = {k: v for k, v in os.environ.items() if k not in STORE_VARIABLES}

    def run_in_gone(*args: str) -> subprocess.CompletedProcess[str]:
        gone.mkdir()
        script = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
        return subprocess.run(["sh", "-c", script, "sh", str(gone), sys.executable, "-m", "queuectl",
                               "--home", home, *args], capture_output=True, text=True, env=env, timeout=TIMEOUT)

    assert run_in_gone("enqueue", "--cwd", "/tmp", "--id", "there", "--", "true").returncode == 0
    enqueued = run_in_gone("enqueue", "--", "true")
    assert enqueued.returncode == 1
    assert one_error_line(enqueued) == "Error: the current directory no longer exists: give --cwd DIR"
    listed = run_in_gone("list")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["there"]


def test_an_unknown_store_scheme_is_one_error_line(run, tmp_path):
    result = run("--home", str(tmp_path / "h"), "--db", "redis://x", "list")
    assert result.returncode == 1
    assert "unsupported store URL scheme 'redis'" in one_error_line(result)


def test_a_mongodb_url_fails_with_one_clear_error_line_without_its_password(run, tmp_path):
    url = "mongodb://queuectl:s3cret@127.0.0.1:1/q?serverSelectionTimeoutMS=500&connectTimeoutMS=500"
    result = run("--home", str(tmp_path / "h"), "--db", url, "status")
    assert result.returncode == 1
    line = one_error_line(result)
    assert "s3cret" not in line and ("MongoDB" in line or "mongodb" in line.lower())


def test_python_m_queuectl_help_works_without_importing_the_store_drivers(run):
    result = run("--help")
    assert result.returncode == 0 and "enqueue" in result.stdout and result.stderr == ""
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys\nfrom queuectl.entrypoints.cli import run, AppState\nrun(['--help'], AppState())\n"
         "heavy = ('sqlalchemy', 'pymongo', 'psycopg', 'prompt_toolkit', 'dependency_injector')\n"
         "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in heavy or m == 'queuectl.container'))"],
        capture_output=True, text=True, timeout=TIMEOUT)
    assert probe.stdout.splitlines()[-1] == "LOADED []"


def test_a_usage_error_exits_2_with_clicks_usage_text(run, tmp_path):
    result = run("--home", str(tmp_path / "h"), "list", "--state", "sleeping")
    assert result.returncode == 2 and result.stderr.startswith("Usage: queuectl list")
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [
        "Error: Invalid value for '--state': 'sleeping' is not one of 'pending', 'blocked', 'processing', 'completed', "
        "'failed', 'dead', 'cancelled'."]


def test_the_shell_runs_piped_commands_without_a_prompt_and_exits_0(run, tmp_path):
    commands = tmp_path / "cmds.txt"
    commands.write_text("# set-up\nenqueue job1 'echo hi'\n\nshow nope\nenqueue '{\"id\":\"job2\",\"command\":\"true\"}'\n"
                        "list\nstatus --json\n")
    result = run("--home", str(tmp_path / "h"), stdin=commands, script=True)
    assert result.returncode == 0
    assert "queuectl >" not in result.stdout + result.stderr
    assert result.stdout.startswith("Enqueued job 'job1': echo hi\nEnqueued job 'job2': true\n")
    assert one_error_line(result) == "Error: job 'nope' not found"
    assert '"pending": 2' in result.stdout
    listed = run("--home", str(tmp_path / "h"), "list", "--json")
    assert '"id": "job1"' in listed.stdout and '"id": "job2"' in listed.stdout


class Terminal:
    """The parent side of a pseudo-terminal: write keys, wait for output."""

    def __init__(self, fd: int, timeout: float) -> None:
        self.fd = fd
        self.deadline = time.monotonic() + timeout
        self.pending = b""

    def send(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def expect(self, marker: bytes) -> bytes:
        """Output up to and including ``marker``; the rest stays for the next call."""
        while marker not in self.pending:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, self.deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"{marker!r} not seen in {self.pending!r}")
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise EOFError(f"{marker!r} not seen before the end: {self.pending!r}")
            self.pending += chunk
        seen, _, self.pending = self.pending.partition(marker)
        return seen + marker


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a Linux pseudo-terminal")
def test_the_shell_on_a_terminal_prompts_completes_keeps_history_and_ends_on_ctrl_d(tmp_path):
    import pty

    home = tmp_path / "home"
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in STORE_VARIABLES}
    env.update(TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", HOME=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-m", "queuectl", "--home", str(home)], stdin=slave,
                               stdout=slave, stderr=slave, env=env, cwd=tmp_path, close_fds=True)
    os.close(slave)
    terminal = Terminal(master, TIMEOUT)
    try:
        terminal.expect(b"queuectl >")
        terminal.send(b"enqueue job1 'echo hi'\r")
        terminal.expect(b"Enqueued job 'job1': echo hi")
        terminal.send(b"show nope\r")
        terminal.expect(b"Error: job 'nope' not found")
        terminal.expect(b"queuectl >")
        terminal.send(b"lis")
        terminal.expect(b" list ")  # the completion menu offers it
        terminal.send(b"\t")
        terminal.expect(b" list ")  # Tab took it
        terminal.send(b"\r")
        terminal.expect(b"RUN_AT/UPDATED")
        terminal.expect(b"queuectl >")
        terminal.send(b"\x04")  # Ctrl-D
        assert process.wait(timeout=TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    history = home / "shell_history"
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    assert "+enqueue job1 'echo hi'" in history.read_text() and "+list" in history.read_text()


HEAVY_PROBE = ("import atexit, sys\n"
               "atexit.register(lambda: print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & "
               "{'sqlalchemy', 'pymongo', 'psycopg', 'prompt_toolkit', 'starlette'}), flush=True))\n"
               "from queuectl.entrypoints.cli import run, AppState\nrun(sys.argv[1:], AppState())\n")


def test_enqueue_and_a_worker_on_an_existing_store_never_import_sqlalchemy(run, tmp_path):
    """The hot paths run on the stdlib driver: SQLAlchemy costs ~0.25 s and ~23 MB per process."""
    home = str(tmp_path / "home")
    env = {**{k: v for k, v in os.environ.items() if k not in STORE_VARIABLES}, "HOME": home}
    assert run("--home", home, "config", "set", "poll_interval", "0.05").returncode == 0  # creates the schema
    enqueued = subprocess.run([sys.executable, "-c", HEAVY_PROBE, "--home", home, "enqueue", "echo hi"],
                              capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert enqueued.stdout.splitlines()[-1] == "LOADED []", enqueued.stderr
    worker = subprocess.Popen([sys.executable, "-c", HEAVY_PROBE, "--home", home, "worker", "run"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + TIMEOUT
        while "completed" not in run("--home", home, "list").stdout and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "completed" in run("--home", home, "list").stdout
    finally:
        worker.terminate()
        out, err = worker.communicate(timeout=TIMEOUT)
    assert out.splitlines()[-1] == "LOADED []", err


EVERYDAY_PROBE = ("import json, sys\n"
                  "from queuectl.entrypoints.cli import run, AppState\n"
                  "heavy = {'sqlalchemy', 'pymongo', 'psycopg', 'prompt_toolkit', 'starlette'}\n"
                  "home, loaded = sys.argv[1], {}\n"
                  "for line in sys.argv[2:]:\n"
                  "    code = run(['--home', home, *json.loads(line)], AppState())\n"
                  "    loaded[line] = [code, sorted({m.split('.')[0] for m in sys.modules} & heavy)]\n"
                  "print('LOADED', json.dumps(loaded), flush=True)\n")


def test_the_everyday_commands_on_sqlite_never_import_sqlalchemy_or_another_stores_driver(tmp_path):
    """Their listings and counts are fixed SQL (``sqlite/queries.py``); SQLAlchemy is ~0.2 s of each call.
    One interpreter runs them in turn: the first command that loads a heavy module is the one named."""
    home = str(tmp_path / "home")
    env = {**{k: v for k, v in os.environ.items() if k not in STORE_VARIABLES}, "HOME": home}
    commands = [["config", "set", "poll_interval", "0.05"], ["config", "get", "poll_interval"], ["config", "show"],
                ["enqueue", '{"id": "j1", "command": "exit 3", "max_retries": 0}'], ["enqueue", "echo hi"],
                ["status"], ["list"], ["list", "--state", "pending", "--queue", "default"], ["show", "j1"],
                ["logs", "j1"], ["queue", "list"], ["cancel", "j1"], ["retry", "j1"], ["dlq", "list"],
                ["wait", "j1", "--timeout", "0.1"], ["worker", "start", "--count", "1"], ["worker", "stop"]]
    probe = None
    try:
        probe = subprocess.run([sys.executable, "-c", EVERYDAY_PROBE, home, *map(json.dumps, commands)],
                               capture_output=True, text=True, timeout=TIMEOUT, env=env)
    finally:
        if probe is None or "All workers stopped." not in probe.stdout:  # never leave the started worker behind
            subprocess.run([sys.executable, "-m", "queuectl", "--home", home, "worker", "stop"], env=env,
                           capture_output=True, timeout=TIMEOUT)
    loaded = json.loads(probe.stdout.splitlines()[-1].removeprefix("LOADED "))
    assert [json.loads(line) for line in loaded] == commands, probe.stderr
    assert {line: modules for line, (_, modules) in loaded.items() if modules} == {}
    wait = json.dumps(["wait", "j1", "--timeout", "0.1"])  # j1 is pending again (no worker): wait times out
    assert {line: code for line, (code, _) in loaded.items()} == {**dict.fromkeys(loaded, 0), wait: 1}


@pytest.mark.parametrize("args", [("list",), ("status",), ("--help",), ("config", "--help")])
def test_a_reader_that_went_away_ends_the_command_quietly_with_status_141(tmp_path, args):
    """``queuectl list | head``: the read end is closed before queuectl writes a byte."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {k: v for k, v in os.environ.items() if k not in STORE_VARIABLES}
    try:
        result = subprocess.run([sys.executable, "-m", "queuectl", "--home", str(tmp_path / "home"), *args],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, env=env, timeout=TIMEOUT)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")
