"""Where state lives: home and store URL precedence, ``.env``, password redaction."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from queuectl.domain.errors import QueuectlError
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
