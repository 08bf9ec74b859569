"""A small HTTP/1.1 client for one endpoint: keep-alive connections, one request at a time each.

Why not aiohttp: an adaptor sends one small JSON command per call, hundreds per second, and
aiohttp's general machinery (URL objects, header multidicts, payload writers, a stream reader
per response) was a third of the OCS adaptor's CPU per command in the demo. Here a request is
one pre-formatted bytes write, and an answer is parsed from one buffer by a plain
:class:`asyncio.Protocol`.

What it does and does not do (all an adaptor needs from the OCS and Openet APIs):

- ``http`` and ``https`` (TLS with the default trust store and hostname check);
- answers framed by ``Content-Length``, ``Transfer-Encoding: chunked`` or the end of the
  connection; ``1xx`` interim answers are skipped; ``Connection: close`` (or HTTP/1.0 without
  keep-alive) closes the connection after the answer;
- a pool of at most ``max_connections`` connections, reused newest first; a connection the
  server closed while idle is dropped from the pool when the close is seen;
- no redirects, no cookies, no proxies, no compression (the request says nothing it cannot read).

Failures: no answer in time, a refused or reset connection, or a malformed answer raise
:class:`ConnectionLost` / :class:`asyncio.TimeoutError` for the sender to map onto the engine's
transient errors. A connection that failed or timed out is never reused (a late answer on it
would be read as the answer to the next request).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from urllib.parse import urlsplit

#: Longest status line plus headers, and longest body, accepted from the server.
MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024


class ConnectionLost(Exception):
    """The connection failed before a whole, well-formed answer arrived."""


class Answer:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers  # lower-case names; a repeated header keeps its last value
        self.body = body


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; parses the answer to the request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.keep_alive = True
        self._buf = bytearray()
        self._waiter: asyncio.Future[Answer] | None = None
        self._head: tuple[int, dict[str, str]] | None = None  # parsed status and headers
        self._framing = ""  # "length", "chunked" or "close"
        self._length = 0
        self._chunks: bytearray | None = None
        self._pos = 0  # chunked: where the next chunk-size line starts in _buf

    # -- asyncio.Protocol ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            # Bytes nobody asked for: the server is out of step with us; never reuse this.
            self.keep_alive = False
            self._abort()
            return
        self._buf += data
        try:
            answer = self._parse()
        except ConnectionLost as exc:
            self._fail(exc)
            return
        if answer is not None:
            self._reset()
            self._waiter.set_result(answer)

    def eof_received(self) -> bool | None:
        if self._waiter is not None and not self._waiter.done() and self._head is not None \
                and self._framing == "close":
            status, headers = self._head
            self.keep_alive = False
            answer = Answer(status, headers, bytes(self._buf))
            self._reset()
            self._waiter.set_result(answer)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            why = f"{type(exc).__name__}: {exc}" if exc else "the server closed the connection"
            self._waiter.set_exception(ConnectionLost(f"{why} before the whole answer"))

    # -- one exchange ----------------------------------------------------------------
    async def exchange(self, request: bytes) -> Answer:
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)  # type: ignore[union-attr]
        return await self._waiter

    def _abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, exc: Exception) -> None:
        self.keep_alive = False
        waiter = self._waiter
        self._abort()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _reset(self) -> None:
        self._head, self._framing, self._length, self._chunks, self._pos = None, "", 0, None, 0
        if self._buf:  # anything after a whole answer (we never pipeline): out of step
            self.keep_alive = False
        self._buf = bytearray()

    # -- parsing ---------------------------------------------------------------------
    def _parse(self) -> Answer | None:
        buf = self._buf
        while self._head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise ConnectionLost(f"answer head longer than {MAX_HEAD} bytes")
                return None
            status, headers, version = _parse_head(bytes(buf[:end]))
            del buf[:end + 4]
            if 100 <= status < 200:  # an interim answer (100 Continue, 103): the real one follows
                continue
            self._head = (status, headers)
            if version == "HTTP/1.0":
                self.keep_alive = headers.get("connection", "").lower() == "keep-alive"
            elif "close" in headers.get("connection", "").lower():
                self.keep_alive = False
            if status in (204, 304):
                self._framing, self._length = "length", 0
            elif "chunked" in headers.get("transfer-encoding", "").lower():
                self._framing, self._chunks = "chunked", bytearray()
            elif "content-length" in headers:
                try:
                    self._length = int(headers["content-length"])
                except ValueError:
                    raise ConnectionLost(f"bad Content-Length {headers['content-length']!r}") from None
                if not 0 <= self._length <= MAX_BODY:
                    raise ConnectionLost(f"Content-Length {self._length} outside 0..{MAX_BODY}")
                self._framing = "length"
            else:
                self._framing, self.keep_alive = "close", False
        status, headers = self._head
        if self._framing == "length":
            if len(buf) < self._length:
                return None
            body = bytes(buf[:self._length])
            del buf[:self._length]
            return Answer(status, headers, body)
        if self._framing == "chunked":
            return self._parse_chunks(status, headers)
        if len(buf) > MAX_BODY:
            raise ConnectionLost(f"answer body longer than {MAX_BODY} bytes")
        return None  # "close": the body ends with the connection (eof_received)

    def _parse_chunks(self, status: int, headers: dict[str, str]) -> Answer | None:
        buf, chunks = self._buf, self._chunks
        assert chunks is not None
        while True:
            eol = buf.find(b"\r\n", self._pos)
            if eol < 0:
                return None
            line = bytes(buf[self._pos:eol]).split(b";", 1)[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                raise ConnectionLost(f"bad chunk size {line[:40]!r}") from None
            if size == 0:  # the last chunk, optional trailers, then an empty line
                end = buf.find(b"\r\n\r\n", eol)
                if end < 0:
                    if len(buf) - eol > MAX_HEAD:
                        raise ConnectionLost("chunked trailers too long")
                    return None
                del buf[:end + 4]
                return Answer(status, headers, bytes(chunks))
            start, stop = eol + 2, eol + 2 + size
            if len(buf) < stop + 2:
                return None
            if buf[stop:stop + 2] != b"\r\n":
                raise ConnectionLost("a chunk does not end with CRLF")
            chunks += buf[start:stop]
            if len(chunks) > MAX_BODY:
                raise ConnectionLost(f"answer body longer than {MAX_BODY} bytes")
            self._pos = stop + 2


def _parse_head(head: bytes) -> tuple[int, dict[str, str], str]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise ConnectionLost(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ConnectionLost(f"malformed header line: {line[:80]!r}")
        headers[name.lower()] = value.strip()
    return int(parts[1]), headers, parts[0]


class Client:
    """Keep-alive HTTP/1.1 to one origin (scheme, host, port) with at most ``max_connections``."""

    def __init__(self, base_url: str, *, max_connections: int = 64, ssl_context: ssl.SSLContext | None = None,
                 default_headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self._ssl = (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        default_port = 443 if parts.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        authority = host if self.port == default_port else f"{host}:{self.port}"
        fixed = {"Host": authority, **(default_headers or {})}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max(1, max_connections))
        self._open: set[_Connection] = set()
        self._closed = False

    def request_bytes(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return (f"{method} {self.prefix}{path} HTTP/1.1\r\n{self._fixed}{extra}"
                f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                      *, timeout: float = 10.0) -> Answer:
        """One exchange within ``timeout`` seconds (connecting included)."""
        if self._closed:
            raise ConnectionLost("the client is closed")
        data = self.request_bytes(method, path, body, headers or {})
        async with self._slots:
            conn: _Connection | None = None
            try:
                async with asyncio.timeout(timeout):
                    conn = self._take() or await self._connect()
                    answer = await conn.exchange(data)
            except BaseException:
                if conn is not None:  # an exchange cut short: its answer may still come; never reuse
                    conn._abort()
                    self._open.discard(conn)
                raise
            if conn.keep_alive and not conn.closed and not self._closed:
                self._idle.append(conn)
            else:
                conn._abort()
                self._open.discard(conn)
            return answer

    def _take(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()  # newest first: the least likely to have been closed idle
            if not conn.closed:
                return conn
            self._open.discard(conn)
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(_Connection, self.host, self.port, ssl=self._ssl,
                                                   server_hostname=self.host if self._ssl else None)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectionLost(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        self._open.add(conn)
        return conn

    async def close(self) -> None:
        self._closed = True
        for conn in list(self._open):
            if conn.transport is not None:
                conn.transport.close()
        self._open.clear()
        self._idle.clear()


__all__ = ["Answer", "Client", "ConnectionLost", "MAX_BODY", "MAX_HEAD"]
