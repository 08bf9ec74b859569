"""The queue in this process: :class:`LocalQueue` wraps a DuckDB connection (tests, benchmark,
a single-process engine). The Ray actor passes a facade over the Store actor instead.

Thread-safe: every call runs on the queue's own cursor under a lock, one transaction each, so
an adaptor's executor thread and the caller's thread can use it at once.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import duckdb

from engine.transmission import queue
from engine.transmission.builtins import builtin_effects
from engine.transmission.effects import EffectRegistry
from engine.transmission.model import Chain, Outcome


class LocalQueue:
    def __init__(self, con: duckdb.DuckDBPyConnection, effects: EffectRegistry | None = None) -> None:
        self._con = con.cursor()
        self._lock = threading.Lock()
        self._effects = builtin_effects() if effects is None else effects  # what finished commands change

    def claim(self, *, target: str, worker: str, max_chains: int, lease_seconds: float,
              now: datetime) -> list[Chain]:
        with self._lock:
            return queue.claim(self._con, target=target, worker=worker, max_chains=max_chains,
                               lease_seconds=lease_seconds, now=now)

    def record(self, outcomes: list[Outcome], *, now: datetime) -> int:
        with self._lock:
            return queue.record(self._con, outcomes, now=now, effects=self._effects)

    def renew(self, worker: str, request_ids: list[int], lease_seconds: float, now: datetime) -> int:
        with self._lock:
            return queue.renew(self._con, worker, request_ids, lease_seconds, now)

    def release(self, worker: str, request_ids: list[int], now: datetime) -> int:
        with self._lock:
            return queue.release(self._con, worker, request_ids, now)

    # operator actions and views, for the same callers
    def resubmit(self, request_id: int, reason: str, actor: str, now: datetime) -> dict[str, Any]:
        with self._lock:
            return queue.resubmit(self._con, request_id, reason, actor, now, self._effects)

    def close(self, request_id: int, reason: str, actor: str, now: datetime) -> dict[str, Any]:
        with self._lock:
            return queue.close(self._con, request_id, reason, actor, now, self._effects)

    def show_request(self, request_id: int) -> dict[str, Any]:
        with self._lock:
            return queue.show_request(self._con, request_id)

    def list_requests(self, **filters: Any) -> list[dict[str, Any]]:
        with self._lock:
            return queue.list_requests(self._con, **filters)

    def queue_depths(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return queue.queue_depths(self._con)

    def dispose(self) -> None:
        """Close the queue's cursor (not the connection it was made from)."""
        with self._lock:
            self._con.close()


__all__ = ["LocalQueue"]
