"""Waiting for something the engine does in the background (a daemon's poll, a restart, a move)."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], what: str, timeout: float = 90.0, *, every: float = 0.2,
               tolerate: tuple[type[BaseException], ...] = (), show: Callable[[], object] | None = None) -> T:
    """The predicate's first truthy value; fails naming `what` (and `show()`, the state now) after
    `timeout` seconds. Exceptions of the `tolerate` types count as "not yet" (a restarting actor)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except tolerate:
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}"
                                 + (f"; now {show()}" if show else ""))
        time.sleep(every)
