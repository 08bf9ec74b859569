"""The Probes actor: a thin loop that asks the Store to run the probes that are due.

Detached, named ``Probes``, restartable: its state (last runs, alert states) is in the
database, so a new incarnation just carries on. The probes run inside the Store (the data is
there; engine/probes/runner.py), with the real clock. Its heartbeat is a ``daemons`` row, so
`cmpctl daemons list` shows it.
"""

from __future__ import annotations

import logging
import os

import ray
from ray.actor import ActorHandle

from actors import metrics
from actors.clients import StoreClient, with_timeout
from actors.heartbeat import PollLoop, send_heartbeat
from engine.config import Config

log = logging.getLogger(__name__)

HEARTBEAT = dict(name="Probes", daemon_type="Probes", category="Provisioning", activity="Probe runner")
#: the longest a round of due probes may take in the Store before this actor stops waiting
PROBE_RUN_SECONDS = 600.0


def tick_seconds(config: Config) -> float:
    """Often enough for the most frequent probe, but never busier than once a second."""
    intervals = [p.interval_seconds for p in config.probes.values() if p.enabled and not p.cron]
    return min(15.0, max(1.0, min(intervals, default=30.0) / 2))


@ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=4, num_cpus=0)
class ProbesActor:
    def __init__(self, config: Config, store: ActorHandle, autostart: bool = True):
        self._config = config
        self._store = StoreClient(store)
        self._tick = tick_seconds(config)
        self._state = "STOPPED"
        self._last_error: str | None = None
        self._loop = PollLoop("Probes", self._tick, self.run_due, self._run_failed)
        if autostart:
            self.start()

    def start(self) -> str:
        if not self._loop.running:
            self._state = "RUNNING"
            self._loop.start()
        self._heartbeat(polled=False)
        return self._state

    def _run_failed(self, exc: Exception) -> None:  # the Store may be restarting: try again next tick
        self._last_error = f"{type(exc).__name__}: {exc}"
        log.warning("Probes: run failed: %s", self._last_error)

    def run_due(self) -> list[dict]:
        runs = with_timeout(self._store, PROBE_RUN_SECONDS).run_probes(self._config)
        for run in runs:  # the dashboard's cmp_probe_value / cmp_probe_runs: the worst subject's value
            values = [r["value"] for r in run["results"] if r.get("value") is not None]
            metrics.record_probe_value(run["probe"], max(values) if values else None, run["outcome"])
        self._heartbeat(polled=True)
        return runs

    def _heartbeat(self, *, polled: bool) -> None:
        send_heartbeat(self._store, HEARTBEAT, state=self._state, polled=polled, last_error=self._last_error)

    def stop(self) -> str:
        self._loop.stop(timeout=60)
        self._state = "STOPPED"
        self._heartbeat(polled=False)
        return self._state

    def state(self) -> dict:
        return {"name": HEARTBEAT["name"], "state": self._state, "last_error": self._last_error,
                "tick_seconds": self._tick}

    def pid(self) -> int:
        return os.getpid()

    def metrics(self) -> dict[str, float]:
        """What this actor recorded for the Ray metrics endpoint (cmp_probe_value / cmp_probe_runs)."""
        return metrics.snapshot()
