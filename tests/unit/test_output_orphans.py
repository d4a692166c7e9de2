"""Background children that outlive their job hold its output pipe: the worker drains a bounded number."""

from __future__ import annotations

import os
import threading

from queuectl.adapters import output_capture
from queuectl.adapters.output_capture import OutputCapture

from ..integration.processes import wait_for


def test_a_worker_drains_at_most_the_bounded_number_of_orphaned_pipes_and_the_oldest_lets_go(monkeypatch, tmp_path):
    monkeypatch.setattr(output_capture, "MAX_ORPHAN_DRAINS", 3)
    monkeypatch.setattr(output_capture, "_STOP_CHECK_SECONDS", 0.02)
    before = set(threading.enumerate())  # a thread of an earlier test may end meanwhile: only new ones count
    writers, captures = [], []
    for index in range(5):  # five jobs each leave a child holding the write end
        read_end, write_end = os.pipe()
        writers.append(write_end)
        capture = OutputCapture(read_end, str(tmp_path / f"out{index}"), 1024)
        capture.outlive_shell()
        captures.append(capture)
    wait_for(lambda: [c.ended for c in captures] == [True, True, False, False, False],
             what="the two oldest drains to stop")
    wait_for(lambda: len(set(threading.enumerate()) - before) <= 3, what="their threads to end")
    os.write(writers[4], b"still read\n")  # the newest is still captured
    for write_end in writers:
        os.close(write_end)
    wait_for(lambda: all(c.ended for c in captures), what="every drain to end")
    assert (tmp_path / "out4").read_bytes() == b"still read\n"
    wait_for(lambda: not set(threading.enumerate()) - before, what="no thread left behind")
