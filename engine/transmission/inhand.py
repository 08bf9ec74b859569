"""What an adaptor holds: the requests it claimed, their leases, and their outcomes until recorded.

Outcomes are buffered and written in batches (every ``flush_seconds``, or at once when
``flush_max`` are waiting): a queue call costs mostly the same whatever its size, so batching
is what makes the bookkeeping cheap (the brief's "every 100 ms or 500 outcomes" measured 1.5-2x
the CPU per command of one flush a second; see the adaptor's defaults). A crash loses at most the unflushed outcomes, which is
safe: their leases expire, the requests are claimed again, and re-sending them under the same
Idempotency-Keys makes the network replay its stored answers instead of executing twice.

Leases of everything held (claimed and not yet recorded) are renewed every ``lease_seconds/3``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from engine.transmission.model import Outcome, TransmissionQueue

log = logging.getLogger("engine.transmission")

#: runs a queue method off the event loop: ``await call(queue.record_outcomes, batch, now=…)``
QueueCall = Callable[..., Awaitable[Any]]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class InHand:
    def __init__(self, queue: TransmissionQueue, call: QueueCall, worker: str, *, lease_seconds: float,
                 flush_seconds: float, flush_max: int, stats: Counter[str]) -> None:
        self._queue = queue
        self._call = call
        self.worker = worker
        self.lease_seconds = lease_seconds
        self.flush_seconds = flush_seconds
        self.flush_max = flush_max
        self.stats = stats
        self.held: set[int] = set()  # claimed and not yet recorded or released
        self.pending: list[Outcome] = []
        self._flush_now = asyncio.Event()
        self._lock = asyncio.Lock()

    def hold(self, request_ids: list[int]) -> None:
        self.held.update(request_ids)

    def add(self, outcome: Outcome) -> None:
        self.pending.append(outcome)
        if len(self.pending) >= self.flush_max:
            self._flush_now.set()

    async def flush(self) -> bool:
        """Record what is pending; on failure keep it for the next try (the leases still run)."""
        async with self._lock:
            if not self.pending:
                return True
            batch, self.pending = self.pending, []
            try:
                applied = await self._call(self._queue.record_outcomes, batch, now=utcnow())
            except Exception as exc:
                self.pending[:0] = batch
                self.stats["flush_errors"] += 1
                log.warning("%s: recording %d outcomes failed: %s", self.worker, len(batch), exc)
                return False
            self.held.difference_update(o.request_id for o in batch)
            self.stats["flushes"] += 1
            self.stats["recorded"] += applied
            if applied < len(batch):  # their leases had expired and another worker holds them
                self.stats["ignored"] += len(batch) - applied
                log.warning("%s: %d outcomes ignored (leases lost)", self.worker, len(batch) - applied)
            return True

    async def flush_loop(self) -> None:
        while True:
            try:  # (not wait_for: on Python 3.11 it can lose a cancellation)
                async with asyncio.timeout(self.flush_seconds):
                    await self._flush_now.wait()
            except TimeoutError:
                pass
            self._flush_now.clear()
            await self.flush()

    async def renew_loop(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, self.lease_seconds / 3.0))
            held = list(self.held)
            if not held:
                continue
            try:
                kept = await self._call(self._queue.renew_leases, self.worker, held, self.lease_seconds, utcnow())
                self.stats["renewals"] += 1
                if kept < len(held):
                    log.info("%s: %d of %d leases renewed (the others were recorded meanwhile, or lost)",
                             self.worker, kept, len(held))
            except Exception as exc:
                log.warning("%s: lease renewal failed: %s", self.worker, exc)

    async def finish(self, attempts: int = 3) -> None:
        """The last flush, then give back what is held without an outcome (never sent, or cut
        off in flight: a re-send under the same key is safe either way)."""
        for _ in range(attempts):
            if await self.flush():
                break
            await asyncio.sleep(self.flush_seconds)
        unsent = sorted(self.held - {o.request_id for o in self.pending})
        if unsent:
            try:
                self.stats["released"] += await self._call(self._queue.release_requests, self.worker, unsent, utcnow())
            except Exception as exc:
                log.warning("%s: releasing %d requests failed (their leases will expire): %s", self.worker,
                            len(unsent), exc)
        self.held.clear()


__all__ = ["InHand", "QueueCall", "utcnow"]
