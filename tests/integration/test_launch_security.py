"""Where the store is, who owns it, how workers are launched, what a job's environment holds.

Real CLI and worker processes. Each attack of issue 11 is reproduced as
root (CI runs as root) with files given to ``nobody`` by ``os.chown``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import queuectl

from .processes import wait_for

NOBODY = 65534
TIMEOUT = 120
STORE_VARIABLES = ("QUEUECTL_HOME", "QUEUECTL_DB", "MONGO_URI", "QUEUECTL_DEBUG", "XDG_DATA_HOME")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user needs root")
STARTED = re.compile(r"^Started worker PID (\d+) \(log: .*\)$")


class Cli:
    """``queuectl`` as a user runs it: from ``cwd``, with a clean environment plus ``env``."""

    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path / "cwd"
        self.cwd.mkdir()
        self.env = {k: v for k, v in os.environ.items() if k not in STORE_VARIABLES}
        self.env["HOME"] = str(tmp_path / "user")
        self.started: list[tuple[tuple[str, ...], dict[str, str]]] = []  # to stop: options, environment

    def __call__(self, *args: str, env: dict[str, str] | None = None,
                 command: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        full_env = {**self.env, **(env or {})}
        if "start" in args:
            self.started.append((args[:args.index("worker")], full_env))
        # -P: the CLI itself must not import a ``queuectl`` folder in the working directory.
        launcher = command or (sys.executable, "-P", "-m", "queuectl")
        return subprocess.run([*launcher, *args], capture_output=True, text=True, env=full_env,
                              cwd=self.cwd, timeout=TIMEOUT)

    def stop_all(self) -> None:
        for options, env in self.started:
            subprocess.run([sys.executable, "-P", "-m", "queuectl", *options, "worker", "stop", "--timeout", "5"],
                           capture_output=True, env=env, cwd=self.cwd, timeout=TIMEOUT)
        self.started.clear()


@pytest.fixture
def cli(tmp_path: Path):
    runner = Cli(tmp_path)
    yield runner
    runner.stop_all()


def started_pids(result: subprocess.CompletedProcess[str]) -> list[int]:
    return [int(match.group(1)) for line in result.stdout.splitlines() if (match := STARTED.match(line))]


def job(cli: Cli, job_id: str, *global_options: str) -> dict:
    result = cli(*global_options, "show", job_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_completed(cli: Cli, job_id: str, *global_options: str) -> dict:
    return wait_for(lambda: (found := job(cli, job_id, *global_options))["state"] == "completed" and found,
                    timeout=TIMEOUT, what=f"job {job_id} to complete")


def output_of(cli: Cli, job_id: str, *global_options: str) -> str:
    result = cli(*global_options, "logs", job_id)
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- issue 10.5: a folder named queuectl in the working directory -------------------

def test_worker_start_count_2_beside_a_queuectl_folder_prints_both_pids_and_both_run_jobs(cli, tmp_path):
    (cli.cwd / "queuectl").mkdir()  # a project of that name, or the folder above a clone
    (cli.cwd / "queuectl" / "__init__.py").write_text("")
    home = ("--home", str(tmp_path / "home"))
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    # Each job waits (at most a minute) until both have started: one worker can only run one.
    wait_both = (f"touch {barrier}/$$; n=0; while [ $(ls {barrier} | wc -l) -lt 2 ] && [ $n -lt 1200 ];"
                 " do sleep 0.05; n=$((n+1)); done; [ $(ls " + str(barrier) + " | wc -l) -ge 2 ]")
    for job_id in ("left", "right"):
        assert cli(*home, "enqueue", "--id", job_id, wait_both).returncode == 0

    result = cli(*home, "worker", "start", "--count", "2")

    assert (result.returncode, result.stderr) == (0, "")
    pids = started_pids(result)
    assert len(pids) == 2, result.stdout
    workers = {wait_completed(cli, job_id, *home)["worker"] for job_id in ("left", "right")}
    assert {int(worker.split("-")[-2]) for worker in workers} == set(pids)


BROKEN_MAIN = """\
import os, sys
try:
    os.close(os.open({flag!r}, os.O_CREAT | os.O_EXCL))
except FileExistsError:  # every worker but the first starts normally
    sys.path.remove({broken!r})
    for name in [name for name in sys.modules if name.split(".")[0] == "queuectl"]:
        del sys.modules[name]
    from queuectl.entrypoints.cli import main
    main()
else:
    raise SystemExit("simulated start-up failure")
"""


def test_when_one_of_two_workers_dies_at_start_both_are_reported_and_the_exit_code_is_1(cli, tmp_path):
    broken = tmp_path / "broken"
    (broken / "queuectl").mkdir(parents=True)
    (broken / "queuectl" / "__init__.py").write_text("")
    (broken / "queuectl" / "__main__.py").write_text(
        BROKEN_MAIN.format(flag=str(tmp_path / "first-failed"), broken=str(broken)))
    package_root = str(Path(queuectl.__file__).resolve().parents[1])  # also where an editable install lives
    real_path = [package_root, *sys.path[1:]]
    real = os.pathsep.join(real_path)
    launcher = (sys.executable, "-P", "-c", f"import sys; sys.path[:0] = {real_path!r}; "
                "from queuectl.entrypoints.cli import main; main()")
    env = {"PYTHONPATH": f"{broken}{os.pathsep}{real}"}  # the workers find the broken package first
    home = ("--home", str(tmp_path / "home"))

    result = cli(*home, "worker", "start", "--count", "2", env=env, command=launcher)

    assert result.returncode == 1
    assert len(started_pids(result)) == 1, result.stdout
    failure, error = result.stderr.splitlines()
    assert re.fullmatch(r"Worker PID \d+ failed: exited while starting: simulated start-up failure \(log: .*\)",
                        failure), failure
    assert error == "Error: 1 of 2 workers failed to start"
    assert cli(*home, "enqueue", "--id", "after", "true").returncode == 0
    assert wait_completed(cli, "after", *home)["worker"].split("-")[-2] == str(started_pids(result)[0])


# -- issue 10.10 / 10.12: reads never create a store --------------------------------

def test_a_sqlite_url_in_a_missing_directory_is_one_error_line_and_creates_nothing(cli, tmp_path):
    missing = tmp_path / "nonexistent" / "dir"
    for command in (("status",), ("enqueue", "true"), ("worker", "start")):
        result = cli("--db", f"sqlite:///{missing}/x.db", *command)
        assert (result.returncode, result.stdout) == (1, ""), command
        assert result.stderr == (f"Error: cannot open SQLite store {missing}/x.db: "
                                 f"the directory {missing} does not exist\n"), command
    assert not (tmp_path / "nonexistent").exists()


READ_COMMANDS = [("status",), ("list",), ("show", "job1"), ("logs", "job1"), ("stats",), ("dlq", "list"),
                 ("config", "show"), ("config", "get", "max_retries"), ("status", "--json"), ("queue", "list")]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_a_read_command_on_a_missing_store_file_is_an_error_and_creates_nothing(cli, tmp_path, command):
    path = tmp_path / "typo.db"
    result = cli("--home", str(tmp_path / "home"), "--db", f"sqlite:///{path}", *command)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"Error: no store at {path}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "home"]


def test_read_commands_on_the_missing_home_store_show_an_empty_queue_and_create_no_file(cli, tmp_path):
    home = tmp_path / "home"
    status = cli("--home", str(home), "status", "--json")
    assert status.returncode == 0, status.stderr
    assert set(json.loads(status.stdout)["jobs"].values()) == {0}
    assert cli("--home", str(home), "config", "get", "max_retries").stdout.strip().endswith("3")
    assert not (home / "queue.db").exists()
    assert cli("--home", str(home), "config", "set", "max_retries", "5").returncode == 0
    assert (home / "queue.db").is_file()


def test_after_the_store_file_is_deleted_a_read_does_not_bring_it_back(cli, tmp_path):
    path = tmp_path / "queue.db"
    assert cli("--db", f"sqlite:///{path}", "enqueue", "--id", "job1", "true").returncode == 0
    for name in ("queue.db", "queue.db-wal", "queue.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    result = cli("--db", f"sqlite:///{path}", "list")
    assert (result.returncode, result.stderr) == (1, f"Error: no store at {path}\n")
    assert not path.exists()


# -- issue 11.1: code execution as another user ----------------------------------------

def shared_folder_planted_by_nobody(cli: Cli, tmp_path: Path) -> tuple[Path, Path]:
    """What ``nobody`` leaves in a world-writable folder: a .env naming a home that holds a job."""
    evil_home, pwned = tmp_path / "evilhome", tmp_path / "pwned"
    assert cli("--home", str(evil_home), "enqueue", "--id", "evil", f"id > {pwned}").returncode == 0
    for path in (evil_home, *evil_home.rglob("*")):
        os.chown(path, NOBODY, NOBODY)
    evil_home.chmod(0o777)
    (cli.cwd / ".env").write_text(f"QUEUECTL_HOME={evil_home}\n")
    os.chown(cli.cwd / ".env", NOBODY, NOBODY)
    cli.cwd.chmod(0o1777)
    return evil_home, pwned


@as_root
def test_a_dotenv_planted_by_another_user_is_ignored_so_root_never_runs_their_job(cli, tmp_path):
    _evil_home, pwned = shared_folder_planted_by_nobody(cli, tmp_path)
    own_home = tmp_path / "user" / ".local" / "share" / "queuectl"

    listed = cli("list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    assert listed.stderr == f"warning: ignoring {cli.cwd / '.env'}: owned by uid {NOBODY}, not by you (uid 0)\n"
    assert cli("enqueue", "--id", "mine", "true").returncode == 0
    worker = subprocess.Popen([sys.executable, "-P", "-m", "queuectl", "worker", "run"], cwd=cli.cwd,
                              env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_completed(cli, "mine")
    finally:
        worker.terminate()
        _, worker_stderr = worker.communicate(timeout=TIMEOUT)
    assert f"warning: ignoring {cli.cwd / '.env'}" in worker_stderr
    assert not pwned.exists() and (own_home / "queue.db").is_file()


@as_root
def test_a_queue_home_owned_by_another_user_is_refused_by_every_command(cli, tmp_path):
    evil_home, pwned = shared_folder_planted_by_nobody(cli, tmp_path)
    (cli.cwd / ".env").unlink()
    for command in (("worker", "run"), ("status",), ("enqueue", "true"), ("worker", "start")):
        result = cli(*command, env={"QUEUECTL_HOME": str(evil_home)})
        assert (result.returncode, result.stdout) == (1, ""), command
        assert result.stderr == (f"Error: refusing the queue home '{evil_home}': owned by uid {NOBODY}, "
                                 "not by you (uid 0)\n"), command
    assert not pwned.exists()


@as_root
@pytest.mark.parametrize("owner, mode, reason", [
    (NOBODY, 0o600, f"owned by uid {NOBODY}, not by you (uid 0)"),
    (0, 0o666, "writable by group or others (mode 0666)"),
])
def test_a_store_file_another_user_could_write_is_refused(cli, tmp_path, owner, mode, reason):
    path = tmp_path / "shared.db"
    assert cli("--db", f"sqlite:///{path}", "enqueue", "--id", "job1", "true").returncode == 0
    os.chown(path, owner, -1)
    path.chmod(mode)
    for command in (("list",), ("enqueue", "true")):
        result = cli("--db", f"sqlite:///{path}", *command)
        assert (result.returncode, result.stderr) == (1, f"Error: refusing the SQLite store {path}: {reason}\n")


# -- issue 11.3: the store URL never reaches a job ---------------------------------

def assert_no_store_secrets(output: str, url: str, password: str | None = None) -> None:
    names = {line.split("=", 1)[0] for line in output.splitlines() if "=" in line}
    assert not names & {"QUEUECTL_DB", "MONGO_URI", "QUEUECTL_URL_FD"}, sorted(names)
    assert url not in output
    if password:
        assert password not in output


def test_jobs_of_started_workers_never_see_the_store_url(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    env = {"QUEUECTL_DB": url, "QUEUECTL_HOME": str(tmp_path / "home")}
    assert cli("enqueue", "--id", "env", "env", env=env).returncode == 0
    started = cli("worker", "start", env=env)
    assert started.returncode == 0, started.stderr
    wait_completed(cli, "env", "--db", url, "--home", str(tmp_path / "home"))
    output = output_of(cli, "env", "--db", url, "--home", str(tmp_path / "home"))
    assert "PATH=" in output
    assert_no_store_secrets(output, url)


def test_jobs_of_a_foreground_worker_never_see_the_store_variables_it_was_given(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    env = {"QUEUECTL_DB": url, "QUEUECTL_HOME": str(tmp_path / "home"),
           "MONGO_URI": "mongodb://ann:s3cret@db.example/q"}  # as a systemd unit might set them
    assert cli("enqueue", "--id", "env", "env", env=env).returncode == 0
    worker = subprocess.Popen([sys.executable, "-P", "-m", "queuectl", "worker", "run"], cwd=cli.cwd,
                              env={**cli.env, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_completed(cli, "env", "--db", url)
    finally:
        worker.terminate()
        worker.wait(timeout=TIMEOUT)
    output = output_of(cli, "env", "--db", url)
    assert "PATH=" in output
    assert_no_store_secrets(output, url, "s3cret")


def test_a_started_worker_gets_its_url_by_pipe_never_by_environment_or_command_line(tmp_path):
    from queuectl.adapters import processes

    url = "mongodb://ann:s3cret@db.example/q"
    argv, env = processes.worker_command(tmp_path, ())
    probe = ("import json, os, sys; from queuectl.adapters.processes import take_handed_url; "
             "environ = dict(os.environ); handed = take_handed_url(); "
             "print(json.dumps({'environ': environ, 'cmdline': open('/proc/self/cmdline').read(), "
             "'handed': handed, 'fd_open': os.path.exists('/proc/self/fd/3'), "
             "'left': os.environ.get('QUEUECTL_URL_FD')}))")
    log = tmp_path / "probe.log"
    processes.spawn_detached([sys.executable, "-c", probe], log, {**env, "QUEUECTL_DB": url}, url)
    seen = json.loads(wait_for(lambda: log.exists() and log.read_text().strip(), what="the probe's report"))
    assert seen["handed"] == url
    assert (seen["fd_open"], seen["left"]) == (False, None)
    assert "s3cret" not in seen["cmdline"]
    assert argv[1:4] == ["-P", "-m", "queuectl"] and "QUEUECTL_DB" not in env and "MONGO_URI" not in env


def test_a_mongodb_password_given_to_worker_start_never_reaches_a_job_nor_ps(cli, tmp_path):
    import pymongo

    from .processes import drop_mongo_database, mongo_url_for_test

    base = mongo_url_for_test()  # skips without a server
    password = f"pw{uuid.uuid4().hex[:12]}"
    client = pymongo.MongoClient(base, serverSelectionTimeoutMS=5000)
    try:
        client.admin.command("createUser", f"qt{password}", pwd=password, roles=["root"])
    except pymongo.errors.PyMongoError as error:
        pytest.skip(f"this server cannot create a user to authenticate as: {error}")
    finally:
        client.close()
    scheme, rest = base.split("://", 1)
    url = f"{scheme}://qt{password}:{password}@{rest}{'&' if '?' in rest else '?'}authSource=admin"
    db = ("--db", url, "--home", str(tmp_path / "home"))
    try:
        assert cli(*db, "enqueue", "--id", "env", "env").returncode == 0
        started = cli(*db, "worker", "start", env={"QUEUECTL_DB": url})
        assert started.returncode == 0, started.stderr
        pid = started_pids(started)[0]
        assert password not in Path(f"/proc/{pid}/cmdline").read_text()
        assert password.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
        wait_completed(cli, "env", *db)
        assert_no_store_secrets(output_of(cli, "env", *db), url, password)
    finally:
        cli.stop_all()
        drop_mongo_database(url)
