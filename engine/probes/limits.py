"""What keeps one probe from stalling the rest: a time limit per measurement, and locks that
serialise only what must be.

A probe measures on a cursor of its own, so DuckDB runs it beside every other Store call (a
query on one connection does not block the others; measured: a runaway count over
``range(10^11)`` and an honest probe, a load and the CLI's calls side by side). At the probe's
``timeout_seconds`` the cursor is interrupted (``DuckDBPyConnection.interrupt`` from a watchdog
thread; the query ends within about a second) and the run is recorded as "probe failed".

What must be serialised: two runs of the *same* probe (the periodic one and a `cmpctl probes
run`) write the same alert rows, which DuckDB would refuse as a write-write conflict; and two
syncs of the definitions update every row of ``probes``. Runs of different probes write
disjoint rows (results and notifications are appended, alerts are per probe and subject) and
run side by side.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import duckdb

#: how often the watchdog interrupts again once the limit has passed: a kind of several
#: statements may have been between two of them when the first interrupt came
REINTERRUPT_SECONDS = 0.2


class ProbeLocks:
    """One lock per probe name (runs of one probe in turn), and one for definition syncs."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._by_probe: dict[str, threading.Lock] = {}
        self.sync = threading.Lock()

    def of(self, probe: str) -> threading.Lock:
        with self._guard:
            return self._by_probe.setdefault(probe, threading.Lock())


class TimeLimit:
    """``with TimeLimit(cursor, seconds) as limit:`` interrupts ``cursor``'s work after
    ``seconds`` (and again every REINTERRUPT_SECONDS until the block ends); ``limit.expired``
    says whether it did."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self._cursor = cursor
        self.seconds = seconds
        self.expired = False
        self._done = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="probe-time-limit", daemon=True)

    def __enter__(self) -> TimeLimit:
        self._watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._watchdog.join()

    def _watch(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.expired = True
        while True:
            self._cursor.interrupt()
            if self._done.wait(REINTERRUPT_SECONDS):
                return


@contextlib.contextmanager
def own_cursor(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A new cursor of ``con``'s database (interrupting it touches no other work), closed after."""
    cursor = con.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


__all__ = ["ProbeLocks", "REINTERRUPT_SECONDS", "TimeLimit", "own_cursor"]
