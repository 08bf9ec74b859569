"""The Store's network request log: the transmission queue the adaptors claim from and record
to (:class:`engine.transmission.model.TransmissionQueue`), and the operator's actions and views.

Every call is one transaction on the log's own cursor, under one lock: the queue's statements
touch the same tables, and serialising them keeps them free of write conflicts.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import duckdb

from engine.store.services.base import StoreBase
from engine.transmission import queue
from engine.transmission.builtins import builtin_effects
from engine.transmission.effects import EffectRegistry
from engine.transmission.model import Chain, Outcome


class RequestService(StoreBase):
    _requests_cursor: duckdb.DuckDBPyConnection
    _requests_lock: threading.Lock
    _effects: EffectRegistry

    def _init_requests(self, effects: EffectRegistry | None = None) -> None:
        self._requests_cursor = self._con.cursor()
        self._requests_lock = threading.Lock()
        self._effects = builtin_effects() if effects is None else effects  # what finished commands change

    # -- the transmission queue (an adaptor's calls) ----------------------------------------------

    def claim_requests(self, *, target: str, worker: str, max_chains: int, lease_seconds: float,
                       now: datetime) -> list[Chain]:
        """Return expired leases of ``target`` to work, then claim up to ``max_chains`` chains."""
        with self._requests_lock:
            return queue.claim(self._requests_cursor, target=target, worker=worker, max_chains=max_chains,
                               lease_seconds=lease_seconds, now=now)

    def record_outcomes(self, outcomes: list[Outcome], *, now: datetime) -> int:
        """Apply outcomes and their effects; returns how many applied (the rest lost their lease)."""
        with self._requests_lock:
            return queue.record(self._requests_cursor, outcomes, now=now, effects=self._effects)

    def renew_leases(self, worker: str, request_ids: list[int], lease_seconds: float, now: datetime) -> int:
        """Extend the leases the worker still holds; returns how many it still holds."""
        with self._requests_lock:
            return queue.renew(self._requests_cursor, worker, request_ids, lease_seconds, now)

    def release_requests(self, worker: str, request_ids: list[int], now: datetime) -> int:
        """Give unsent claimed requests back to work (UN); returns how many."""
        with self._requests_lock:
            return queue.release(self._requests_cursor, worker, request_ids, now)

    # -- operator actions and views (cmpctl requests, probes, the supervisor's drain) -------------

    def resubmit_request(self, request_id: int, reason: str, actor: str, now: datetime) -> dict[str, Any]:
        """Send an unresolved request (NR/NF/PE/NE) again; returns it as it is now."""
        with self._requests_lock:
            return queue.resubmit(self._requests_cursor, request_id, reason, actor, now, self._effects)

    def close_request(self, request_id: int, reason: str, actor: str, now: datetime) -> dict[str, Any]:
        """Mark an unresolved request done (NC) by hand; returns it as it is now."""
        with self._requests_lock:
            return queue.close(self._requests_cursor, request_id, reason, actor, now, self._effects)

    def show_request(self, request_id: int) -> dict[str, Any]:
        """One request with its whole history (NotFound if there is none)."""
        with self._requests_lock:
            return queue.show_request(self._requests_cursor, request_id)

    def list_requests(self, *, status: str | None = None, target: str | None = None,
                      subscription_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Requests, newest first, optionally filtered."""
        with self._requests_lock:
            return queue.list_requests(self._requests_cursor, status=status, target=target,
                                       subscription_id=subscription_id, limit=limit)

    def queue_depths(self) -> dict[str, dict[str, int]]:
        """``{target: {status: count}}`` over the whole log."""
        with self._requests_lock:
            return queue.queue_depths(self._requests_cursor)

    def _close_requests(self) -> None:
        with self._requests_lock:
            self._requests_cursor.close()


__all__ = ["RequestService"]
