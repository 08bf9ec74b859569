"""What every background actor shares: its row in the ``daemons`` table, and a poll loop that
outlives a failed poll (the Store may be restarting; the next poll tries again)."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Mapping

from actors.clients import StoreClient

log = logging.getLogger(__name__)


def send_heartbeat(store: StoreClient, identity: Mapping[str, str], *, state: str, polled: bool,
                   last_error: str | None) -> None:
    """Record the actor's state (and a poll) in the Store; a failure is logged, never raised
    (a poll loop outlives a Store that is restarting)."""
    try:
        store.daemon_heartbeat(name=identity["name"], daemon_type=identity["daemon_type"],
                               category=identity["category"], activity=identity["activity"],
                               state=state, polled=polled, last_error=last_error)
    except Exception as exc:  # the next heartbeat says it again
        log.warning("%s: heartbeat failed: %s", identity["name"], exc)


def poll_until(stop: threading.Event, every: float, poll: Callable[[], Any],
               on_error: Callable[[Exception], None]) -> None:
    """Call ``poll`` every ``every`` seconds until ``stop`` is set; errors go to ``on_error``."""
    while not stop.is_set():
        try:
            poll()
        except Exception as exc:
            on_error(exc)
        stop.wait(every)


class PollLoop:
    """The poll thread of a background actor (Load, Extract, Scheduler, Probes).

    ``start`` and ``stop`` are idempotent; ``stop`` waits for the poll under way to finish (a
    file being loaded or written, a tick), at most ``timeout`` seconds when one is given."""

    def __init__(self, name: str, every: float, poll: Callable[[], Any],
                 on_error: Callable[[Exception], None]) -> None:
        self.name, self.every, self._poll, self._on_error = name, every, poll, on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=poll_until, args=(self._stop, self.every, self._poll, self._on_error),
                                        name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


__all__ = ["PollLoop", "poll_until", "send_heartbeat"]
