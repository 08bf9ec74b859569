"""What every service of the Store stands on: a cursor per call from the one connection, and
the clock its times come from.

A service is a small class of the Store's methods for one subsystem; the Store
(:mod:`engine.store.store`) is their composition, so each method is declared once, here, and
the Store actor and its client derive from it. A service method opens its own cursor (DuckDB
connections are not shared across threads; the actor runs methods on several threads).
"""

from __future__ import annotations

import threading
from datetime import datetime

import duckdb

from engine.schedule.clock import Clock


class StoreBase:
    _con: duckdb.DuckDBPyConnection
    _cursor_lock: threading.Lock
    _clock: Clock  # the Store's times (jobs "as of", slot starts and ends); tests pass a manual one

    def _init_base(self, con: duckdb.DuckDBPyConnection, clock: Clock) -> None:
        self._con = con
        self._cursor_lock = threading.Lock()
        self._clock = clock

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor for one thread's work (in the Store's process; it does not travel)."""
        with self._cursor_lock:
            return self._con.cursor()

    def _now(self) -> datetime:
        """The Store's current time (its clock's)."""
        return self._clock()


__all__ = ["StoreBase"]
