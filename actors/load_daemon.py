"""Load daemon actors: one per Load daemon of DOMAIN.md, polling its inbound folder.

Detached, named after the daemon (e.g. ``Load/Provisioning/FromGenericFormat``), restartable:
a restarted instance has no memory but the database, and simply polls its folder again.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import ray
from ray.actor import ActorHandle

from actors import metrics
from actors.clients import StoreClient, nowait, typed
from actors.coordinator import LoadCoordinator
from actors.heartbeat import PollLoop, send_heartbeat
from actors.names import DaemonSpec
from engine import telemetry
from engine.config import Config
from engine.loading.daemon import LoadDaemon, Outcome
from engine.loading.inbox import Inbox
from engine.telemetry.files import file_traceparent

log = logging.getLogger(__name__)


@ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=4, num_cpus=0)
class LoadDaemonActor:
    """Runs in its own worker process; the poll loop is a thread of that process."""

    def __init__(self, spec: DaemonSpec, config: Config, store: ActorHandle, coordinator: ActorHandle,
                 autostart: bool = True):
        self._spec = spec
        self._store = StoreClient(store)
        # A load takes as long as its file: no time limit (a hung coordinator is the Supervisor's).
        self._coordinator = typed(coordinator, LoadCoordinator, timeout=None)
        self._poll_seconds = config.daemons.get(spec.config_name).poll_seconds
        telemetry.configure(telemetry.Settings.from_config(config), component="load_daemon")
        self._trigger_parents: dict[int, str] = {}  # batch → span its triggered jobs continue
        inbox = Inbox(config.inbound_dir(spec.config_name), config.archive_dir, config.quarantine_dir)
        self._core = LoadDaemon(
            spec.actor_name,
            inbox,
            load=self._load,
            reject=self._store.record_rejection,
            committed_file=self._store.committed_file,
        )
        self._loop = PollLoop(spec.actor_name, self._poll_seconds, self.poll_now, self._poll_failed)
        self._lock = threading.Lock()  # one poll at a time (timer or poll_now)
        self._state = "STOPPED"
        if autostart:
            self.start()

    def start(self) -> str:
        if not self._loop.running:
            self._set_state("RUNNING")  # before the loop's first heartbeat, which repeats the state
            self._loop.start()
        return self._state

    def stop(self) -> str:
        """Stop polling; a load in progress finishes (its file is then archived or quarantined)."""
        self._loop.stop()
        self._set_state("STOPPED")
        return self._state

    def _load(self, path: Path):
        """One file, under a span continuing the trace it came with (`cmpctl load`), if any."""
        came_with = file_traceparent(path)
        with telemetry.span(f"inbound {path.name}", parent=came_with,
                            attributes={"cmp.daemon": self._spec.actor_name}):
            here = telemetry.inject() or came_with
            result = self._coordinator.load(str(path), self._spec.config_name, traceparent=here)
        if here:
            self._trigger_parents[result.batch_id] = here
        return result

    def poll_now(self) -> list[Outcome]:
        with self._lock:
            outcomes = self._core.poll_once()
        self._heartbeat(polled=True)
        for o in outcomes:
            if o.status == "loaded":
                metrics.record_load(self._spec.actor_name, o.records, o.errors)
            elif o.status == "rejected":
                metrics.record_rejected_file(self._spec.actor_name)
        if any(o.status == "loaded" for o in outcomes):
            # The batch's jobs run in the Store; fire and forget (the trigger row is durable,
            # so a lost call is picked up by the next one or by the scheduler's safety net).
            parents = {o.batch_id: self._trigger_parents.pop(o.batch_id) for o in outcomes
                       if o.status == "loaded" and o.batch_id in self._trigger_parents}
            nowait(self._store.run_triggers)(parents)
        return outcomes

    def state(self) -> dict:
        return {"name": self._spec.actor_name, "state": self._state, "last_error": self._core.last_error}

    def metrics(self) -> dict[str, float]:
        """The Ray metrics this daemon recorded (records loaded and errored, files rejected)."""
        return metrics.snapshot()

    def _poll_failed(self, exc: Exception) -> None:
        log.warning("%s poll failed: %s", self._spec.actor_name, exc)
        self._core.last_error = str(exc)

    def _set_state(self, state: str) -> None:
        self._state = state
        self._heartbeat(polled=False)

    def _heartbeat(self, *, polled: bool) -> None:
        send_heartbeat(self._store, self._spec.identity, state=self._state, polled=polled,
                       last_error=self._core.last_error)
