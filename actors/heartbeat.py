"""What every background actor shares: its row in the ``daemons`` table, and a poll loop that
outlives a failed poll (the Store may be restarting; the next poll tries again)."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Mapping

from actors.clients import call

log = logging.getLogger(__name__)


def send_heartbeat(store, identity: Mapping[str, str], *, state: str, polled: bool,
                   last_error: str | None) -> None:
    """Record the actor's state (and a poll) in the Store; a failure is logged, never raised."""
    try:
        call(store.daemon_heartbeat.remote(**identity, state=state, polled=polled, last_error=last_error))
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


__all__ = ["poll_until", "send_heartbeat"]
