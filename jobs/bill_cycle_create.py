"""Creation half of the bill-cycle-change job: events, changes, network requests, the agreement.

From ``_bcc_ok`` (the records to change now, :mod:`jobs.bill_cycle_rules`), in a fixed number of
set-based statements, for every CONNECTED POSTPAID subscription of those agreements (subscription
number k = 0, 1, … in record, then subscription id order):

- one BILL_CYCLE_CHANGE workflow event (OPEN) with its actioned items (SENT_TO_NETWORK): 10 for
  the Openet request, and 20 for the file route when a partner is configured;
- one ``bill_cycle_changes`` row (REQUESTED), keyed by the Openet item's number: the
  ``actionItemNumber`` of the change everywhere (request record, Openet, response file);
- one network request (UN) per route with its first history row: target ``OPENET``, and
  ``FILE:<partner>`` where configured, both with command BILL_CYCLE_CHANGE and the same
  attributes: the FORMATS.md "Bill Cycle Change Request" record, which is exactly the body of
  Openet's ``POST /openet/v1/billCycleChanges`` and the record the Extract daemon writes. Its
  ``sharedGroups`` are the shared groups the subscription owns that the OCS knows (an OCS id);
- its ``sequence`` continues the subscription's own (max so far + 10, + 20), so a second
  change of the same subscription runs after the first, and after its connection requests.

Then the agreements take their new day (see :func:`create` for why now and not at the
effective time). Ids come from contiguous blocks reserved per sequence (as the provisioning job).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from engine.transmission.openet import BILL_CYCLE_CHANGE, OPENET
from jobs.provisioning_create import reserve

TEMP_TABLES = ("_bcc_subs",)

JOB_ACTOR = "bill-cycle-change"

# One row per subscription that changes, with its ordinal k and what its record needs.
_SUBSCRIPTIONS = """
CREATE OR REPLACE TEMP TABLE _bcc_subs AS
SELECT (row_number() OVER (ORDER BY o.line_no, s.subscription_id) - 1)::BIGINT AS k,
       o.line_no, o.agreement_id, s.subscription_id, s.msisdn, o.old_day, o.new_day, o.effective_date,
       coalesce(q.max_seq, 0) AS base_seq, g.groups
FROM _bcc_ok o
JOIN subscriptions s ON s.agreement_id = o.agreement_id AND s.pay_mode = 'POSTPAID' AND s.status = 'CONNECTED'
LEFT JOIN (SELECT r.subscription_id, max(r.sequence) AS max_seq
           FROM network_requests r
           WHERE r.subscription_id IN (SELECT x.subscription_id FROM subscriptions x SEMI JOIN _bcc_ok k
                                       ON k.agreement_id = x.agreement_id)
           GROUP BY r.subscription_id) q ON q.subscription_id = s.subscription_id
LEFT JOIN (SELECT owner_subscription_id,
                  list({'sharedGroupId': shared_group_id, 'ocsSharedGroupId': ocs_shared_group_id}
                       ORDER BY shared_group_id) AS groups
           FROM shared_groups WHERE ocs_shared_group_id IS NOT NULL
           GROUP BY owner_subscription_id) g ON g.owner_subscription_id = s.subscription_id
"""

_ITEM = "$b_item + $m * k"  # the Openet item; the file route's is the next one
_RECORD = f"""json_object(
    'actionItemNumber', {_ITEM}, 'subscriptionId', subscription_id, 'msisdn', msisdn,
    'oldBillCycleDay', old_day, 'newBillCycleDay', new_day,
    'effectiveDateTime', strftime(effective_date, '%Y-%m-%d') || 'T00:00:00Z',
    'sharedGroups', coalesce(to_json(groups), '[]'::JSON))"""
# route r = 0 (Openet) and, when a file partner is configured, 1 (its file)
_ROUTES = "(SELECT unnest(range($m)) AS r)"

_STATEMENTS: tuple[str, ...] = (
    """
    INSERT INTO workflow_events (event_id, event_type, subscription_id, agreement_id, batch_id, execution_id, status)
    SELECT $b_event + k, 'BILL_CYCLE_CHANGE', subscription_id, agreement_id, $batch, $execution, 'OPEN'
    FROM _bcc_subs
    """,
    f"""
    INSERT INTO actioned_items (action_item_number, event_id, sequence, action, status)
    SELECT {_ITEM} + r, $b_event + k, 10 * (r + 1), '{BILL_CYCLE_CHANGE}', 'SENT_TO_NETWORK'
    FROM _bcc_subs, {_ROUTES}
    """,
    f"""
    INSERT INTO bill_cycle_changes (action_item_number, agreement_id, subscription_id, old_bill_cycle_day,
                                    new_bill_cycle_day, effective_at, execution_id, status, created_at)
    SELECT {_ITEM}, agreement_id, subscription_id, old_day, new_day, timezone('UTC', effective_date::TIMESTAMP),
           $execution, 'REQUESTED', $now
    FROM _bcc_subs
    """,
    f"""
    INSERT INTO network_requests (request_id, action_item_number, subscription_id, target, command, sequence,
                                  attributes, status, traceparent)
    SELECT $b_request + $m * k + r, {_ITEM} + r, subscription_id,
           CASE WHEN r = 0 THEN '{OPENET}' ELSE 'FILE:' || $partner END, '{BILL_CYCLE_CHANGE}',
           base_seq + 10 * (r + 1), {_RECORD}, 'UN', $traceparent::VARCHAR
    FROM _bcc_subs, {_ROUTES}
    """,
    f"""
    INSERT INTO network_request_history (request_id, seq, status, actor, note)
    SELECT $b_request + $m * k + r, 1, 'UN', '{JOB_ACTOR}', 'created by execution ' || $execution
    FROM _bcc_subs, {_ROUTES}
    """,
    # The agreement takes its new day now, not at the effective time: the day is the agreement's
    # billing instruction and the change is decided now; the OCS (netsim) puts the subscriber on
    # the new day as soon as it accepts the change; a second change builds on the first (its
    # oldBillCycleDay must be the OCS's current day, else it is refused BILL_CYCLE_MISMATCH); and
    # nothing has to run at the effective time for the platform to be right. Until then the
    # open change (old day, effective_at) is in bill_cycle_changes.
    """
    UPDATE agreements a SET bill_cycle_day = o.new_day, updated_at = $now
    FROM _bcc_ok o WHERE a.agreement_id = o.agreement_id
    """,
)


@dataclass(frozen=True)
class Made:
    agreements: int = 0
    subscriptions: int = 0
    requests: int = 0
    prepaid_left_out: int = 0


def create(con: duckdb.DuckDBPyConnection, *, batch_id: int, execution_id: int, now, partner: str,
           traceparent: str | None) -> Made:
    """Create everything for the records in ``_bcc_ok``; ``partner`` non-empty adds the file route."""
    con.execute(_SUBSCRIPTIONS)
    agreements, subs = con.execute("SELECT (SELECT count(*) FROM _bcc_ok), count(*) FROM _bcc_subs").fetchall()[0]
    prepaid = con.execute("""
        SELECT count(*) FROM subscriptions s SEMI JOIN _bcc_ok o ON o.agreement_id = s.agreement_id
        WHERE s.pay_mode = 'PREPAID' AND s.status IN ('PENDING', 'CONNECTED')
    """).fetchall()[0][0]
    if agreements == 0:
        return Made()
    routes = 2 if partner else 1
    params: dict[str, object] = {
        "batch": batch_id, "execution": execution_id, "now": now, "m": routes, "partner": partner,
        "traceparent": traceparent,
        "b_event": reserve(con, "seq_event", subs),
        "b_item": reserve(con, "seq_action_item", routes * subs),
        "b_request": reserve(con, "seq_request", routes * subs),
    }  # fmt: skip
    for sql in _STATEMENTS:
        names = set(re.findall(r"\$(\w+)", sql))
        con.execute(sql, {k: v for k, v in params.items() if k in names})
    return Made(agreements, subs, routes * subs, prepaid)


__all__ = ["JOB_ACTOR", "Made", "TEMP_TABLES", "create"]
