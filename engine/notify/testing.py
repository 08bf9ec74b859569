"""Real local receivers for tests and the demo: an aiohttp webhook endpoint and an SMTP server
(aiosmtpd, from the ``test`` extra), both on 127.0.0.1, each on its own thread.

    with WebhookReceiver() as hook, SmtpReceiver() as smtp:
        ... recipients=(f"webhook:{hook.url}", "email:ops@example.com"), smtp.host / smtp.port
        hook.wait_for(1); smtp.wait_for(1)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from email import message_from_bytes, policy
from email.message import Message
from typing import Any


class WebhookReceiver:
    """Records every JSON POST to ``/hook``; ``status`` and ``delay`` shape its answers."""

    def __init__(self, *, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="webhook-receiver", daemon=True)

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the webhook receiver did not start")
        return self

    def _serve(self) -> None:
        from aiohttp import web

        async def hook(request: web.Request) -> web.Response:
            doc = await request.json()
            with self._lock:
                self.received.append(doc)
                self.headers.append(dict(request.headers))
            if self.delay:
                await asyncio.sleep(self.delay)
            return web.json_response({"ok": self.status < 300}, status=self.status)

        async def start() -> None:
            app = web.Application()
            app.router.add_post("/hook", hook)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # the port the OS chose for port 0
            self.url = f"http://127.0.0.1:{port}/hook"
            self._ready.set()

        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(start())
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return _wait(lambda: self.received, count, timeout, "webhook documents")

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class SmtpReceiver:
    """aiosmtpd on a free port; keeps each received mail as an ``email.message.Message``.

    With ``tls_context`` it offers STARTTLS, and with ``credentials`` it requires AUTH."""

    def __init__(self, *, tls_context=None, credentials: tuple[str, str] | None = None) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[str] = []
        self._tls_context = tls_context
        self._credentials = credentials
        self.host = "127.0.0.1"

    def __enter__(self) -> "SmtpReceiver":
        import socket

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                receiver.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                                   policy=policy.default))
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = (auth_data.login.decode(), auth_data.password.decode()) == receiver._credentials
            if ok:
                receiver.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 235/535

        with socket.socket() as probe:  # a free port (the Controller needs one up front)
            probe.bind((self.host, 0))
            self.port = probe.getsockname()[1]
        kwargs: dict[str, Any] = {}
        if self._tls_context is not None:
            kwargs.update(tls_context=self._tls_context, require_starttls=True)
        if self._credentials is not None:
            kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=True)
        self._controller = Controller(Handler(), hostname=self.host, port=self.port, server_hostname="localhost",
                                      **kwargs)
        self._controller.start()
        return self

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Message]:
        return _wait(lambda: self.messages, count, timeout, "mails")

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def _wait(items, count: int, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while len(items()) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} {what} within {timeout:g} s, got {len(items())}: "
                                 f"{json.dumps(items(), default=str)[:500]}")
        time.sleep(0.02)
    return list(items())


__all__ = ["SmtpReceiver", "WebhookReceiver"]
