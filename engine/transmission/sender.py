"""The one HTTP sender of network commands, shared by the adaptors and the benchmark.

Every call carries ``Authorization: Bearer``, ``Idempotency-Key`` and, when given, a W3C
``traceparent``; the body is sent as the exact bytes it was built with. A call that gets no
answer (timeout, reset, refused connection, a broken answer) raises a
:class:`~engine.errors.NetworkTransientError` subclass; any HTTP answer is returned as a
:class:`Reply` for :mod:`engine.transmission.answers` to read.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from engine.errors import NetworkTransientError
from engine.transmission.http1 import Client, ConnectionLost
from engine.transmission.model import HttpCall


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop: its transports and loop run in C, and the loop is a large share of
    an adaptor's CPU per command (see bench/transmit.py). The standard loop where uvloop has no
    build (it is a dependency on Linux and macOS only)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class NetworkTimeout(NetworkTransientError):
    """No answer within the endpoint's timeout (the command may or may not have executed)."""

    code = "TIMEOUT"


class NetworkConnectionError(NetworkTransientError):
    """The connection was refused, reset or closed before a whole answer arrived."""

    code = "CONNECTION_ERROR"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    replayed: bool = False  # netsim's Idempotent-Replayed: the stored answer of an earlier send


class HttpSender:
    """Keep-alive HTTP/1.1 connections to one endpoint (:mod:`engine.transmission.http1`); use
    ``async with`` or call :meth:`close`.

    ``max_connections`` bounds the pool (the adaptor bounds calls in flight itself).
    """

    def __init__(self, base_url: str, token: str, *, timeout_seconds: float = 10.0,
                 max_connections: int = 64) -> None:
        if not base_url:
            raise ValueError("the endpoint has no url")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout_seconds = timeout_seconds
        self._max_connections = max(1, max_connections)
        self._client: Client | None = None

    def _open(self) -> Client:
        if self._client is None:  # on the running loop: the pool's semaphore belongs to it
            self._client = Client(self.base_url, max_connections=self._max_connections,
                                  default_headers={"Authorization": f"Bearer {self._token}",
                                                   "Content-Type": "application/json"})
        return self._client

    async def send(self, call: HttpCall, key: str, traceparent: str | None = None) -> Reply:
        """Send ``call`` under Idempotency-Key ``key``; NetworkTransientError if no answer came."""
        headers = {"Idempotency-Key": key}
        if traceparent:
            headers["traceparent"] = traceparent
        try:
            answer = await self._open().request(call.method, call.path, call.body, headers,
                                                timeout=self._timeout_seconds)
        except asyncio.TimeoutError:
            raise NetworkTimeout(f"no answer within {self._timeout_seconds:g}s to {call.method} {call.path}") from None
        except (ConnectionLost, ConnectionError) as exc:
            raise NetworkConnectionError(
                f"{type(exc).__name__} on {call.method} {call.path}: {exc or 'connection lost'}") from None
        return Reply(answer.status, answer.body, answer.headers.get("idempotent-replayed") == "true")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = None

    async def __aenter__(self) -> "HttpSender":
        self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = ["HttpSender", "NetworkConnectionError", "NetworkTimeout", "Reply"]
