"""Extract daemon actors: Extract / Provisioning / To Generic Format (and its Bill Cycle Change
twin), each polling the Store for requests routed to a file target.

A thin shell over :class:`engine.extract.daemon.ExtractDaemon`, like the Load daemon actor:
detached, named after the daemon, restartable. A restarted instance has no memory but the
database: its first poll finishes any file its predecessor reserved but did not seal.
"""

from __future__ import annotations

import logging
import threading

import ray
from ray.actor import ActorHandle

from actors.clients import StoreClient
from actors.heartbeat import PollLoop, send_heartbeat
from actors.names import DaemonSpec
from engine.config import Config
from engine.errors import ConfigError, EngineError
from engine.extract.daemon import ExtractDaemon, Extracted
from engine.home import home_recipient

log = logging.getLogger(__name__)


@ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=4, num_cpus=0)
class ExtractDaemonActor:
    """Runs in its own worker process; the poll loop is a thread of that process."""

    def __init__(self, spec: DaemonSpec, config: Config, store: ActorHandle, autostart: bool = True):
        self._spec = spec
        self._store = StoreClient(store)
        self._poll_seconds = config.daemons.get(spec.config_name).poll_seconds
        self._loop = PollLoop(spec.actor_name, self._poll_seconds, self.poll_now, self._poll_failed)
        self._lock = threading.Lock()  # one poll at a time (timer or poll_now)
        self._state = "STOPPED"
        self._config_error: str | None = None
        self._core: ExtractDaemon | None
        try:
            self._core = ExtractDaemon(
                spec.config_name,
                actor=spec.actor_name,
                store=self._store,
                outbound_dir=config.outbound_dir(spec.config_name),
                recipients=(str(home_recipient(config)), *config.keys.recipients),
                partners=config.extract.partners,
                max_records=config.extract.max_records_per_file,
            )
        except EngineError as exc:
            # A wrong partner mapping or a missing identity: stay up as FAILED with the reason
            # (`cmpctl status` shows it) instead of dying and being restarted for ever.
            self._core = None
            self._config_error = str(exc)
            self._set_state("FAILED")
            return
        if autostart:
            self.start()

    def start(self) -> str:
        if self._core is not None and not self._loop.running:
            self._set_state("RUNNING")
            self._loop.start()
        return self._state

    def stop(self) -> str:
        """Stop polling; a file being written is finished and sealed first."""
        self._loop.stop()
        if self._core is not None:
            self._set_state("STOPPED")
        return self._state

    def poll_now(self) -> list[Extracted]:
        if self._core is None:
            raise ConfigError(f"{self._spec.actor_name} cannot run: {self._config_error}")
        with self._lock:
            try:
                return self._core.poll_once()
            finally:
                self._heartbeat(polled=True)

    def state(self) -> dict:
        return {"name": self._spec.actor_name, "state": self._state, "last_error": self._last_error()}

    def _last_error(self) -> str | None:
        return self._config_error if self._core is None else self._core.last_error

    def _poll_failed(self, exc: Exception) -> None:  # keep polling: the Store may be restarting, a disk full
        log.warning("%s poll failed: %s", self._spec.actor_name, exc)
        if self._core is not None:  # (polls only run with a core)
            self._core.last_error = f"{type(exc).__name__}: {exc}"
        self._heartbeat(polled=False)

    def _set_state(self, state: str) -> None:
        self._state = state
        self._heartbeat(polled=False)

    def _heartbeat(self, *, polled: bool) -> None:
        send_heartbeat(self._store, self._spec.identity, state=self._state, polled=polled,
                       last_error=self._last_error())
