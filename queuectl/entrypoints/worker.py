"""The worker process: ``queuectl worker run``.

SIGTERM or SIGINT asks for a graceful stop (finish the running job, claim no
more); a second one stops now (kill the job's process group and release the
job without counting the attempt). With ``--concurrency M`` the same holds for
each of the M jobs the process runs at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import uuid
from typing import Any

from queuectl.domain.execution import WorkerControl
from queuectl.domain.ports import WorkerInfo

log = logging.getLogger("queuectl.worker")


def new_worker_info(processes: Any, queues: tuple[str, ...], now: Any, slots: int = 1) -> WorkerInfo:
    """This process as a worker record; ``processes`` is the container's process-control port."""
    pid, host = os.getpid(), processes.hostname()
    return WorkerInfo(id=f"{host}-{pid}-{uuid.uuid4().hex[:4]}", host=host, pid=pid,
                      pid_started_at=processes.started_at(pid) or 0.0, queues=tuple(queues),
                      started_at=now, last_heartbeat=now, slots=slots)


def install_stop_handlers(control: WorkerControl) -> None:
    def on_signal(signum: int, _frame: Any) -> None:
        if control.stop:
            control.stop_now = True
            log.warning("%s again: killing the running job and releasing it", signal.Signals(signum).name)
        else:
            control.stop = True
            log.info("%s: finishing the running jobs, then exiting", signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def run_worker(container: Any, queues: tuple[str, ...], concurrency: int = 1) -> None:
    """Run one worker in this process until it is asked to stop; ``concurrency``: its slots."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s [worker %(process)d] %(message)s")
    store = container.store()
    store.settings.load()  # fail fast, before registering, if the store is unreachable
    info = new_worker_info(container.processes(), queues, container.clock().now(), concurrency)
    control = WorkerControl()
    channel = container.wake_channel(name=info.id)
    install_stop_handlers(control)
    if concurrency > 1:
        try:
            _run_slots(container, info, control, channel)
        finally:
            channel.close()
        return
    runner = container.runner(channel=channel, name=info.id)
    try:
        worker = container.worker(runner=runner, waiter=channel, info=info, control=control)
        worker.run()
    finally:
        runner.close()
        channel.close()


# Descriptors a slot may hold: its waker (2) and running record, its runner's /dev/null and directory,
# and while a job runs the command's pipe, pidfd and output file; room for the rest of the process.
DESCRIPTORS_PER_SLOT = 10
DESCRIPTORS_BESIDES = 256


def _allow_descriptors(slots: int) -> None:
    """Raise this process's soft limit of open files (often 1024) toward what ``slots`` slots need,
    as far as the hard limit allows; a failure leaves it as it was (a job that cannot open its pipe
    then fails with that error)."""
    import resource

    wanted = DESCRIPTORS_BESIDES + DESCRIPTORS_PER_SLOT * slots
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    except (OSError, ValueError) as error:
        log.warning("could not raise the open-file limit to %d for %d slots: %s", wanted, slots, error)


def _run_slots(container: Any, info: WorkerInfo, control: WorkerControl, channel: Any) -> None:
    """The dispatcher in this thread and ``info.slots`` slots (``domain/slots.py``), each with its own
    waker and runner: its running record ``<home>/running/<worker id>.<slot>``."""
    _allow_descriptors(info.slots)
    wakers: list[Any] = []
    runners: list[Any] = []
    try:
        for index in range(info.slots):
            wakers.append(container.slot_waker())
            runners.append(container.runner(channel=wakers[-1], name=f"{info.id}.{index}"))
        slots = [container.slot_worker(runner=runner, waiter=waker, info=info, control=control)
                 for runner, waker in zip(runners, wakers)]
        container.slot_pool(runner=runners[0], waiter=channel, info=info, control=control,
                            slot_workers=slots).run()
    finally:
        for part in (*runners, *wakers):
            part.close()
