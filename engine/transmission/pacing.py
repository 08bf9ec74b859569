"""Pacing of network calls: a token-bucket rate limit and exponential backoff with full jitter."""

from __future__ import annotations

import asyncio
import random
import time


class TokenBucket:
    """At most ``rate`` acquisitions a second on average (0: unlimited), bursts of ``burst``.

    For one event loop (no lock needed: nothing awaits between the check and the take).
    """

    def __init__(self, rate: float, burst: float | None = None, *, clock=time.monotonic) -> None:
        self.rate = float(rate)
        self.capacity = float(burst) if burst else max(1.0, self.rate / 10.0)
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        while True:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            await asyncio.sleep((1.0 - self._tokens) / self.rate)


def backoff_delay(retry: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full jitter (AWS architecture blog): uniform in [0, min(cap, base·2^retry)], retry from 0."""
    ceiling = min(cap, base * (2.0 ** min(retry, 62)))
    return (rng or random).uniform(0.0, max(0.0, ceiling))


__all__ = ["TokenBucket", "backoff_delay"]
