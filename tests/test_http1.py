"""The adaptors' HTTP/1.1 client against a scripted server on loopback: framing, keep-alive,
failures, timeouts, TLS, and the exact request bytes an OCS receives."""

from __future__ import annotations

import asyncio
import datetime
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from engine.transmission.http1 import Client, ConnectionLost
from engine.transmission.model import HttpCall
from engine.transmission.sender import HttpSender, NetworkConnectionError, NetworkTimeout


class Scripted:
    """A loopback server: reads one request head (+ Content-Length body) at a time and answers
    with ``answer(n, request)`` (bytes, or None to close without a word; n counts requests)."""

    def __init__(self, answer, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.ssl_context = ssl_context
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.base_events.Server | None = None

    async def __aenter__(self) -> "Scripted":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                reply = self.answer(len(self.requests), request)
                if asyncio.iscoroutine(reply):
                    reply = await reply
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if b"connection: close" in reply.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def ok(body: bytes = b'{"id":"1"}', *extra: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in extra)
    return f"HTTP/1.1 201 Created\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


def run(coro):
    return asyncio.run(coro)


def test_request_bytes_and_keep_alive():
    async def main():
        async with Scripted(lambda n, req: ok(f'{{"n":{n}}}'.encode(), "Idempotent-Replayed: true")) as srv:
            sender = HttpSender(f"http://127.0.0.1:{srv.port}/api/", "s3cret", timeout_seconds=5)
            try:
                first = await sender.send(HttpCall("POST", "/things", b'{"a":1}'), "42", "00-" + "a" * 32 + "-" + "b" * 16 + "-01")
                second = await sender.send(HttpCall("PATCH", "/things/1", b""), "43")
            finally:
                await sender.close()
            return srv, first, second

    srv, first, second = run(main())
    assert (first.status, first.body, first.replayed) == (201, b'{"n":1}', True)
    assert second.body == b'{"n":2}'
    assert srv.connections == 1  # the second request reused the connection
    head, _, body = srv.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /api/things HTTP/1.1"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers == {"Host": f"127.0.0.1:{srv.port}", "Authorization": "Bearer s3cret",
                       "Content-Type": "application/json", "Idempotency-Key": "42",
                       "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01", "Content-Length": "7"}
    assert body == b'{"a":1}'
    assert srv.requests[1].startswith(b"PATCH /api/things/1 HTTP/1.1\r\n") and b"traceparent" not in srv.requests[1]


def test_chunked_interim_and_close_framing():
    chunked = (b"HTTP/1.1 100 Continue\r\n\r\n"
               b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n")
    until_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe rest of the stream"

    async def main():
        answers = {1: chunked, 2: until_close, 3: ok(b"again")}
        async with Scripted(lambda n, req: answers[n]) as srv:
            client = Client(f"http://127.0.0.1:{srv.port}")
            try:
                got = [await client.request("GET", "/x") for _ in range(3)]
            finally:
                await client.close()
            return srv, got

    srv, got = run(main())
    assert got[0].status == 200 and got[0].body == b"Wikipedia in \r\n\r\nchunks."
    assert got[1].body == b"the rest of the stream"
    assert got[2].body == b"again"
    assert srv.connections == 2  # the body-until-close answer ended its connection


def test_answer_split_across_reads():
    async def main():
        class Dribble(Scripted):
            async def _serve(self, reader, writer):
                self.connections += 1
                await reader.readuntil(b"\r\n\r\n")
                for piece in (b"HTTP/1.1 2", b"00 OK\r\nContent-Le", b"ngth: 5\r\n\r", b"\nhe", b"llo"):
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.01)
                writer.close()

        async with Dribble(None) as srv:
            client = Client(f"http://127.0.0.1:{srv.port}")
            try:
                return await client.request("GET", "/")
            finally:
                await client.close()

    answer = run(main())
    assert (answer.status, answer.body) == (200, b"hello")


@pytest.mark.parametrize("reply, message", [
    (None, "closed the connection"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "closed the connection"),
    (b"SMTP ready\r\n\r\n", "not an HTTP/1.x status line"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
])
def test_broken_answers_are_transient_connection_errors(reply, message):
    async def main():
        class CloseAfter(Scripted):
            async def _serve(self, reader, writer):
                self.connections += 1
                await reader.readuntil(b"\r\n\r\n")
                if reply is not None:
                    writer.write(reply)
                    await writer.drain()
                await asyncio.sleep(0.05)
                writer.close()

        async with CloseAfter(None) as srv:
            sender = HttpSender(f"http://127.0.0.1:{srv.port}", "t", timeout_seconds=5)
            try:
                with pytest.raises(NetworkConnectionError, match=message):
                    await sender.send(HttpCall("POST", "/c", b"{}"), "k")
            finally:
                await sender.close()

    run(main())


def test_timeout_never_reuses_the_late_connection():
    async def main():
        async def answer(n, req):
            if n == 1:
                await asyncio.sleep(0.5)  # answers after the client gave up
                return ok(b"late")
            return ok(b"fresh")

        async with Scripted(answer) as srv:
            sender = HttpSender(f"http://127.0.0.1:{srv.port}", "t", timeout_seconds=0.2)
            try:
                with pytest.raises(NetworkTimeout, match="no answer within 0.2s"):
                    await sender.send(HttpCall("POST", "/c", b"{}"), "k1")
                await asyncio.sleep(0.4)
                reply = await sender.send(HttpCall("POST", "/c", b"{}"), "k2")
            finally:
                await sender.close()
            return srv, reply

    srv, reply = run(main())
    assert reply.body == b"fresh"  # not the late answer to k1
    assert srv.connections == 2


def test_refused_connection():
    async def main():
        async with Scripted(lambda n, req: ok(b"x")) as srv:
            port = srv.port  # closed on exit: nothing listens there any more
        sender = HttpSender(f"http://127.0.0.1:{port}", "t", timeout_seconds=2)
        try:
            with pytest.raises(NetworkConnectionError, match="cannot connect"):
                await sender.send(HttpCall("GET", "/", b""), "k")
        finally:
            await sender.close()

    run(main())


def test_server_closing_idle_connection_is_not_an_error():
    async def main():
        class OneShot(Scripted):
            async def _serve(self, reader, writer):
                self.connections += 1
                await reader.readuntil(b"\r\n\r\n")
                writer.write(ok(b"z"))
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.close()  # keep-alive promised, then closed while idle

        async with OneShot(None) as srv:
            client = Client(f"http://127.0.0.1:{srv.port}")
            try:
                first = await client.request("GET", "/")
                await asyncio.sleep(0.2)  # the close arrives while the connection is idle
                second = await client.request("GET", "/")
            finally:
                await client.close()
            return srv, first, second

    srv, first, second = run(main())
    assert first.body == second.body == b"z" and srv.connections == 2


def test_pool_bounds_connections():
    async def main():
        async def answer(n, req):
            await asyncio.sleep(0.05)
            return ok(b"p")

        async with Scripted(answer) as srv:
            client = Client(f"http://127.0.0.1:{srv.port}", max_connections=2)
            try:
                got = await asyncio.gather(*(client.request("GET", f"/{i}") for i in range(8)))
            finally:
                await client.close()
            return srv, got

    srv, got = run(main())
    assert [a.body for a in got] == [b"p"] * 8 and srv.connections == 2


def _self_signed() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def test_https_with_hostname_check(tmp_path):
    cert, key = _self_signed()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    trusting = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))

    async def main():
        async with Scripted(lambda n, req: ok(b"secure"), ssl_context=server_ctx) as srv:
            client = Client(f"https://localhost:{srv.port}", ssl_context=trusting)
            try:
                answer = await client.request("POST", "/c", b"{}")
            finally:
                await client.close()
            untrusting = Client(f"https://localhost:{srv.port}")  # the default trust store
            try:
                with pytest.raises(ConnectionLost, match="CERTIFICATE_VERIFY_FAILED"):
                    await untrusting.request("POST", "/c", b"{}")
            finally:
                await untrusting.close()
            return srv, answer

    srv, answer = run(main())
    assert answer.body == b"secure"
    assert srv.requests[0].startswith(b"POST /c HTTP/1.1\r\nHost: localhost:")


def test_rejects_what_is_not_an_http_url():
    for url in ("ftp://host/x", "127.0.0.1:8700", "http:///path"):
        with pytest.raises(ValueError, match="not an http"):
            Client(url)
