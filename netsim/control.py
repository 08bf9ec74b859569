"""``/_sim/*``: the simulator's own control and inspection endpoints (tests, demo, benchmark).

Never faulted, never idempotency-keyed (they are not network commands); all but
``GET /_sim/health`` need the bearer token like the network APIs.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from netsim.app import Sim, encode, endpoint, error, respond
from netsim.faults import FaultSpec


def _ok(payload: Any) -> web.Response:
    return respond(encode(200, payload))


def stats_of(sim: Sim) -> dict[str, Any]:
    keys = sim.keys
    return {
        "executions": keys.executions,
        "duplicate_executions": keys.duplicate_executions,
        "replays": keys.replays,
        "key_mismatches": keys.key_mismatches,
        "inflight_waits": keys.waits,
        "idempotency_keys": len(keys.entries),
        **sim.state.stats(),
        "faults_injected": dict(sim.faults.injected),
        "faults_executed_before_failure": dict(sim.faults.executed_before_failure),
        "held_connections": sim.held_connections,
        "requests": sim.requests,
        "traced_requests": sim.traced_requests,
        "bcc_files": len(sim.bcc.files),
        "bcc_faults": len(sim.bcc.injected),
        "bcc_write_errors": sim.bcc.write_errors,
        "faults": sim.faults.spec.to_spec(),
        "uptime_seconds": round(time.monotonic() - sim.started, 3),
    }


async def health(request: web.Request, sim: Sim) -> web.Response:
    return _ok({"status": "ok"})


async def stats(request: web.Request, sim: Sim) -> web.Response:
    return _ok(stats_of(sim))


async def get_faults(request: web.Request, sim: Sim) -> web.Response:
    spec = sim.faults.spec
    return _ok({"faults": spec.to_spec(), "parsed": spec.as_dict()})


async def set_faults(request: web.Request, sim: Sim) -> web.Response:
    try:
        body = json.loads(await request.read() or b"{}")
        text = body.get("faults", "") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise ValueError('expected {"faults": "name=value,…"}')
        spec = FaultSpec.parse(text)
    except ValueError as exc:
        return error(400, "INVALID_FAULTS", str(exc))
    sim.faults.configure(spec)  # reseeds: the same spec replays the same fault sequence
    return _ok({"faults": spec.to_spec(), "parsed": spec.as_dict()})


async def flush(request: web.Request, sim: Sim) -> web.Response:
    if not sim.bcc.enabled:
        return _ok({"files": [], "enabled": False})
    try:
        names = await sim.bcc.flush()
    except Exception as exc:  # noqa: BLE001 - reported to the caller, records kept pending
        return error(500, "FLUSH_FAILED", f"{type(exc).__name__}: {exc}")
    return _ok({"files": names, "enabled": True})


async def reset(request: web.Request, sim: Sim) -> web.Response:
    """Forget everything: subscribers, keys, counters, pending records, injected-fault logs.
    The fault spec stays but is reseeded. Files already written stay on disk."""
    async with sim.bcc.lock:  # not in the middle of writing a file
        for entry in sim.keys.entries.values():
            sim.keys.wake(entry)  # in-flight twins re-claim their key after the clear
        sim.keys.clear()
        sim.state.clear()
        sim.bcc.clear()
        sim.faults.reset_counts()
        sim.faults.configure(sim.faults.spec)
        sim.requests = sim.traced_requests = 0
        sim.trace_ids.clear()
    return _ok({"status": "reset"})


async def subscriber(request: web.Request, sim: Sim) -> web.Response:
    view = sim.state.subscriber_view(request.match_info["id"])
    if view is None:
        return error(404, "NOT_FOUND", f"no subscriber {request.match_info['id']!r}")
    return _ok(view)


async def executions(request: web.Request, sim: Sim) -> web.Response:
    key = request.query.get("key")
    if key is None:
        return error(400, "INVALID_REQUEST", "query parameter key is required")
    return _ok({"key": key, "executions": sim.keys.executions_for(key)})


async def traces(request: web.Request, sim: Sim) -> web.Response:
    """The trace ids of the W3C traceparents received (``?trace_id=`` for one), with counts."""
    wanted = request.query.get("trace_id")
    seen = sim.trace_ids if wanted is None else {wanted: sim.trace_ids.get(wanted, 0)}
    return _ok({"traces": seen, "traced_requests": sim.traced_requests})


async def bcc_faults(request: web.Request, sim: Sim) -> web.Response:
    return _ok({"faults": sim.bcc.injected_faults()})


def add_control_routes(app: web.Application, sim: Sim) -> None:
    r = app.router
    r.add_get("/_sim/health", endpoint(sim, health, public=True))
    r.add_get("/_sim/stats", endpoint(sim, stats))
    r.add_get("/_sim/faults", endpoint(sim, get_faults))
    r.add_post("/_sim/faults", endpoint(sim, set_faults))
    r.add_post("/_sim/flush", endpoint(sim, flush))
    r.add_post("/_sim/reset", endpoint(sim, reset))
    r.add_get("/_sim/subscribers/{id}", endpoint(sim, subscriber))
    r.add_get("/_sim/executions", endpoint(sim, executions))
    r.add_get("/_sim/bcc_faults", endpoint(sim, bcc_faults))
    r.add_get("/_sim/traces", endpoint(sim, traces))
