"""The Store's read-only views for operators: batches (`cmpctl batches`), what the engine holds,
and the whole engine in one snapshot (`cmpctl status`)."""

from __future__ import annotations

from typing import Any

from engine.errors import NotFound
from engine.store import audit
from engine.store.services.base import StoreBase
from engine.store.status import snapshot


class AuditViews(StoreBase):
    def list_batches(self, limit: int = 50) -> list[dict[str, Any]]:
        """Batches, newest first, with their file."""
        with self.cursor() as cur:
            return audit.list_batches(cur, limit)

    def show_batch(self, batch_id: int, errors: int = 0) -> dict[str, Any]:
        """One batch with its triggers and (``errors`` > 0) its first erroring records."""
        with self.cursor() as cur:
            batch = audit.show_batch(cur, batch_id, errors)
        if batch is None:
            raise NotFound(f"no batch {batch_id}", hint="`cmpctl batches list` shows the batches")
        return batch

    def overview(self) -> dict[str, Any]:
        """Subscriptions by status, and those waiting for a future activation."""
        with self.cursor() as cur:
            return audit.overview(cur)

    def bill_cycle_candidates(self, day: int, limit: int = 100) -> list[str]:
        """Agreements a bill cycle change to ``day`` applies to."""
        with self.cursor() as cur:
            return audit.bill_cycle_candidates(cur, day, limit)

    def status(self) -> dict[str, Any]:
        """Daemons, queue depths, running jobs and firing alerts in one snapshot (`cmpctl status`)."""
        with self.cursor() as cur:
            return snapshot(cur)


__all__ = ["AuditViews"]
