"""Operator actions on network requests (resubmit, close) and the views the CLI and probes read.

Store-side, like :mod:`engine.transmission.queue` (which re-exports these). Both actions are
one transaction and leave a history row naming the operator and the reason (DOMAIN.md §2).

Idempotency keys and resubmits: a request is sent under its id as the Idempotency-Key. When
the network answered it for good (NR, or PE after an HTTP answer such as a 400), that answer is
stored under the key and every resend would replay it; so a resubmit of such a request records
a history note that makes the next claim use ``<id>-r<n>`` as the key. NF (transient faults
only) and PE before sending keep the key: nothing final was stored, and the same key makes a
command that did execute before its answer was lost replay instead of running twice.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from engine.errors import NotFound, UsageError
from engine.transmission.builtins import builtin_effects
from engine.transmission.effects import DONE_COLUMNS, Done, EffectRegistry, effect_key_sql, resubmit_statements
from engine.transmission.effects import statements as effect_statements
from engine.transmission.sql import NEW_KEY_NOTE, run, statements, transaction

RESUBMITTABLE = ("NR", "NF", "PE", "NE")

_COLUMNS = ("request_id", "action_item_number", "subscription_id", "target", "command", "sequence",
            "attributes", "status", "attempts", "not_before", "claimed_by", "lease_until", "file_id",
            "sent_at", "completed_at", "response", "error_code", "error_text", "external_ref",
            "created_at", "updated_at")  # fmt: skip

_DONE_ROW = """
CREATE OR REPLACE TEMP TABLE _tx_done AS
SELECT r.request_id, $actor AS worker, $status AS status, r.sent_at, $now AS completed_at,
       r.response, r.error_code, r.error_text, r.external_ref, r.attempts,
       r.subscription_id, r.target, r.command, r.action_item_number, a.event_id, e.event_type,
       {effect_key} AS effect_key
FROM network_requests r
LEFT JOIN actioned_items a ON a.action_item_number = r.action_item_number
LEFT JOIN workflow_events e ON e.event_id = a.event_id
WHERE r.request_id = $id
"""
_DONE_ROWS = f"SELECT {DONE_COLUMNS} FROM _tx_done"


def _done_row_sql(effects: EffectRegistry) -> str:
    return _DONE_ROW.format(effect_key=effect_key_sql("r", effects))


_NEXT_SEQ = "SELECT coalesce(max(seq), 0) + 1 FROM network_request_history WHERE request_id = $id"


def _row(con: duckdb.DuckDBPyConnection, request_id: int) -> dict[str, Any]:
    rows = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM network_requests WHERE request_id = ?",
                       [request_id]).fetchall()
    row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"network request {request_id} does not exist",
                       hint="list requests with `cmpctl requests list`")
    out = dict(zip(_COLUMNS, row))
    for name in ("attributes", "response"):
        if isinstance(out[name], str):
            out[name] = json.loads(out[name])
    return out


def resubmit(con: duckdb.DuckDBPyConnection, request_id: int, reason: str, actor: str,
             now: datetime, effects: EffectRegistry | None = None) -> dict[str, Any]:
    """Send an unresolved request (NR/NF/PE/NE) again: back to UN with attempts reset; its
    actioned item goes back to SENT_TO_NETWORK, its event to OPEN, its subscription to PENDING
    (and its command's own effects undone: ``effects``, default the built-ins)."""
    effects = builtin_effects() if effects is None else effects
    if not reason or not reason.strip():
        raise UsageError("a resubmit needs a reason (it is kept in the request's history)")
    with transaction(con, f"resubmit request {request_id}"):
        row = _row(con, request_id)
        if row["status"] not in RESUBMITTABLE:
            raise UsageError(
                f"network request {request_id} is {row['status']}: only {'/'.join(RESUBMITTABLE)} "
                "requests can be resubmitted",
                hint="close it instead" if row["status"] in ("UN", "PR", "NS", "NA") else None)
        new_key = row["status"] == "NR" or (row["status"] == "PE" and row["response"] is not None)
        was = " ".join(str(x) for x in (row["status"], row["error_code"]) if x)
        if row["error_text"]:
            was += f": {row['error_text']}"
        note = f"{NEW_KEY_NOTE}: {reason}" if new_key else f"resubmitted: {reason}"
        params = {"id": request_id, "now": now, "actor": actor, "note": f"{note} (was {was})",
                  "status": "UN"}
        run(con, statements((_done_row_sql(effects), f"""
            INSERT INTO network_request_history (request_id, seq, status, changed_at, actor, note)
            VALUES ($id, ({_NEXT_SEQ}), 'UN', $now, $actor, $note);
            UPDATE network_requests SET status = 'UN', attempts = 0, claimed_by = NULL, lease_until = NULL,
                completed_at = NULL, response = NULL, error_code = NULL, error_text = NULL, updated_at = $now
            WHERE request_id = $id
        """), params))  # fmt: skip
        done = [Done(*r) for r in con.execute(_DONE_ROWS).fetchall()]
        run(con, resubmit_statements(con, done, now, effects))
        return _row(con, request_id)


def close(con: duckdb.DuckDBPyConnection, request_id: int, reason: str, actor: str,
          now: datetime, effects: EffectRegistry | None = None) -> dict[str, Any]:
    """Mark an unresolved request done (NC) by hand: it unblocks the next request of its
    subscription and has the effects of an NC (actioned item COMPLETE, …; ``effects``, default
    the built-ins). Not while a worker holds it under a live lease."""
    effects = builtin_effects() if effects is None else effects
    if not reason or not reason.strip():
        raise UsageError("a close needs a reason (it is kept in the request's history)")
    with transaction(con, f"close request {request_id}"):
        row = _row(con, request_id)
        if row["status"] == "NC":
            raise UsageError(f"network request {request_id} is already NC")
        lease = row["lease_until"]
        if row["status"] in ("PR", "NS") and lease is not None and lease >= now:
            raise UsageError(
                f"network request {request_id} is {row['status']}, claimed by {row['claimed_by']} until {lease}",
                hint="stop that adaptor or wait for the request to finish, then close it")
        text = f"closed by operator: {reason}"
        params = {"id": request_id, "now": now, "actor": actor, "note": text, "status": "NC"}
        run(con, statements((_done_row_sql(effects), f"""
            INSERT INTO network_request_history (request_id, seq, status, changed_at, actor, note)
            VALUES ($id, ({_NEXT_SEQ}), 'NC', $now, $actor, $note);
            UPDATE network_requests SET status = 'NC', claimed_by = NULL, lease_until = NULL,
                completed_at = $now, error_text = $note, updated_at = $now
            WHERE request_id = $id
        """), params))  # fmt: skip
        done = [Done(*r) for r in con.execute(_DONE_ROWS).fetchall()]
        # an ERROR event / FAILED subscription is open again, then the effects of an NC
        run(con, resubmit_statements(con, done, now, effects) + effect_statements(con, done, now, effects))
        return _row(con, request_id)


def list_requests(con: duckdb.DuckDBPyConnection, status: str | None = None, target: str | None = None,
                  subscription_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Requests by id, newest first, optionally filtered (for ``cmpctl requests list``)."""
    where, args = [], []
    for column, value in (("status", status), ("target", target), ("subscription_id", subscription_id)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    sql = (f"SELECT request_id, subscription_id, target, command, sequence, status, attempts, not_before, claimed_by, "
           f"sent_at, completed_at, error_code, error_text, external_ref FROM network_requests "
           f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY request_id DESC LIMIT ?")
    cur = con.execute(sql, [*args, int(limit)])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def show_request(con: duckdb.DuckDBPyConnection, request_id: int) -> dict[str, Any]:
    """One request with its whole history, oldest change first."""
    out = _row(con, request_id)
    out["history"] = [
        {"seq": s, "status": st, "changed_at": at, "actor": actor, "note": note}
        for s, st, at, actor, note in con.execute(
            "SELECT seq, status, changed_at, actor, note FROM network_request_history "
            "WHERE request_id = ? ORDER BY seq", [request_id]).fetchall()
    ]
    return out


def queue_depths(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """``{target: {status: count}}`` over the whole log (for probes and ``cmpctl``)."""
    depths: dict[str, dict[str, int]] = {}
    for target, status, n in con.execute(
            "SELECT target, status, count(*) FROM network_requests GROUP BY ALL ORDER BY ALL").fetchall():
        depths.setdefault(target, {})[status] = n
    return depths


__all__ = ["RESUBMITTABLE", "close", "list_requests", "queue_depths", "resubmit", "show_request"]
