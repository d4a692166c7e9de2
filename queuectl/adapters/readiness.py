"""Which descriptors are readable: ``select`` while every one is below ``FD_SETSIZE``, ``poll`` above.

``select.select`` refuses a descriptor of 1024 or more, and a worker with many
slots (``--concurrency``) holds that many: each slot's waker, running record,
and its command's pipe, pidfd and output file. ``select`` stays the common
case: one call, no object built, as on a worker's hot path before slots.
"""

from __future__ import annotations

import select
from typing import Sequence

FD_SETSIZE = 1024
_READABLE = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR


def readable(fds: Sequence[int], seconds: float | None) -> list[int]:
    """The descriptors of ``fds`` ready to read (or at their end) within ``seconds`` (None: no limit)."""
    if max(fds, default=0) < FD_SETSIZE:
        return select.select(fds, [], [], seconds)[0]
    poller = select.poll()
    for fd in fds:
        poller.register(fd, _READABLE)
    timeout = None if seconds is None else max(0, int(seconds * 1000 + 0.999))
    return [fd for fd, _events in poller.poll(timeout)]
