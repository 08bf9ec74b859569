"""The one HTTP sender of network commands (aiohttp), shared by the adaptors and the benchmark.

Every call carries ``Authorization: Bearer``, ``Idempotency-Key`` and, when given, a W3C
``traceparent``; the body is sent as the exact bytes it was built with. A call that gets no
answer (timeout, reset, refused connection, a broken answer) raises a
:class:`~engine.errors.NetworkTransientError` subclass; any HTTP answer is returned as a
:class:`Reply` for :mod:`engine.transmission.answers` to read.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from engine.errors import NetworkTransientError
from engine.transmission.model import HttpCall


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
    """An aiohttp session for one endpoint; use ``async with`` or call :meth:`close`.

    ``max_connections`` bounds the pool (the adaptor bounds calls in flight itself).
    """

    def __init__(self, base_url: str, token: str, *, timeout_seconds: float = 10.0,
                 max_connections: int = 64) -> None:
        if not base_url:
            raise ValueError("the endpoint has no url")
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._timeout_seconds = timeout_seconds
        self._max_connections = max(1, max_connections)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=self._max_connections,
                                             ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout,
                                                  skip_auto_headers=("User-Agent",))
        return self._session

    async def send(self, call: HttpCall, key: str, traceparent: str | None = None) -> Reply:
        """Send ``call`` under Idempotency-Key ``key``; NetworkTransientError if no answer came."""
        headers = dict(self._headers)
        headers["Idempotency-Key"] = key
        if traceparent:
            headers["traceparent"] = traceparent
        session = self._open()
        try:
            async with session.request(call.method, self.base_url + call.path, data=call.body,
                                       headers=headers) as resp:
                body = await resp.read()
                return Reply(resp.status, body, resp.headers.get("Idempotent-Replayed") == "true")
        except asyncio.TimeoutError:
            raise NetworkTimeout(f"no answer within {self._timeout_seconds:g}s to {call.method} {call.path}") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, ConnectionError) as exc:
            raise NetworkConnectionError(
                f"{type(exc).__name__} on {call.method} {call.path}: {exc or 'connection lost'}") from None

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> "HttpSender":
        self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = ["HttpSender", "NetworkConnectionError", "NetworkTimeout", "Reply"]
