"""The HTTP layer: auth, traceparent, fault injection, idempotency, and the routes.

Request path for an OCS/Openet command (POST/PATCH):

    auth (401) -> Idempotency-Key present (400) -> fault draw
      error            -> 503, nothing executed, nothing stored (a retry executes)
      timeout / reset  -> seeded: lost BEFORE the OCS (nothing executed, nothing stored) or
                          AFTER it (executed, answer stored, but never delivered)
    -> claim the key: replay the stored answer, or wait for an in-flight twin, or execute
      reject           -> a fresh command is answered 422 and that answer is stored
    -> latency_ms is spent while holding the key, so same-key twins really overlap

Faults apply to the OCS/Openet APIs only; /_sim/* control endpoints are never faulted.
Per-request logging is at DEBUG so the benchmark path does no logging by default.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import socket
import struct
import time
from typing import Any, Awaitable, Callable

from aiohttp import web

from netsim.bcc import BccWriter
from netsim.body import invalid
from netsim.faults import FaultInjector, FaultSpec
from netsim.idempotency import Answer, IdempotencyStore, fingerprint
from netsim.model import ACCOUNT_PATH, SERVICE_PATH
from netsim.state import NetworkState

log = logging.getLogger("netsim")

TOPUP_PATH = "/tmf-api/prepayBalanceManagement/v4/topupBalance"
BUCKET_PATH = "/tmf-api/prepayBalanceManagement/v4/bucket"
BCC_PATH = "/openet/v1/billCycleChanges"

# W3C trace-context: version-traceid-parentid-flags; an invalid header is ignored (the spec's rule).
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
_DUMPS = json.JSONEncoder(separators=(",", ":")).encode


def encode(status: int, payload: Any) -> Answer:
    return Answer(status, _DUMPS(payload).encode())


def respond(answer: Answer, *, replayed: bool = False) -> web.Response:
    resp = web.Response(status=answer.status, body=answer.body, content_type="application/json")
    if replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    return resp


def error(status: int, code: str, reason: str) -> web.Response:
    return respond(encode(status, {"code": code, "reason": reason}))


class Sim:
    """Everything the handlers share (one per process)."""

    def __init__(self, token: str, faults: FaultSpec, bcc_writer_args: dict[str, Any],
                 timeout_hold: float = 30.0) -> None:
        self.bearer = f"Bearer {token}".encode()
        self.state = NetworkState()
        self.keys = IdempotencyStore()
        self.faults = FaultInjector(faults)
        self.bcc = BccWriter(self.state, self.faults, **bcc_writer_args)
        self.timeout_hold = timeout_hold
        self.requests = 0
        self.traced_requests = 0
        #: trace id → requests seen with it (insertion order; the oldest are forgotten first)
        self.trace_ids: dict[str, int] = {}
        self.held_connections = 0
        self.started = time.monotonic()

    async def lose_answer(self, request: web.Request, kind: str) -> web.Response:
        """Timeout: hold the connection, then close it without a word. Reset: drop it now,
        with a TCP RST (SO_LINGER 0) as a real middlebox reset would."""
        if kind == "timeout":
            self.held_connections += 1
            try:
                await asyncio.sleep(self.timeout_hold)
            finally:
                self.held_connections -= 1
            if request.transport is not None:
                request.transport.close()
        elif request.transport is not None:
            sock = request.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            request.transport.abort()
        # Never written: the transport is gone, and aiohttp drops the response quietly.
        return web.Response(status=204)

    def note_trace(self, trace_id: str) -> None:
        ids = self.trace_ids
        ids[trace_id] = ids.get(trace_id, 0) + 1
        if len(ids) > MAX_TRACE_IDS:
            del ids[next(iter(ids))]

    async def latency(self) -> None:
        await asyncio.sleep(self.faults.spec.latency_ms / 1000.0)


MAX_TRACE_IDS = 10_000  # trace ids kept for GET /_sim/traces
SIM = web.AppKey("sim", Sim)
Handler = Callable[[web.Request], Awaitable[web.Response]]
Inner = Callable[[web.Request, Sim], Awaitable[web.Response]]
Execute = Callable[[Sim, web.Request, Any], tuple[int, Any]]


def endpoint(sim: Sim, inner: Inner, *, public: bool = False) -> Handler:
    """Every route goes through here: count, authenticate, connect traces (log the W3C
    traceparent and echo it back). A wrapper per route with the Sim bound in a closure rather
    than a middleware and an app lookup: less work per request on the benchmark path."""

    async def handler(request: web.Request) -> web.Response:
        sim.requests += 1
        headers = request.headers
        traceparent = headers.get("traceparent")
        if traceparent is not None:
            if _TRACEPARENT.match(traceparent):
                sim.traced_requests += 1
                sim.note_trace(traceparent[3:35])
            else:
                traceparent = None  # W3C: an invalid traceparent is ignored, not propagated
        if not public and not hmac.compare_digest(headers.get("Authorization", "").encode(), sim.bearer):
            resp = error(401, "UNAUTHORIZED", "missing or wrong bearer token")
            resp.headers["WWW-Authenticate"] = "Bearer"
        else:
            resp = await inner(request, sim)
        if traceparent is not None:
            resp.headers["traceparent"] = traceparent
        if log.isEnabledFor(logging.DEBUG):  # per request: DEBUG only, never on the fast path
            log.debug("%s %s -> %s key=%s traceparent=%s", request.method, request.path_qs, resp.status,
                      headers.get("Idempotency-Key"), traceparent)
        return resp

    return handler


def command(execute: Execute) -> Inner:
    """Wrap a state-changing OCS/Openet operation with faults and idempotency."""

    async def handler(request: web.Request, sim: Sim) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        if not key or len(key) > 255:
            return error(400, "MISSING_IDEMPOTENCY_KEY", "every command needs an Idempotency-Key header (1-255 chars)")
        raw = await request.read()
        faults = sim.faults
        fault = faults.draw()
        lost_after = False
        if fault is not None:
            if fault == "error":
                faults.injected["error"] += 1
                return error(503, "SERVICE_UNAVAILABLE", "simulated network fault: try again")
            if fault == "timeout" or fault == "reset":
                faults.injected[fault] += 1
                if not faults.executes_before_failure():
                    return await sim.lose_answer(request, fault)  # lost on the way in
                faults.executed_before_failure[fault] += 1
                lost_after = True  # reaches the OCS; the answer is lost on the way out
        delay = faults.spec.latency_ms > 0
        fp = fingerprint(request.method, request.path, raw)
        try:
            claimed = sim.keys.claim_nowait(key, fp) or await sim.keys.claim(key, fp)
        except ValueError:
            return error(422, "IDEMPOTENCY_KEY_REUSED", f"Idempotency-Key {key!r} was used for a different request")
        entry, fresh = claimed
        if fresh:
            try:
                if delay:  # spent holding the key, so same-key twins really overlap
                    await sim.latency()
                if fault == "reject":
                    faults.injected["reject"] += 1
                    answer = encode(422, {"code": "NETWORK_REJECT",
                                          "reason": "simulated business reject (fault injection)"})
                    sim.keys.complete(key, entry, answer, executed=False)
                else:
                    try:
                        body: Any = json.loads(raw) if raw else None
                    except ValueError:
                        status, payload = sim.state.run(_invalid_json)
                    else:
                        status, payload = execute(sim, request, body)
                    answer = encode(status, payload)
                    sim.keys.complete(key, entry, answer, executed=True)
            finally:
                sim.keys.release(key, entry)  # no-op once an answer is stored
        else:
            if delay:
                await sim.latency()
            answer = entry.answer  # type: ignore[assignment]
        if lost_after:
            return await sim.lose_answer(request, fault)  # type: ignore[arg-type]
        return respond(answer, replayed=not fresh)

    return handler


def query(read: Callable[[Sim, web.Request], web.Response]) -> Inner:
    """Wrap a read-only OCS endpoint: transport faults and latency apply, reject does not."""

    async def handler(request: web.Request, sim: Sim) -> web.Response:
        fault = sim.faults.draw()
        if fault == "error":
            sim.faults.injected["error"] += 1
            return error(503, "SERVICE_UNAVAILABLE", "simulated network fault: try again")
        if fault == "timeout" or fault == "reset":
            sim.faults.injected[fault] += 1
            return await sim.lose_answer(request, fault)
        if sim.faults.spec.latency_ms > 0:
            await sim.latency()
        return read(sim, request)

    return handler


def _invalid_json() -> tuple[int, Any]:
    raise invalid("body: not valid JSON", code="INVALID_JSON")


# ---------------------------------------------------------------------- OCS / Openet routes
def _create_service(sim: Sim, request: web.Request, body: Any) -> tuple[int, Any]:
    return sim.state.run(sim.state.create_service, body)


def _patch_service(sim: Sim, request: web.Request, body: Any) -> tuple[int, Any]:
    return sim.state.run(sim.state.patch_service, request.match_info["id"], body)


def _topup(sim: Sim, request: web.Request, body: Any) -> tuple[int, Any]:
    return sim.state.run(sim.state.topup, body)


def _spend_cap(sim: Sim, request: web.Request, body: Any) -> tuple[int, Any]:
    return sim.state.run(sim.state.set_spend_cap, request.match_info["id"], body)


def _bill_cycle_change(sim: Sim, request: web.Request, body: Any) -> tuple[int, Any]:
    return sim.state.run(sim.state.bill_cycle_change, body)


def _get_service(sim: Sim, request: web.Request) -> web.Response:
    view = sim.state.service_view(request.match_info["id"])
    if view is None:
        return error(404, "NOT_FOUND", f"service {request.match_info['id']!r} does not exist")
    return respond(encode(200, view))


def _list_buckets(sim: Sim, request: web.Request) -> web.Response:
    pid = request.query.get("product.id")
    if not pid:
        return error(400, "INVALID_REQUEST", "query parameter product.id is required")
    return respond(encode(200, sim.state.list_buckets(pid)))


def _get_account(sim: Sim, request: web.Request) -> web.Response:
    account = sim.state.get_account(request.match_info["id"])
    if account is None:
        return error(404, "NOT_FOUND", f"billing account {request.match_info['id']!r} has no services")
    return respond(encode(200, account))


def add_api_routes(app: web.Application, sim: Sim) -> None:
    r = app.router
    r.add_post(SERVICE_PATH, endpoint(sim, command(_create_service)))
    r.add_patch(SERVICE_PATH + "/{id}", endpoint(sim, command(_patch_service)))
    r.add_get(SERVICE_PATH + "/{id}", endpoint(sim, query(_get_service)))
    r.add_post(TOPUP_PATH, endpoint(sim, command(_topup)))
    r.add_get(BUCKET_PATH, endpoint(sim, query(_list_buckets)))
    r.add_patch(ACCOUNT_PATH + "/{id}", endpoint(sim, command(_spend_cap)))
    r.add_get(ACCOUNT_PATH + "/{id}", endpoint(sim, query(_get_account)))
    r.add_post(BCC_PATH, endpoint(sim, command(_bill_cycle_change)))
