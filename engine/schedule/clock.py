"""Clocks: the real one, and a manual one that tests (and the demo) move by hand."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Callable

Clock = Callable[[], datetime]  # returns an aware datetime


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


class ManualClock:
    """A clock that only moves when told to (thread-safe); call it for the current time."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(timezone.utc)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> datetime:
        with self._lock:
            self._now = when.astimezone(timezone.utc)
            return self._now

    def advance(self, seconds: float = 0.0, **kwargs: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds, **kwargs)
            return self._now


__all__ = ["Clock", "ManualClock", "system_clock"]
