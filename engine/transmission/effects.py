"""What a finished network request changes in the rest of the domain, as set-based statements.

The statements run inside the queue's transactions, after the requests' own rows were updated,
on the temp table ``_tx_done`` (one row per request that just reached a status: request_id,
status, subscription_id, target, command, action_item_number, external_ref, error_code,
error_text, completed_at, event_id, event_type, and ``effect_key``: the attribute naming the
row its command changes, from :func:`effect_key_sql`):

- its actioned item → COMPLETE (NC) or ERROR with the reason (NR/NF/PE);
- per command, its :class:`CommandEffect` from the :class:`EffectRegistry` the caller passes
  (the built-ins: :func:`engine.transmission.builtins.builtin_effects`): e.g. the OCS instance
  ids of allowances and spend caps, a capability or insurance service ACTIVE with its reference
  (FAILED on a terminal failure, PENDING again on a resubmit);
- its workflow event → COMPLETE when all its actioned items are, ERROR with the reason on a
  terminal failure; for a NEW_CONNECTION the subscription FAILED on a terminal failure, and
  CONNECTED (connection date = the completion time) once its last request to a connection
  target (the OCS) is NC.

NA (accepted, asynchronous) and UN (released) change nothing outside the request.

Rows of other tables are found by joins: on BIGINT ids (events, actioned items) DuckDB's join
filter skips most row groups; VARCHAR keys (subscriptions, allowances, …) also get a literal
``IN (…)`` list when the table is large enough for its primary-key index to pay
(:func:`engine.transmission.sql.key_predicate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, NamedTuple

import duckdb

from engine.registry import Registry
from engine.transmission.sql import key_predicate, literal, render, table_rows

#: targets whose requests connect a subscription (CONNECTED once all of them are NC)
CONNECTION_TARGETS: tuple[str, ...] = ("OCS",)
_CONN = ", ".join(f"'{t}'" for t in CONNECTION_TARGETS)
_NOT_NC = "'UN', 'PR', 'NS', 'NA', 'NE', 'NR', 'NF', 'PE'"
FAILED = ("NR", "NF", "PE")


class Done(NamedTuple):
    """A row of ``_tx_done`` as far as choosing the statements needs it."""

    request_id: int
    status: str
    command: str
    subscription_id: str | None
    target: str
    event_id: int | None
    event_type: str | None
    external_ref: str | None
    effect_key: str | None


#: the columns of ``_tx_done`` that make a :class:`Done`, in order
DONE_COLUMNS = "request_id, status, command, subscription_id, target, event_id, event_type, external_ref, effect_key"


@dataclass(frozen=True)
class CommandEffect:
    """What ``command`` changes when it finishes: SQL over ``_tx_done d`` (``d.effect_key`` = the
    value of ``key_attribute`` in the request's attributes) and ``{keyed}``: a predicate on the
    target table's key column (a literal IN list when the table is large enough for its
    primary-key index to pay, else ``true``)."""

    command: str
    table: str
    key_column: str
    key_attribute: str
    on_complete: str = ""
    on_failure: str = ""
    on_resubmit: str = ""


class EffectRegistry(Registry[str, CommandEffect]):
    """The effects of each command, by command name (a command has one entry at most)."""

    def __init__(self, effects: Iterable[CommandEffect] = ()) -> None:
        super().__init__("command effect", lambda effect: effect.command, effects)


def service_effect(command: str) -> CommandEffect:
    """The effect of a command that adds a service (a capability on the OCS, an insurance by
    file): the ``services`` row ACTIVE with the network's reference on NC, FAILED on NR/NF/PE,
    PENDING again on a resubmit."""

    def update(status: str, when: str) -> str:
        ref = ", external_ref = coalesce(d.external_ref, t.external_ref)" if status == "ACTIVE" else ""
        return f"""
        UPDATE services t SET status = '{status}', updated_at = $now{ref} FROM _tx_done d
        WHERE {{keyed}} AND d.command = {literal(command)} AND {when} AND t.service_id = d.effect_key
        """

    return CommandEffect(command, "services", "service_id", "serviceId",
                         on_complete=update("ACTIVE", "d.status = 'NC'"),
                         on_failure=update("FAILED", "d.status IN ('NR', 'NF', 'PE')"),
                         on_resubmit=update("PENDING", "true"))


def effect_key_sql(alias: str, effects: EffectRegistry) -> str:
    """SQL for the ``effect_key`` column of ``_tx_done``, from ``{alias}.command/attributes``."""
    if not len(effects):
        return "NULL::VARCHAR"
    cases = " ".join(f"WHEN {literal(e.command)} THEN json_extract_string({alias}.attributes, "
                     f"{literal('$.' + e.key_attribute)})" for e in effects)
    return f"CASE {alias}.command {cases} END"


REASON_SQL = ("'request ' || d.request_id || ' ' || d.command || ' ' || d.status"
              " || coalesce(' ' || d.error_code, '') || coalesce(': ' || d.error_text, '')")

_ITEMS = f"""
UPDATE actioned_items a SET
    status = CASE WHEN d.status = 'NC' THEN 'COMPLETE' ELSE 'ERROR' END,
    error = CASE WHEN d.status = 'NC' THEN NULL ELSE {REASON_SQL} END,
    updated_at = $now
FROM _tx_done d WHERE a.action_item_number = d.action_item_number AND d.status IN ('NC', 'NR', 'NF', 'PE')
"""
# Events are addressed by joins on their BIGINT id: ids of one batch are close together, so the
# join's min/max filter skips most row groups (an IN list would probe the index key by key).
_EVENTS_FAILED = f"""
UPDATE workflow_events e SET status = 'ERROR', error = f.reason, completed_at = NULL
FROM (SELECT d.event_id, arg_min({REASON_SQL}, d.request_id) AS reason FROM _tx_done d
      WHERE d.status IN ('NR', 'NF', 'PE') GROUP BY d.event_id) f
WHERE e.event_id = f.event_id
"""
_EVENTS_COMPLETE = """
UPDATE workflow_events e SET status = 'COMPLETE', error = NULL, completed_at = $now
FROM (SELECT DISTINCT event_id FROM _tx_done WHERE status = 'NC') c
WHERE e.event_id = c.event_id AND e.status <> 'COMPLETE'
  AND e.event_id NOT IN (SELECT a.event_id FROM actioned_items a
                         JOIN (SELECT DISTINCT event_id FROM _tx_done WHERE status = 'NC') c2 USING (event_id)
                         WHERE a.status <> 'COMPLETE')
"""
_SUBS_FAILED = """
UPDATE subscriptions s SET status = 'FAILED', updated_at = $now
FROM (SELECT DISTINCT subscription_id FROM _tx_done
      WHERE status IN ('NR', 'NF', 'PE') AND event_type = 'NEW_CONNECTION') f
WHERE {keyed} AND s.subscription_id = f.subscription_id AND s.status = 'PENDING'
"""
_SUBS_CONNECTED = f"""
UPDATE subscriptions s SET status = 'CONNECTED', connection_date = c.connected_at, updated_at = $now
FROM (SELECT subscription_id, max(completed_at) AS connected_at FROM _tx_done
      WHERE status = 'NC' AND event_type = 'NEW_CONNECTION' AND target IN ({_CONN}) GROUP BY subscription_id) c
WHERE {{keyed}} AND s.subscription_id = c.subscription_id AND s.status IN ('PENDING', 'FAILED')
  AND s.subscription_id NOT IN (
      SELECT r.subscription_id FROM network_requests r
      WHERE r.status IN ({_NOT_NC}) AND r.target IN ({_CONN})
        AND r.subscription_id IN (SELECT subscription_id FROM _tx_done WHERE status = 'NC'))
"""
_RESUBMIT_ITEMS = """
UPDATE actioned_items a SET status = 'SENT_TO_NETWORK', error = NULL, updated_at = $now
FROM _tx_done d WHERE a.action_item_number = d.action_item_number
"""
_RESUBMIT_EVENTS = """
UPDATE workflow_events e SET status = 'OPEN', error = NULL, completed_at = NULL
FROM (SELECT DISTINCT event_id FROM _tx_done) d WHERE e.event_id = d.event_id AND e.status = 'ERROR'
"""
_RESUBMIT_SUBS = """
UPDATE subscriptions s SET status = 'PENDING', updated_at = $now
FROM (SELECT DISTINCT subscription_id FROM _tx_done WHERE event_type = 'NEW_CONNECTION') d
WHERE {keyed} AND s.subscription_id = d.subscription_id AND s.status = 'FAILED'
"""

def _sql(template: str, now: datetime, **parts: str) -> str:
    # $now first, then the key predicates: a key's literal text is never read as a placeholder
    return render(template, {"now": now}).format(**parts)


def _plan(con: duckdb.DuckDBPyConnection, done: list[Done], now: datetime, effects: EffectRegistry, *,
          resubmit: bool) -> list[str]:
    rows = table_rows(con)
    present = {(r.command, r.status) for r in done}
    statuses = {r.status for r in done}
    out: list[str] = []
    for effect in effects:
        command = effect.command
        keys = [r.effect_key for r in done if r.command == command]
        if not keys:
            continue
        keyed = key_predicate(f"t.{effect.key_column}", keys, rows.get(effect.table, 0))
        if resubmit:
            templates = [effect.on_resubmit]
        else:
            templates = [effect.on_complete if (command, "NC") in present else "",
                         effect.on_failure if any((command, s) in present for s in FAILED) else ""]
        out += [_sql(t, now, keyed=keyed) for t in templates if t]
    subs = {r.subscription_id for r in done if r.subscription_id is not None}
    keyed = key_predicate("s.subscription_id", subs, rows.get("subscriptions", 0))
    if resubmit:
        return [_sql(_RESUBMIT_ITEMS, now), _sql(_RESUBMIT_EVENTS, now), _sql(_RESUBMIT_SUBS, now, keyed=keyed), *out]
    if not statuses & {"NC", *FAILED}:
        return []
    out.insert(0, _sql(_ITEMS, now))
    if statuses & set(FAILED):
        out += [_sql(_EVENTS_FAILED, now), _sql(_SUBS_FAILED, now, keyed=keyed)]
    if "NC" in statuses:
        out += [_sql(_EVENTS_COMPLETE, now), _sql(_SUBS_CONNECTED, now, keyed=keyed)]
    return out


def statements(con: duckdb.DuckDBPyConnection, done: list[Done], now: datetime,
               effects: EffectRegistry) -> list[str]:
    """The statements applying the effects of the rows of ``_tx_done`` (in the caller's open
    transaction, after the requests' own rows were updated)."""
    return _plan(con, done, now, effects, resubmit=False)


def resubmit_statements(con: duckdb.DuckDBPyConnection, done: list[Done], now: datetime,
                        effects: EffectRegistry) -> list[str]:
    """Undo the failure effects for the requests in ``_tx_done``, which go to work again."""
    return _plan(con, done, now, effects, resubmit=True)


__all__ = ["CONNECTION_TARGETS", "DONE_COLUMNS", "CommandEffect", "Done", "EffectRegistry", "effect_key_sql",
           "resubmit_statements", "service_effect", "statements"]
