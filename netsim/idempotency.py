"""Idempotency-Key bookkeeping: one execution per key, the first answer replayed forever.

Why a future per key: two requests with the same key can be in flight at once (an engine that
retries after a client-side timeout while the first attempt is still being processed). The
first claims the key; the second awaits the first's answer instead of executing again. If the
first ends WITHOUT an answer (cancelled mid-way), the key is released and a waiter claims it.

The answer is stored as bytes, so a replay is byte-identical (same status, same body).
Requests with the same key but a different body are not replays but client bugs: they are
refused (422 IDEMPOTENCY_KEY_REUSED) rather than silently given someone else's answer.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes


@dataclass(slots=True)
class KeyEntry:
    fingerprint: bytes
    answer: Answer | None = None
    # While the claiming request executes, twins await this (created by the first twin).
    pending: asyncio.Future[None] | None = None
    executions: int = 0


def fingerprint(method: str, path: str, raw_body: bytes) -> bytes:
    """Identity of a request for the key-reuse check: method, path and the body BYTES.

    A retry resends the bytes it sent the first time (clients serialise a command once, or
    deterministically), so bytes are enough, and hashing them costs ~1 µs where canonical
    re-serialisation would cost several times that on every command of a 120k-command run."""
    return hashlib.blake2b(b"%s %s\n%s" % (method.encode(), path.encode(), raw_body), digest_size=16).digest()


@dataclass
class IdempotencyStore:
    entries: dict[str, KeyEntry] = field(default_factory=dict)
    executions: int = 0  # commands executed (a handler ran under a fresh key)
    duplicate_executions: int = 0  # self-check: a key executed more than once; must stay 0
    replays: int = 0  # answers served from the store
    key_mismatches: int = 0  # same key, different request
    waits: int = 0  # requests that found their key in flight and waited for its answer

    def clear(self) -> None:
        self.entries.clear()
        self.executions = self.duplicate_executions = self.replays = self.key_mismatches = self.waits = 0

    def claim_nowait(self, key: str, fp: bytes) -> tuple[KeyEntry, bool] | None:
        """The fast path, without awaiting: (entry, True) if the caller must execute,
        (entry, False) for a replay (entry.answer is set), None if the key is in flight.
        Raises ValueError if the key was used for another request."""
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = KeyEntry(fingerprint=fp)
            return entry, True
        if entry.fingerprint != fp:
            self.key_mismatches += 1
            raise ValueError(key)
        if entry.answer is not None:
            self.replays += 1
            return entry, False
        return None

    async def claim(self, key: str, fp: bytes) -> tuple[KeyEntry, bool]:
        """Like claim_nowait, but waits while a twin request is executing the key."""
        while True:
            claimed = self.claim_nowait(key, fp)
            if claimed is not None:
                return claimed
            entry = self.entries[key]
            self.waits += 1
            if entry.pending is None:  # created lazily: only twins ever need one
                entry.pending = asyncio.get_running_loop().create_future()
            # shield(): our own cancellation must not cancel the future other twins share.
            await asyncio.shield(entry.pending)
            # Loop: the answer is there now, or the executor gave up and removed the entry
            # (then we claim it).

    def complete(self, key: str, entry: KeyEntry, answer: Answer, *, executed: bool) -> None:
        """Store the first answer and wake waiters. ``executed`` counts a command run (False
        for an injected reject, which answers without executing anything)."""
        entry.answer = answer
        if executed:
            entry.executions += 1
            self.executions += 1
            if entry.executions > 1:
                self.duplicate_executions += 1
        self.wake(entry)

    def release(self, key: str, entry: KeyEntry) -> None:
        """The executor ended without an answer (cancelled): free the key for a retry."""
        if entry.answer is None and self.entries.get(key) is entry:
            del self.entries[key]
        self.wake(entry)

    @staticmethod
    def wake(entry: KeyEntry) -> None:
        if entry.pending is not None and not entry.pending.done():
            entry.pending.set_result(None)
        entry.pending = None

    def executions_for(self, key: str) -> int:
        entry = self.entries.get(key)
        return entry.executions if entry else 0
