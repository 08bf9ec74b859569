"""Transmission daemon actors (Transmission / Provisioning / OCS adaptor, …).

A thin shell: the plain asyncio :class:`engine.transmission.adaptor.Adaptor` runs on an event
loop thread of this actor's process, and reaches the network request log through the Store
actor's client (a :class:`~engine.transmission.model.TransmissionQueue`). Restartable: a new
incarnation has a new worker name, so requests claimed by the dead one go back to work when
their lease expires, and are re-sent with the same idempotency key.

Threads: the loop thread runs ``run_until_complete(adaptor.run())``; the blocking Store calls
run on the adaptor's one executor thread, never on the loop; a heartbeat thread reports the
state; Ray's own threads run the actor methods. ``stop()`` asks the loop to drain
(``request_stop``) and joins the loop thread, which ends when ``run()`` has drained.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading

import ray
from ray.actor import ActorHandle

from actors.clients import StoreClient
from actors.heartbeat import send_heartbeat
from actors.names import DaemonSpec
from engine import telemetry
from engine.config import Config, EndpointConfig
from engine.transmission.adaptor import Adaptor
from engine.transmission.sender import new_event_loop

log = logging.getLogger(__name__)

#: Longest wait for one Store call. The calls run on the adaptor's one executor thread, off the
#: event loop; a Store that never answers must not pin that thread (and with it the drain and
#: the end of run()) for ever. A call given up on may still be applied later, which is safe:
#: a late claim's leases expire, a late record makes the retried one find nothing to apply.
QUEUE_CALL_SECONDS = 60.0


@ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=4, num_cpus=0)
class TransmissionDaemonActor:
    def __init__(self, spec: DaemonSpec, config: Config, store: ActorHandle, target: str,
                 endpoint: EndpointConfig):
        self._spec = spec
        self._store = StoreClient(store, timeout=QUEUE_CALL_SECONDS)
        telemetry.configure(telemetry.Settings.from_config(config), component="adaptor")  # chain spans
        daemon = config.daemons.get(spec.config_name)
        self._poll = daemon.poll_seconds
        # A new worker name per incarnation (pid and a random part): a restarted actor never
        # records over, or renews, what its dead predecessor claimed.
        worker = f"{spec.actor_name}@{os.getpid()}:{secrets.token_hex(3)}"
        self._adaptor = Adaptor(self._store, endpoint, target=target, worker=worker,
                                poll_seconds=daemon.poll_seconds)
        # stop() waits this long for the drain: calls in flight (bounded by drain_seconds),
        # then the last flush and release (two Store calls)
        self._drain_wait = self._adaptor.drain_seconds + 30.0
        self._loop = new_event_loop()
        self._task = self._loop.create_task(self._adaptor.run())  # runs once the thread starts the loop
        self._state = "RUNNING"
        self._last_error: str | None = None
        self._heartbeat(polled=False)  # listed as RUNNING before the constructor returns
        self._thread = threading.Thread(target=self._run, name=spec.actor_name, daemon=True)
        self._thread.start()
        self._beat_stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeats, name=f"{spec.actor_name}:heartbeat", daemon=True)
        self._beat.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:  # stop() cut the drain short: an abrupt stop, as intended
            pass
        except Exception as exc:  # the actor stays up to report it; Ray restarts on process death
            log.exception("%s stopped on an error", self._spec.actor_name)
            self._last_error, self._state = f"{type(exc).__name__}: {exc}", "FAILED"
        finally:
            self._loop.close()

    def _heartbeats(self) -> None:
        """Every poll interval while running; then the final state, once (stop() waits for it)."""
        while self._state == "RUNNING" and not self._beat_stop.is_set():
            self._heartbeat(polled=True)
            self._beat_stop.wait(max(self._poll, 1.0))
        self._heartbeat(polled=False)

    def _heartbeat(self, *, polled: bool) -> None:
        send_heartbeat(self._store, self._spec.identity, state=self._state, polled=polled,
                       last_error=self._last_error)

    def stop(self) -> str:
        """Drain: no new claims, calls in flight finish, unsent requests released, last flush.

        Waits for the loop thread to end rather than for a ``stop()`` coroutine on the loop:
        the loop stops as soon as ``run()`` returns, so such a coroutine never resumes (the
        drain used to finish and the caller still waited its whole timeout)."""
        if self._state == "RUNNING":
            try:
                self._loop.call_soon_threadsafe(self._adaptor.request_stop)
            except RuntimeError:  # the loop is closed already: run() is over
                pass
            self._thread.join(timeout=self._drain_wait)
            if self._thread.is_alive():
                # Stop as a killed process would: nothing more is written; what is claimed goes
                # back to work when its lease expires and is re-sent with the same key.
                log.warning("%s: drain did not finish in %.0f s; stopping abruptly", self._spec.actor_name,
                            self._drain_wait)
                self._last_error = "drain timed out; stopped abruptly (leases will expire)"
                try:
                    self._loop.call_soon_threadsafe(self._task.cancel)
                except RuntimeError:
                    pass
                self._thread.join(timeout=QUEUE_CALL_SECONDS + 5)
            if self._state == "RUNNING":
                self._state = "STOPPED"
            # The last heartbeat is the heartbeat thread's; once stop() returns this actor makes
            # no more Store calls (the Store can be shut down right after).
            self._beat_stop.set()
            self._beat.join(timeout=QUEUE_CALL_SECONDS)
        return self._state

    def state(self) -> dict:
        return {"name": self._spec.actor_name, "state": self._state, "last_error": self._last_error,
                "in_hand": self._adaptor.in_hand}

    def pid(self) -> int:
        return os.getpid()
