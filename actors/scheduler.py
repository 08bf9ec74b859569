"""The Scheduler actor: a thin tick loop around :class:`engine.schedule.Scheduler`.

Detached, named ``Scheduler``, restartable: its state is the slot ledger in the Store, so a
new incarnation simply ticks again (slots missed in between meet their catch-up policy).
Runs are started in the Store without waiting, at most one per schedule at a time; a
repeated submission of a slot is harmless (the Store runs a slot once; the key is the slot).
Its heartbeat is a ``daemons`` row, so `cmpctl daemons list` shows it.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import ray
from ray.actor import ActorHandle

from actors.clients import Pending, StoreClient, nowait
from actors.heartbeat import PollLoop, send_heartbeat
from engine.config import Config
from engine.schedule import Scheduler, SlotRun, schedules_from_config

log = logging.getLogger(__name__)

HEARTBEAT = dict(name="Scheduler", daemon_type="Scheduler", category="Provisioning", activity="Cron schedules")


@ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=4, num_cpus=0)
class SchedulerActor:
    """Runs in its own worker process; the tick loop is a thread of that process."""

    def __init__(self, config: Config, store: ActorHandle, autostart: bool = True):
        self._store = StoreClient(store)
        self._tick_seconds = config.scheduler.tick_seconds
        self._core = Scheduler(self._store, schedules_from_config(config), submit=self._submit)
        self._in_flight: dict[str, Pending[dict[str, Any]]] = {}  # schedule → its running slot
        self._lock = threading.Lock()  # one tick at a time (loop or tick_now)
        self._state = "STOPPED"
        self._last_error: str | None = None
        self._loop = PollLoop("Scheduler", self._tick_seconds, self.tick_now, self._tick_failed)
        if autostart:
            self.start()

    def _submit(self, run: SlotRun) -> str:
        running = self._in_flight.get(run.schedule)
        if running is not None:
            if not running.done():
                return "waiting"  # the schedule's previous slot is still running
            try:
                running.result()
            except Exception as exc:  # the Store restarted under it; the slot is resubmitted
                log.warning("Scheduler: run of %s failed to report: %s", run.schedule, exc)
        self._in_flight[run.schedule] = nowait(self._store.run_scheduled)(run)
        return "submitted"

    def tick_now(self) -> dict:
        """One tick now (the loop does this every ``tick_seconds``): what was chosen and done."""
        with self._lock:
            report = self._core.tick()
        self._heartbeat(polled=True)
        return {"now": report.now, "chosen": [r.slot_id for r in report.chosen], "results": report.results}

    def start(self) -> str:
        if not self._loop.running:
            self._state = "RUNNING"
            self._heartbeat(polled=False)
            self._loop.start()
        return self._state

    def stop(self) -> str:
        """Stop ticking; runs already in the Store finish there (the ledger records them)."""
        self._loop.stop(timeout=60)
        self._state = "STOPPED"
        self._heartbeat(polled=False)
        return self._state

    def state(self) -> dict:
        return {"name": HEARTBEAT["name"], "state": self._state, "last_error": self._last_error,
                "in_flight": sorted(k for k, running in self._in_flight.items() if not running.done())}

    def pid(self) -> int:
        return os.getpid()

    def _tick_failed(self, exc: Exception) -> None:  # keep ticking: the Store may be restarting
        log.warning("Scheduler tick failed: %s", exc)
        self._last_error = f"{type(exc).__name__}: {exc}"
        self._heartbeat(polled=False)

    def _heartbeat(self, *, polled: bool) -> None:
        send_heartbeat(self._store, HEARTBEAT, state=self._state, polled=polled, last_error=self._last_error)
