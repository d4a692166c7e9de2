"""Wake-ups: an idle worker claims a new job at once, and no other user can reach its socket."""

from __future__ import annotations

import errno
import os
import pwd
import select
import shutil
import socket
import stat
import tempfile
from pathlib import Path

import pytest

from .processes import Queue, wait_for


@pytest.fixture
def queue():
    """A queue whose folders above the home are open to every user: only queuectl's own modes protect it."""
    root = Path(tempfile.mkdtemp(prefix="queuectl-wake-"))
    root.chmod(0o755)
    q = Queue(root / "home", f"sqlite:///{root / 'home' / 'queue.db'}")
    q.cli("config", "set", "poll_interval", "60")  # the longest: only a wake-up claims a job sooner
    yield q
    q.stop_workers()
    q.close()
    shutil.rmtree(root, ignore_errors=True)


def socket_files(q: Queue) -> list[Path]:
    folder = q.home / "wake"
    return [path for path in folder.glob("*.sock") if stat.S_ISSOCK(path.lstat().st_mode)] if folder.exists() else []


def start_idle_worker(q: Queue) -> Path:
    q.cli("worker", "start")
    [path] = wait_for(lambda: socket_files(q), what="the worker's wake-up socket")
    return path


def send_as_nobody(path: Path) -> int:
    """Send one datagram to ``path`` from a child process running as ``nobody``: 0 or the errno."""
    if os.geteuid() != 0:
        pytest.skip("sending as another user needs root")
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        code = 255
        try:
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(b"!", str(path))
            code = 0
        except OSError as exc:
            code = exc.errno
        finally:
            os.write(write_end, str(code).encode())
            os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end) as pipe:
        return int(pipe.read())


def test_the_wake_up_socket_is_a_file_in_the_home_that_only_its_owner_can_use(queue):
    path = start_idle_worker(queue)
    assert path.parent == queue.home / "wake"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.lstat().st_mode) == 0o600
    assert path.lstat().st_uid == os.getuid()


def test_another_user_cannot_send_to_a_workers_wake_up_socket(queue):
    path = start_idle_worker(queue)
    assert send_as_nobody(path) == errno.EACCES


def test_the_socket_itself_refuses_another_user_even_when_the_folders_above_are_opened(queue):
    path = start_idle_worker(queue)
    for folder in (queue.home, path.parent):
        folder.chmod(0o711)
    try:
        assert send_as_nobody(path) == errno.EACCES
    finally:
        for folder in (queue.home, path.parent):
            folder.chmod(0o700)


def test_a_job_enqueued_on_this_host_wakes_an_idle_worker_long_before_its_next_poll(queue):
    start_idle_worker(queue)
    queue.cli("enqueue", "true", "--id", "woken")
    queue.wait_state("woken", "completed", timeout=30)  # the poll interval is 60 s


def test_a_worker_removes_its_socket_when_it_stops(queue):
    start_idle_worker(queue)
    queue.cli("worker", "stop")
    assert socket_files(queue) == []


def test_a_home_too_deep_for_a_socket_path_still_gets_wake_ups(tmp_path):
    from queuectl.adapters.wakeup import WakeChannel, notify_workers

    home = tmp_path / ("deep" * 30) / "home"
    channel = WakeChannel(home, "w1")
    try:
        signal_fd, wake_fd, _local = channel.fds()
        assert notify_workers(home) == 1
        ready, _, _ = select.select([wake_fd], [], [], 30)
        assert ready == [wake_fd]
    finally:
        channel.close()
    assert notify_workers(home) == 0


def test_the_socket_left_by_a_killed_worker_is_removed_by_the_next_wake_up(tmp_path):
    from queuectl.adapters.wakeup import notify_workers

    folder = tmp_path / "home" / "wake"
    folder.mkdir(parents=True, mode=0o700)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as dead:
        dead.bind(str(folder / "gone.sock"))
    assert notify_workers(tmp_path / "home") == 0
    assert list(folder.iterdir()) == []


def test_a_wait_tells_a_wake_up_from_outside_from_one_of_the_process_own_threads(tmp_path):
    """A worker with slots pokes its busy slots only for the former (a cancel, a signal), not each time
    a slot of its own finished a job."""
    from queuectl.adapters.wakeup import WakeChannel, notify_workers

    channel = WakeChannel(tmp_path / "home", "w1")
    try:
        assert channel.wait(0) is False
        channel.wake()
        assert channel.wait(30) is False  # woken at once, by this process
        assert notify_workers(tmp_path / "home") == 1
        assert channel.wait(30) is True  # a datagram: from outside
        assert channel.wait(0) is False  # each was drained
    finally:
        channel.close()
