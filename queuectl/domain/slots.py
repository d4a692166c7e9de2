"""Slots: one worker process running up to M jobs at once (SPEC 9.7, ``worker run --concurrency M``).

The process's main thread is the dispatcher (``SlotPool``): it registers the
worker (``WorkerInfo.slots = M``), does the process's upkeep once (heartbeat,
recovery of lost jobs, retention, schedules: ``upkeep.py``), and when slots are
free claims up to that many jobs in one store call, handing each to a free
slot. Then it waits on the process's wake channel, which a slot finishing a
job wakes too. So M idle slots cost one claim per idle wait, as one worker does.

Each slot is a thread running the jobs handed to it with a ``SlotWorker``: the
``Worker``'s own supervision (``supervision.py``), with its own runner (and so
its own running record, which the recovery of a crashed worker reads to kill
its orphans), its own waker, its own view of an outage, and no jobs claimed
ahead; its outcomes are written the moment each command ends. A slot's
failure is its own: the job's lease lapses and is recovered, as when a worker
dies, and the slot takes the next job. A store lost for good ends the process.

When the dispatcher is woken from outside (a cancel's or an enqueue's
datagram, a signal, a wake-up from another host) it pokes every busy slot's
waker, so that each checks its lease (a cancel) and the stop requests at once.
A poke costs each busy slot a lease renewal (a store write), and every enqueue
wakes the dispatcher: so pokes are at least ``POKE_SPACING`` apart, and a wake
within that time is answered when it ends. A flood of enqueues then costs M
renewals a second, not M per enqueue; a cancel is seen within that second.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime

from .errors import StoreLost, StoreUnavailable
from .execution import Worker
from .model import Job
from .settings import Settings

log = logging.getLogger("queuectl.domain.execution")

# While slots stop after an unexpected end of the dispatcher: how often it looks whether they have.
_JOIN_SECONDS = 0.5
# The least time between two pokes of the busy slots (each renews its lease when poked).
POKE_SPACING = 1.0


@dataclass
class SlotWorker(Worker):
    """One slot's executor: the ``Worker``'s supervision of one job, without the process's upkeep."""

    outcomes_ride_with_claim: bool = False  # nothing claims after a slot's job: its outcome is written at once

    def beat(self, now: datetime, current_job: str | None, settings: Settings) -> None:
        """The dispatcher beats for the whole process."""

    def enqueue_scheduled(self, now: datetime, settings: Settings) -> list[str]:
        return []  # the dispatcher does, once per process


class Slot:
    """A thread and the one job it runs at a time."""

    def __init__(self, index: int, worker: SlotWorker, pool: SlotPool) -> None:
        self.index, self.worker, self.pool = index, worker, pool
        self.job: Job | None = None  # set by the dispatcher, cleared by the slot when the job is done
        self._settings: Settings | None = None
        self._go = threading.Event()
        self._quit = False
        self.thread = threading.Thread(target=self._loop, name=f"slot-{index}", daemon=True)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def hand(self, job: Job, settings: Settings) -> None:
        self.job, self._settings = job, settings
        self._go.set()

    def poke(self) -> None:
        """Cut the running command's wait short: the slot checks its lease and the stop requests."""
        self.worker.waiter.wake()

    def quit(self) -> None:
        """End the thread once its job (if any) is done."""
        self._quit = True
        self._go.set()

    def _loop(self) -> None:
        while True:
            self._go.wait()
            self._go.clear()
            job = self.job
            if job is not None:
                try:
                    self._run(job, self._settings or Settings())
                except StoreLost as error:
                    self.pool.lose(error)
                except StoreUnavailable:  # given up while stopping, as a worker does; ``_run`` logged what is left
                    pass
                except Exception:  # a slot never takes the process or the other slots with it
                    log.exception("slot %d: job %s: unexpected error; its lease will lapse and be recovered",
                                  self.index, job.id)
                finally:
                    self.job = None
                    self.pool.waiter.wake()
            if self._quit:
                return

    def _run(self, job: Job, settings: Settings) -> None:
        worker = self.worker
        try:
            if worker._still_ours(job, settings):
                worker.execute(job, settings)
        finally:
            try:
                worker.flush()  # a job released at a forced stop; one not started (the store out, stopping)
            except StoreUnavailable as error:
                log.warning("job %s: outcome not written (%s): recovered once its lease ends", job.id, error)


@dataclass
class SlotPool(Worker):
    """The dispatcher of a worker process with slots; ``slot_workers``: one per slot.

    ``runner`` is only asked to ``reap`` the orphans of lost jobs (any slot's runner will do).
    """

    slot_workers: list[SlotWorker] = field(default_factory=list)
    _lost: StoreLost | None = None
    _poke_owed: bool = False  # woken from outside since the busy slots were last poked
    _poked_at: datetime | None = None

    def lose(self, error: StoreLost) -> None:
        """From a slot's thread: the store is lost for good; the process ends."""
        self._lost = error
        self.waiter.wake()

    def run(self) -> None:
        self.info = replace(self.info, slots=len(self.slot_workers))
        self._call(lambda: self.store.workers.register(self.info))
        log.info("worker %s started (pid %s, queues %s, %d slots)", self.info.id, self.info.pid,
                 ", ".join(self.info.queues) or "all", self.info.slots)
        slots = [Slot(index, worker, self) for index, worker in enumerate(self.slot_workers)]
        for slot in slots:
            slot.thread.start()
        ended = False
        lost = False
        try:
            self._dispatch_until_stopped(slots)
            ended = True
        except StoreLost as error:
            lost = True
            log.error("stopping: %s", error)
            raise
        finally:
            if not ended:  # lost, or a fault of the dispatcher itself: no command outlives its worker
                self.control.stop_now = True
            self._join(slots)
            if not lost:
                self._leave()
            log.info("worker %s stopped", self.info.id)

    def _dispatch_until_stopped(self, slots: list[Slot]) -> None:
        while True:
            if self._lost is not None:
                raise self._lost
            busy = [slot for slot in slots if slot.busy]
            if self.control.stop_now:
                for slot in busy:
                    slot.poke()
            if self.stopping and not busy:
                return
            try:
                claimed = self._dispatch(slots)
            except StoreUnavailable as error:  # stopping, or a call not retried in place: the loop retries
                if not self.stopping:
                    self.waiter.wait(self.outage.failed(error, self.clock.now()))
                continue
            if claimed and any(not slot.busy for slot in slots):
                continue  # a store that claims one job a call (MongoDB) may have more due: ask again now
            if self._lost is None and self.waiter.wait(self._idle_seconds()):
                self._poke_owed = True  # woken from outside: a cancel, a stop, a paused process continued
            self._poke_busy(slots)

    def _poke_busy(self, slots: list[Slot]) -> None:
        """Poke the busy slots if a wake-up from outside is owed them and the last poke is old enough."""
        if not self._poke_owed:
            return
        now = self.clock.now()
        if self._poked_at is not None and (now - self._poked_at).total_seconds() < POKE_SPACING:
            return  # ``_idle_seconds`` ends the next wait when it is time
        self._poke_owed, self._poked_at = False, now
        for slot in slots:
            if slot.busy:
                slot.poke()

    def _idle_seconds(self) -> float:
        """The worker's idle wait, cut short when a poke owed to the busy slots falls due."""
        wait = super()._idle_seconds()
        if self._poke_owed and self._poked_at is not None:
            due = POKE_SPACING - (self.clock.now() - self._poked_at).total_seconds()
            wait = min(wait, max(0.0, due))
        return wait

    def _dispatch(self, slots: list[Slot]) -> int:
        """The process's upkeep, then one claim of up to as many jobs as slots are free; how many it took."""
        now = self.clock.now()
        settings = self.settings(now)
        self.beat(now, None, settings)
        self.prune_expired(now, settings)
        self.enqueue_scheduled(now, settings)
        free = [slot for slot in slots if not slot.busy]
        if self.stopping or not free:
            return 0
        claimed = self._settle_and_claim(settings.lease_seconds, len(free))
        for slot, job in zip(free, claimed):
            slot.hand(job, settings)
        return len(claimed)

    def _join(self, slots: list[Slot]) -> None:
        """Wait for every slot's job to end; a stop now on the way is passed on to them."""
        for slot in slots:
            slot.quit()
        for slot in slots:
            while slot.thread.is_alive():
                if self.control.stop_now:  # a second signal meanwhile (its handler runs here, between joins)
                    for other in slots:
                        if other.busy:
                            other.poke()
                slot.thread.join(_JOIN_SECONDS)
