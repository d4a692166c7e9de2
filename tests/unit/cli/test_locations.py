"""Where state lives: home and store URL precedence, ``.env``, password redaction."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from queuectl.domain.errors import QueuectlError, UnsafeLocation
from queuectl.entrypoints.locations import ensure_home, read_dotenv, resolve


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    path = tmp_path / "cwd"
    path.mkdir()
    return path


def test_home_comes_from_the_option_then_the_environment_then_xdg_then_the_default(cwd, monkeypatch):
    monkeypatch.setenv("HOME", "/users/ann")
    env = {"QUEUECTL_HOME": "/env/home", "XDG_DATA_HOME": "/xdg"}
    assert resolve("/opt/home", None, env, cwd).home == Path("/opt/home")
    assert resolve(None, None, env, cwd).home == Path("/env/home")
    assert resolve(None, None, {"XDG_DATA_HOME": "/xdg"}, cwd).home == Path("/xdg/queuectl")
    assert resolve(None, None, {}, cwd).home == Path("/users/ann/.local/share/queuectl")


def test_a_relative_home_is_made_absolute(cwd, monkeypatch):
    monkeypatch.chdir(cwd)
    assert resolve("rel", None, {}, cwd).home == cwd / "rel"


def test_store_url_comes_from_the_option_then_queuectl_db_then_mongo_uri_then_sqlite_in_home(cwd):
    env = {"QUEUECTL_HOME": "/h", "QUEUECTL_DB": "sqlite:///env.db", "MONGO_URI": "mongodb://m/q"}
    assert resolve(None, "sqlite:///opt.db", env, cwd).url == "sqlite:///opt.db"
    assert resolve(None, None, env, cwd).url == "sqlite:///env.db"
    assert resolve(None, None, {"MONGO_URI": "mongodb://m/q"}, cwd).url == "mongodb://m/q"
    assert resolve("/h", None, {}, cwd).url == "sqlite:////h/queue.db"


def test_empty_variables_count_as_unset(cwd):
    assert resolve("/h", None, {"QUEUECTL_DB": "", "MONGO_URI": ""}, cwd).url == "sqlite:////h/queue.db"


def test_a_dotenv_file_sets_the_variables_and_the_real_environment_wins(cwd):
    (cwd / ".env").write_text("MONGO_URI=mongodb://dotenv/q\nQUEUECTL_HOME=/dotenv/home\nPATH=/evil\n")
    found = resolve(None, None, {}, cwd)
    assert (found.url, found.home) == ("mongodb://dotenv/q", Path("/dotenv/home"))
    assert resolve(None, None, {"MONGO_URI": "mongodb://real/q"}, cwd).url == "mongodb://real/q"
    assert resolve(None, None, {"QUEUECTL_DB": "sqlite:///real.db"}, cwd).url == "sqlite:///real.db"


def test_dotenv_parsing_allows_comments_export_and_quotes(tmp_path):
    path = tmp_path / ".env"
    path.write_text('# settings\nexport QUEUECTL_DB="sqlite:///a b.db"\nMONGO_URI=\'mongodb://x\'\n'
                    "QUEUECTL_HOME=/h # the home\nnot a line\n\n")
    assert read_dotenv(path) == {"QUEUECTL_DB": "sqlite:///a b.db", "MONGO_URI": "mongodb://x",
                                 "QUEUECTL_HOME": "/h"}
    assert read_dotenv(tmp_path / "missing") == {}


def test_the_home_is_created_owner_only_on_first_use(tmp_path):
    home = ensure_home(tmp_path / "a" / "queuectl")
    assert home.is_dir() and stat.S_IMODE(home.stat().st_mode) == 0o700


def test_a_home_that_cannot_be_created_is_a_queuectl_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(QueuectlError, match="cannot create the queue home"):
        ensure_home(tmp_path / "file" / "home")


# -- safe on a shared host (SPEC 9.5) ------------------------------------------
NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


def dotenv_in(cwd: Path, text: str, mode: int = 0o644, owner: int | None = None) -> Path:
    path = cwd / ".env"
    path.write_text(text)
    path.chmod(mode)
    if owner is not None:
        os.chown(path, owner, -1)
    return path


@as_root
def test_a_dotenv_owned_by_another_user_is_ignored_with_a_warning(cwd, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", "/users/ann")
    path = dotenv_in(cwd, f"QUEUECTL_HOME={tmp_path / 'evilhome'}\n", owner=NOBODY)
    found = resolve(None, None, {}, cwd)
    assert found.home == Path("/users/ann/.local/share/queuectl")
    assert found.notices == (f"warning: ignoring {path}: owned by uid {NOBODY}, not by you (uid 0)",)


@pytest.mark.parametrize("mode", [0o664, 0o646, 0o666])
def test_a_dotenv_writable_by_group_or_others_is_ignored_with_a_warning(cwd, mode):
    path = dotenv_in(cwd, "QUEUECTL_DB=sqlite:////shared/evil.db\n", mode=mode)
    found = resolve("/h", None, {}, cwd)
    assert found.url == "sqlite:////h/queue.db"
    assert found.notices == (f"warning: ignoring {path}: writable by group or others (mode {mode:04o})",)


def test_a_foreign_dotenv_that_sets_nothing_of_ours_is_not_worth_a_warning(cwd):
    dotenv_in(cwd, "DJANGO_DEBUG=1\n", mode=0o666)
    assert resolve("/h", None, {}, cwd).notices == ()


def test_a_trusted_dotenv_that_moves_the_store_says_so_in_one_line_without_the_password(cwd):
    dotenv_in(cwd, "MONGO_URI=mongodb://ann:s3cret@db.example/q\n", mode=0o600)
    found = resolve("/h", None, {}, cwd)
    assert found.url == "mongodb://ann:s3cret@db.example/q"
    assert found.notices == ("note: .env sets MONGO_URI; using mongodb://ann:****@db.example/q",)


def test_a_dotenv_overridden_by_the_environment_or_an_option_changes_nothing_and_says_nothing(cwd):
    dotenv_in(cwd, "QUEUECTL_DB=sqlite:///dotenv.db\n")
    assert resolve("/h", None, {"QUEUECTL_DB": "sqlite:///real.db"}, cwd).notices == ()
    assert resolve("/h", "sqlite:///option.db", {}, cwd).notices == ()


def test_a_fifo_named_dotenv_is_skipped_without_waiting_for_a_writer(cwd):
    os.mkfifo(cwd / ".env")
    assert resolve("/h", None, {}, cwd).url == "sqlite:////h/queue.db"


@as_root
def test_a_queue_home_owned_by_another_user_is_refused_with_its_name(tmp_path):
    home = tmp_path / "evilhome"
    home.mkdir(mode=0o700)
    os.chown(home, NOBODY, -1)
    with pytest.raises(UnsafeLocation, match=f"refusing the queue home '{home}': owned by uid {NOBODY}"):
        ensure_home(home)


def test_a_queue_home_writable_by_group_or_others_is_refused(tmp_path):
    home = tmp_path / "shared"
    home.mkdir()
    home.chmod(0o777)
    with pytest.raises(UnsafeLocation, match=r"refusing the queue home .*shared': writable by group or others \(mode 0777\)"):
        ensure_home(home)


@as_root
def test_a_home_another_user_makes_between_our_check_and_our_mkdir_is_refused_not_adopted(tmp_path, monkeypatch):
    home = tmp_path / "shared" / "home"
    home.parent.mkdir()
    home.parent.chmod(0o1777)
    original_mkdir = Path.mkdir

    def attacker_wins_the_race(self: Path, *args, **kwargs) -> None:
        if self == home and not home.exists():
            os.mkdir(home)
            os.chmod(home, 0o755)
            os.chown(home, NOBODY, NOBODY)
        original_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", attacker_wins_the_race)
    with pytest.raises(UnsafeLocation, match=f"refusing the queue home '{home}': owned by uid {NOBODY}"):
        ensure_home(home)
    assert home.stat().st_uid == NOBODY and stat.S_IMODE(home.stat().st_mode) == 0o755  # not chmod-ed either


def _ensure_home_as_nobody(home: Path) -> str:
    """``ensure_home(home)`` in a child process running as ``nobody``: the error it raised, as text."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            ensure_home(home)
            outcome = "no error"
        except BaseException as error:  # noqa: BLE001 - reported to the parent whatever it is
            outcome = f"{type(error).__name__}: {error}"
        os.write(write_end, outcome.encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as pipe:
        return pipe.read().decode()


@as_root
def test_a_home_in_a_folder_we_may_not_enter_is_a_queuectl_error_not_a_crash(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    assert _ensure_home_as_nobody(private / "home") == (
        f"QueuectlError: cannot use the queue home '{private / 'home'}': Permission denied")


@as_root
def test_a_home_that_is_another_users_link_to_a_folder_of_ours_is_refused(tmp_path):
    ours = tmp_path / "system-folder"
    ours.mkdir(mode=0o755)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    (shared / "home").symlink_to(ours)
    os.lchown(shared / "home", NOBODY, NOBODY)
    with pytest.raises(UnsafeLocation, match=f"refusing the queue home '{shared / 'home'}': a link owned by uid {NOBODY}"):
        ensure_home(shared / "home")


def test_a_home_that_is_our_own_link_is_used(tmp_path):
    (tmp_path / "data").mkdir(mode=0o700)
    (tmp_path / "home").symlink_to(tmp_path / "data")
    assert ensure_home(tmp_path / "home") == tmp_path / "home"
