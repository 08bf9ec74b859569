"""The network request queue: claim, record, renew, release (Store-side, one transaction each).

These functions run inside the Store process, the one owner of the database (ARCHITECTURE.md
rule 2), on the connection or cursor they are given. Writes are set-based: a batch arrives as
an Arrow table and is applied with a fixed handful of statements, sent as one script
(:func:`engine.transmission.sql.script`), whatever the batch size.

Ordering (DOMAIN.md §2): the requests of one subscription and target run in sequence order.
The *head* of a subscription is its lowest-sequence request that is not NC. Only a subscription
whose head is UN and due (``not_before`` null or past) is claimed, and with it the run of
consecutive UN, due requests from the head: a *chain*, which one worker executes in order. A
head in NR/NF/PE blocks the subscription until an operator resubmits or closes it
(:mod:`engine.transmission.operator`).

Leases: a claim marks its requests PR with ``claimed_by`` and ``lease_until``. A worker renews
the leases of what it holds; a claim first returns expired leases to UN, so the work of a dead
worker is picked up again, and the re-sent commands carry the same Idempotency-Key (the network
executes nothing twice). :func:`record` only touches rows still claimed by the worker that
reports, so a worker that lost its lease cannot overwrite its successor's work.

Cost at 10M requests / 40M history rows (120k open; measured on the 2-core build machine):
a claim of 256 chains (1,536 requests) 0.11-0.15 s, recording their outcomes 0.08-0.10 s. The
status index does not help these reads (the status column compresses so well that scanning it
takes ~3 ms) but every status change pays for it: DuckDB runs an UPDATE of an indexed column
as delete + insert of the whole row (the claim takes 0.07-0.09 s without it).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from engine.transmission.builtins import builtin_effects
from engine.transmission.effects import DONE_COLUMNS, Done, EffectRegistry, effect_key_sql
from engine.transmission.effects import statements as effect_statements
from engine.transmission.model import (
    CLAIMED_STATUSES, OPEN_STATUSES, OUTCOME_STATUSES, Chain, Outcome, RequestRow,
)  # fmt: skip
from engine.transmission.operator import (  # noqa: F401  (re-exported: the queue's operator API)
    close, list_requests, queue_depths, resubmit, show_request,
)  # fmt: skip
from engine.transmission.sql import history_base_sql, id_table, lookup, registered, rollback, script, statements

_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
_CLAIMED = ", ".join(f"'{s}'" for s in CLAIMED_STATUSES)

# -- claim ----------------------------------------------------------------------------------------

_CLAIM = (
    # 1. expired leases back to work, with a history row naming the worker that lost them
    f"""
    CREATE OR REPLACE TEMP TABLE _tx_expired AS
    SELECT request_id, claimed_by FROM network_requests
    WHERE status IN ({_CLAIMED}) AND target = $target AND lease_until < $now;
    INSERT INTO network_request_history (request_id, seq, status, changed_at, actor, note)
    SELECT e.request_id, b.base + 1, 'UN', $now, $worker, 'lease expired (worker ' || coalesce(e.claimed_by, '?') || ')'
    FROM _tx_expired e JOIN ({history_base_sql('_tx_expired')}) b USING (request_id);
    UPDATE network_requests r SET status = 'UN', claimed_by = NULL, lease_until = NULL, updated_at = $now
    FROM _tx_expired e WHERE r.request_id = e.request_id
    """,
    # 2. the chains: every open (not NC) request of the target, grouped by subscription (a
    #    request without one is a chain of its own); a subscription whose head is UN and due
    #    gives the run of UN, due requests from its head up to the first that may not go now
    f"""
    CREATE OR REPLACE TEMP TABLE _tx_claim AS
    WITH open AS (
        SELECT request_id, coalesce(subscription_id, '#' || request_id::VARCHAR) AS chain_key,
               sequence, status, not_before
        FROM network_requests
        WHERE status IN ({_OPEN}) AND target = $target
    ), heads AS (
        SELECT chain_key, arg_min(request_id, sequence) AS head_id, min(sequence) AS head_seq,
               min(sequence) FILTER (WHERE status <> 'UN' OR not_before > $now) AS stop_seq
        FROM open GROUP BY chain_key
    ), picked AS (
        SELECT chain_key, head_id, stop_seq FROM heads
        WHERE stop_seq IS NULL OR stop_seq > head_seq
        ORDER BY head_id LIMIT $max_chains
    )
    SELECT o.request_id, p.head_id
    FROM open o JOIN picked p USING (chain_key)
    WHERE o.status = 'UN' AND (p.stop_seq IS NULL OR o.sequence < p.stop_seq)
    """,
    # 3. mark them PR under this worker's lease
    f"""
    CREATE OR REPLACE TEMP TABLE _tx_hist AS {history_base_sql('_tx_claim')};
    INSERT INTO network_request_history (request_id, seq, status, changed_at, actor, note)
    SELECT request_id, base + 1, 'PR', $now, $worker, 'claimed' FROM _tx_hist;
    UPDATE network_requests r SET status = 'PR', claimed_by = $worker, lease_until = $lease_until, updated_at = $now
    FROM _tx_claim c WHERE r.request_id = c.request_id
    """,
)

_CLAIMED_ROWS = """
SELECT r.subscription_id, r.request_id, r.command, r.sequence, r.attributes, r.attempts,
       r.action_item_number, h.key_generation, h.base + 1 AS history_seq, r.traceparent
FROM _tx_claim c
JOIN network_requests r ON r.request_id = c.request_id
JOIN _tx_hist h ON h.request_id = c.request_id
ORDER BY c.head_id, r.sequence
"""


def claim(con: duckdb.DuckDBPyConnection, *, target: str, worker: str, max_chains: int,
          lease_seconds: float, now: datetime) -> list[Chain]:
    """Return expired leases of ``target`` to work, then claim up to ``max_chains`` chains.

    Runs in the Store process. The chains come oldest head first, each in sequence order.
    """
    if max_chains <= 0:
        return []
    params = {"target": target, "now": now, "worker": worker, "max_chains": int(max_chains),
              "lease_until": now + timedelta(seconds=lease_seconds)}
    rows = script(con, statements(_CLAIM, params), what="claim network requests", tail=_CLAIMED_ROWS).fetchall()
    return _chains(con, rows) if rows else []


def _chains(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> list[Chain]:
    """Group the claimed rows into chains and give every row its subscription's account id.

    The account id (the spend-cap path) is the one the subscriber is created with: a chain that
    starts with CREATE_SUBSCRIBER carries it in its attributes; for the others (a delayed
    ACTIVATE, a resubmitted request) it is read from ``subscriptions`` (by primary key when the
    table is large: joining it for every claim would scan it whole, 180 ms of CPU at 1.7M rows).
    """
    groups: list[tuple[str | None, list[tuple]]] = []
    for row in rows:
        if not groups or row[0] is None or row[0] != groups[-1][0]:
            groups.append((row[0], []))
        groups[-1][1].append(row)
    accounts: dict[str | None, str | None] = {}
    parsed: list[list[dict]] = []
    for sub, group in groups:
        attrs = [json.loads(r[4]) if r[4] else {} for r in group]
        parsed.append(attrs)
        if group[0][2] == "CREATE_SUBSCRIBER" and isinstance(attrs[0].get("accountId"), str):
            accounts[sub] = attrs[0]["accountId"]
    missing = [sub for sub, _ in groups if sub is not None and sub not in accounts]
    accounts.update(lookup(con, "subscriptions", "subscription_id", "account_id", missing))
    chains = []
    for (sub, group), attrs in zip(groups, parsed):
        account = accounts.get(sub)
        chains.append(Chain(sub, tuple(  # type: ignore[arg-type]
            RequestRow(rid, command, seq, attr, attempts, account, ain,
                       str(rid) if not generation else f"{rid}-r{generation}", history_seq, traceparent)
            for (_, rid, command, seq, _, attempts, ain, generation, history_seq, traceparent), attr
            in zip(group, attrs))))
    return chains


# -- record ---------------------------------------------------------------------------------------

_TS = pa.timestamp("us", tz="UTC")
_OUTCOME_SCHEMA = pa.schema([
    ("request_id", pa.int64()), ("worker", pa.string()), ("status", pa.string()), ("sent_at", _TS),
    ("completed_at", _TS), ("response", pa.string()), ("error_code", pa.string()), ("error_text", pa.string()),
    ("external_ref", pa.string()), ("attempts", pa.int32()), ("history_seq", pa.int32()),
])  # fmt: skip
_STEP_SCHEMA = pa.schema([
    ("request_id", pa.int64()), ("idx", pa.int32()), ("status", pa.string()), ("at", _TS), ("note", pa.string()),
])  # fmt: skip

# The outcomes that still own their row (claimed by the worker that reports, not yet recorded),
# with what their effects need: the request's subscription, command, attributes, event.
_ACCEPT = f"""
CREATE OR REPLACE TEMP TABLE _tx_done AS
SELECT o.request_id, o.worker, o.status, o.sent_at, o.completed_at, TRY_CAST(o.response AS JSON) AS response,
       o.error_code, o.error_text, o.external_ref, o.attempts, o.history_seq,
       r.subscription_id, r.target, r.command, r.action_item_number, a.event_id, e.event_type,
       {{effect_key}} AS effect_key
FROM _tx_outcomes o
JOIN network_requests r ON r.request_id = o.request_id
LEFT JOIN actioned_items a ON a.action_item_number = r.action_item_number
LEFT JOIN workflow_events e ON e.event_id = a.event_id
WHERE r.claimed_by = o.worker AND r.status IN ({_CLAIMED})
"""
_DONE_ROWS = f"SELECT {DONE_COLUMNS} FROM _tx_done"

_HISTORY_KNOWN = """
INSERT INTO network_request_history (request_id, seq, status, changed_at, actor, note)
SELECT s.request_id, d.history_seq + s.idx, s.status, s.at, d.worker, s.note
FROM _tx_steps s JOIN _tx_done d USING (request_id)
"""
_HISTORY_LOOKUP = f"""
INSERT INTO network_request_history (request_id, seq, status, changed_at, actor, note)
SELECT s.request_id, h.base + s.idx, s.status, s.at, d.worker, s.note
FROM _tx_steps s JOIN _tx_done d USING (request_id) JOIN ({history_base_sql('_tx_done')}) h USING (request_id)
"""
_UPDATE = """
UPDATE network_requests r SET
    status = d.status, claimed_by = NULL, lease_until = NULL,
    sent_at = coalesce(d.sent_at, r.sent_at),
    completed_at = CASE WHEN d.status = 'UN' THEN r.completed_at ELSE d.completed_at END,
    response = CASE WHEN d.status = 'UN' THEN r.response ELSE d.response END,
    error_code = CASE WHEN d.status = 'UN' THEN r.error_code ELSE d.error_code END,
    error_text = CASE WHEN d.status = 'UN' THEN r.error_text ELSE d.error_text END,
    external_ref = coalesce(d.external_ref, r.external_ref),
    attempts = d.attempts, updated_at = $now
FROM _tx_done d WHERE r.request_id = d.request_id
"""


def _outcome_tables(outcomes: list[Outcome]) -> tuple[pa.Table, pa.Table]:
    columns: dict[str, list] = {name: [] for name in _OUTCOME_SCHEMA.names}
    steps: dict[str, list] = {name: [] for name in _STEP_SCHEMA.names}
    for o in outcomes:
        for name, value in (("request_id", o.request_id), ("worker", o.worker), ("status", o.status),
                            ("sent_at", o.sent_at), ("completed_at", o.completed_at), ("response", o.response),
                            ("error_code", o.error_code), ("error_text", o.error_text),
                            ("external_ref", o.external_ref), ("attempts", o.attempts),
                            ("history_seq", o.history_seq)):
            columns[name].append(value)
        for i, (status, at, note) in enumerate(o.steps, 1):
            steps["request_id"].append(o.request_id)
            steps["idx"].append(i)
            steps["status"].append(status)
            steps["at"].append(at)
            steps["note"].append(note)
    return pa.table(columns, schema=_OUTCOME_SCHEMA), pa.table(steps, schema=_STEP_SCHEMA)


def record(con: duckdb.DuckDBPyConnection, outcomes: list[Outcome], *, now: datetime,
           effects: EffectRegistry | None = None) -> int:
    """Apply a batch of outcomes and their effects (``effects``, default the built-ins) in one
    transaction; returns how many applied.

    Runs in the Store process. An outcome whose request is no longer claimed by its worker
    (the lease expired and another worker took it, or it was recorded already) is ignored.
    """
    effects = builtin_effects() if effects is None else effects
    if not outcomes:
        return 0
    if len({o.request_id for o in outcomes}) < len(outcomes):  # one outcome a request: the last
        outcomes = list({o.request_id: o for o in outcomes}.values())
    bad = next((o for o in outcomes if o.status not in OUTCOME_STATUSES), None)
    if bad is not None:
        raise ValueError(f"outcome status must be one of {OUTCOME_STATUSES}: request {bad.request_id} "
                         f"has {bad.status!r}")
    table, steps = _outcome_tables(outcomes)
    what = "record network outcomes"
    with registered(con, "_tx_outcomes", table), registered(con, "_tx_steps", steps):
        accept = _ACCEPT.format(effect_key=effect_key_sql("r", effects))
        done = script(con, [accept], what=what, commit=False, tail=_DONE_ROWS).fetchall()
        if not done:
            rollback(con)
            return 0
        history = _HISTORY_KNOWN if all(o.history_seq is not None for o in outcomes) else _HISTORY_LOOKUP
        sql = statements([history, _UPDATE], {"now": now})
        sql += effect_statements(con, [Done(*row) for row in done], now, effects)
        script(con, sql, what=what, begin=False)
    return len(done)


# -- leases ---------------------------------------------------------------------------------------


def renew(con: duckdb.DuckDBPyConnection, worker: str, request_ids: list[int], lease_seconds: float,
          now: datetime) -> int:
    """Extend the leases the worker still holds; returns how many it still holds."""
    if not request_ids:
        return 0
    params = {"worker": worker, "lease_until": now + timedelta(seconds=lease_seconds)}
    with registered(con, "_tx_ids", id_table(request_ids)):
        kept = script(con, statements(f"""
            UPDATE network_requests r SET lease_until = $lease_until FROM _tx_ids i
            WHERE r.request_id = i.request_id AND r.claimed_by = $worker AND r.status IN ({_CLAIMED})
        """, params), what="renew leases", commit=False).fetchall()[0][0]
        script(con, [], what="renew leases", begin=False)
    return kept


_RELEASE = f"""
CREATE OR REPLACE TEMP TABLE _tx_rel AS
SELECT r.request_id FROM network_requests r JOIN _tx_ids i ON i.request_id = r.request_id
WHERE r.claimed_by = $worker AND r.status IN ({_CLAIMED});
INSERT INTO network_request_history (request_id, seq, status, changed_at, actor, note)
SELECT request_id, base + 1, 'UN', $now, $worker, 'released on stop' FROM ({history_base_sql('_tx_rel')});
UPDATE network_requests r SET status = 'UN', claimed_by = NULL, lease_until = NULL, updated_at = $now
FROM _tx_rel x WHERE r.request_id = x.request_id
"""


def release(con: duckdb.DuckDBPyConnection, worker: str, request_ids: list[int], now: datetime) -> int:
    """Give unsent claimed requests back to work (UN) with a history row; returns how many."""
    if not request_ids:
        return 0
    with registered(con, "_tx_ids", id_table(request_ids)):
        return script(con, statements(_RELEASE, {"worker": worker, "now": now}), what="release requests",
                      tail="SELECT count(*) FROM _tx_rel").fetchall()[0][0]


__all__ = ["claim", "close", "list_requests", "queue_depths", "record", "release", "renew", "resubmit",
           "show_request"]
