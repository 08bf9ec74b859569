"""Transmission daemon actors (Transmission / Provisioning / OCS adaptor, …).

A thin shell: the plain asyncio :class:`engine.transmission.adaptor.Adaptor` runs on an event
loop thread of this actor's process, and reaches the network request log through the Store
actor. Restartable: a new incarnation has a new worker name, so requests claimed by the dead
one go back to work when their lease expires, and are re-sent with the same idempotency key.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading

import ray

from actors.clients import call
from actors.names import DaemonSpec
from engine.config import Config, EndpointConfig
from engine.transmission.adaptor import Adaptor

log = logging.getLogger(__name__)


class StoreQueue:
    """The TransmissionQueue protocol over the Store actor (called from the adaptor's executor)."""

    def __init__(self, store):
        self._store = store

    def _call(self, method, *args, **kwargs):
        return call(self._store.requests_call.remote(method, *args, **kwargs))

    def claim(self, **kwargs):
        return self._call("claim", **kwargs)

    def record(self, outcomes, **kwargs):
        return self._call("record", outcomes, **kwargs)

    def renew(self, *args, **kwargs):
        return self._call("renew", *args, **kwargs)

    def release(self, *args, **kwargs):
        return self._call("release", *args, **kwargs)


@ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=4, num_cpus=0)
class TransmissionDaemonActor:
    def __init__(self, spec: DaemonSpec, config: Config, store, target: str, endpoint: EndpointConfig):
        self._spec = spec
        self._store = store
        daemon = config.daemons.get(spec.config_name)
        self._poll = daemon.poll_seconds
        self._adaptor = Adaptor(StoreQueue(store), endpoint, target=target,
                                worker=f"{spec.actor_name}@{os.getpid()}", poll_seconds=daemon.poll_seconds)
        self._loop = asyncio.new_event_loop()
        self._state = "RUNNING"
        self._last_error: str | None = None
        self._heartbeat(polled=False)  # listed as RUNNING before the constructor returns
        self._thread = threading.Thread(target=self._run, name=spec.actor_name, daemon=True)
        self._thread.start()
        self._beat = threading.Thread(target=self._heartbeats, daemon=True)
        self._beat.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._task = self._loop.create_task(self._adaptor.run())
        try:
            self._loop.run_until_complete(self._task)
        except Exception as exc:  # the actor stays up to report it; Ray restarts on process death
            log.exception("%s stopped on an error", self._spec.actor_name)
            self._last_error, self._state = f"{type(exc).__name__}: {exc}", "FAILED"

    def _heartbeats(self) -> None:
        while self._state == "RUNNING":
            self._heartbeat(polled=True)
            threading.Event().wait(max(self._poll, 1.0))
        self._heartbeat(polled=False)

    def _heartbeat(self, *, polled: bool) -> None:
        s = self._spec
        try:
            call(self._store.daemon_heartbeat.remote(
                name=s.actor_name, daemon_type=s.daemon_type, category=s.category, activity=s.activity,
                state=self._state, polled=polled, last_error=self._last_error))
        except Exception as exc:  # the Store may be restarting
            log.warning("%s: heartbeat failed: %s", s.actor_name, exc)

    def stop(self) -> str:
        """Drain: no new claims, calls in flight finish, unsent requests released, last flush."""
        if self._state == "RUNNING":
            drain = asyncio.run_coroutine_threadsafe(self._adaptor.stop(), self._loop)
            try:
                drain.result(timeout=30)
            except (TimeoutError, concurrent.futures.TimeoutError):
                # Stop as a killed process would: nothing more is written; what is claimed goes
                # back to work when its lease expires and is re-sent with the same key.
                log.warning("%s: drain did not finish in 30 s; stopping abruptly", self._spec.actor_name)
                self._last_error = "drain timed out; stopped abruptly (leases will expire)"
                self._loop.call_soon_threadsafe(self._task.cancel)
            self._thread.join(timeout=30)
            self._state = "STOPPED"
            self._heartbeat(polled=False)
        return self._state

    def state(self) -> dict:
        return {"name": self._spec.actor_name, "state": self._state, "last_error": self._last_error,
                "in_hand": self._adaptor.in_hand}

    def pid(self) -> int:
        return os.getpid()
