"""The request log in this process: :class:`LocalQueue` is the Store's own request methods over
a DuckDB connection, without the rest of the Store (tests, benchmark). The Ray actor passes the
Store actor's client instead; both are a :class:`~engine.transmission.model.TransmissionQueue`.

Thread-safe: every call runs on the queue's own cursor under a lock, one transaction each, so
an adaptor's executor thread and the caller's thread can use it at once.
"""

from __future__ import annotations

import duckdb

from engine.schedule.clock import system_clock
from engine.store.services.requests import RequestService
from engine.transmission.effects import EffectRegistry


class LocalQueue(RequestService):
    def __init__(self, con: duckdb.DuckDBPyConnection, effects: EffectRegistry | None = None) -> None:
        self._init_base(con, system_clock)
        self._init_requests(effects)

    def dispose(self) -> None:
        """Close the queue's cursor (not the connection it was made from)."""
        self._close_requests()


__all__ = ["LocalQueue"]
