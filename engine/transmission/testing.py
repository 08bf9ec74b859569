"""Seeding connection work straight into the store with SQL, for tests and the benchmark.

:func:`seed_connections` writes what the provisioning job writes for a NEW_CONNECTION — the
subscription (PENDING), two allowances, a spend cap, a capability service, the workflow event,
one actioned item and one UN network request (+ its first history row) per command — without
depending on the job: CREATE_SUBSCRIBER (10), ADD_ALLOWANCE ×2 (20, 30), SET_SPEND_CAP (40),
ADD_CAPABILITY (50), ACTIVATE (60), with the attribute keys of the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

COMMANDS_PER_CONNECTION = 6


@dataclass(frozen=True)
class Seeded:
    subscription_ids: list[str]
    requests: int


_SQL = """
CREATE OR REPLACE TEMP TABLE _seed_subs AS
SELECT n, 'SUB-' || $tag || lpad(n::VARCHAR, 7, '0') AS subscription_id,
       'ACC-' || $tag || n AS account_id, 'AGR-' || $tag || n AS agreement_id,
       ($msisdn_base + n)::VARCHAR AS msisdn, nextval('seq_event') AS event_id,
       CASE WHEN n % 2 = 0 THEN 'POSTPAID' ELSE 'PREPAID' END AS pay_mode,
       CASE WHEN n % 2 = 0 THEN 1 + n % 28 END AS bill_cycle_day
FROM range($first, $first + $count) t(n);
INSERT INTO subscriptions (subscription_id, customer_id, account_id, agreement_id, subscription_ref, order_ref,
                           pay_mode, msisdn, tariff_code, activation, activation_date, status)
SELECT subscription_id, 'CUS-' || $tag || n, account_id, agreement_id, 'REF-' || n, 'ORD-' || $tag || n, pay_mode,
       msisdn, 'PAYM24-100GB', CASE WHEN $activation_date::DATE IS NULL THEN 'IMMEDIATE' ELSE 'DELAYED' END,
       $activation_date::DATE, 'PENDING'
FROM _seed_subs;
INSERT INTO allowances (allowance_id, subscription_id, allowance_type, amount, unlimited, unit, recurring, ocs_id)
SELECT 'ALW-' || $tag || n || '-1', subscription_id, 'DATA', 100, false, 'GB', true, 'DATA-100GB' FROM _seed_subs
UNION ALL
SELECT 'ALW-' || $tag || n || '-2', subscription_id, 'VOICE', NULL, true, 'MIN', false, 'VOICE-UNLIMITED' FROM _seed_subs;
INSERT INTO spend_caps (spend_cap_id, subscription_id, kind, scope, amount, unit, enabled, ocs_id)
SELECT 'CAP-' || $tag || n, subscription_id, 'VALUE', 'FULL', 25.00, 'GBP', true, 'CAP-VALUE-FULL' FROM _seed_subs;
INSERT INTO services (service_id, subscription_id, service_type, code, status)
SELECT 'SVC-' || $tag || n, subscription_id, 'SOFTWARE_CAPABILITY', 'VOLTE', 'PENDING' FROM _seed_subs;
INSERT INTO workflow_events (event_id, event_type, subscription_id, agreement_id, status)
SELECT event_id, 'NEW_CONNECTION', subscription_id, agreement_id, 'OPEN' FROM _seed_subs;
CREATE OR REPLACE TEMP TABLE _seed_reqs AS
SELECT nextval('seq_request') AS request_id, nextval('seq_action_item') AS action_item_number, *
FROM (
    SELECT s.event_id, s.subscription_id, 10 AS sequence, 'CREATE_SUBSCRIBER' AS command,
           json_object('subscriptionId', s.subscription_id, 'msisdn', s.msisdn, 'tariffCode', 'PAYM24-100GB',
                       'payMode', s.pay_mode, 'billCycleDay', s.bill_cycle_day, 'accountId', s.account_id,
                       'agreementId', s.agreement_id) AS attributes, NULL::TIMESTAMPTZ AS not_before
    FROM _seed_subs s
    UNION ALL
    SELECT s.event_id, s.subscription_id, 20, 'ADD_ALLOWANCE',
           json_object('subscriptionId', s.subscription_id, 'allowanceId', 'ALW-' || $tag || s.n || '-1',
                       'ocsId', 'DATA-100GB', 'type', 'DATA', 'amount', 100, 'unit', 'GB', 'recurring', true), NULL
    FROM _seed_subs s
    UNION ALL
    SELECT s.event_id, s.subscription_id, 30, 'ADD_ALLOWANCE',
           json_object('subscriptionId', s.subscription_id, 'allowanceId', 'ALW-' || $tag || s.n || '-2',
                       'ocsId', 'VOICE-UNLIMITED', 'type', 'VOICE', 'amount', '"UNLIMITED"'::JSON, 'unit', 'MIN',
                       'recurring', false), NULL
    FROM _seed_subs s
    UNION ALL
    SELECT s.event_id, s.subscription_id, 40, 'SET_SPEND_CAP',
           json_object('subscriptionId', s.subscription_id, 'spendCapId', 'CAP-' || $tag || s.n,
                       'ocsId', 'CAP-VALUE-FULL', 'kind', 'VALUE', 'scope', 'FULL', 'amount', 25.00::DECIMAL(18, 2),
                       'unit', 'GBP'), NULL
    FROM _seed_subs s
    UNION ALL
    SELECT s.event_id, s.subscription_id, 50, 'ADD_CAPABILITY',
           json_object('subscriptionId', s.subscription_id, 'serviceId', 'SVC-' || $tag || s.n, 'code', 'VOLTE'), NULL
    FROM _seed_subs s
    UNION ALL
    SELECT s.event_id, s.subscription_id, 60, 'ACTIVATE',
           json_object('subscriptionId', s.subscription_id, 'activationDate', strftime($activation_date::DATE, '%Y-%m-%d')),
           timezone('UTC', $activation_date::DATE::TIMESTAMP)
    FROM _seed_subs s
);
INSERT INTO network_requests (request_id, action_item_number, subscription_id, target, command, sequence,
                              attributes, status, not_before)
SELECT request_id, action_item_number, subscription_id, 'OCS', command, sequence, attributes, 'UN', not_before
FROM _seed_reqs;
INSERT INTO actioned_items (action_item_number, event_id, sequence, action, status)
SELECT action_item_number, event_id, sequence, command, 'SENT_TO_NETWORK' FROM _seed_reqs;
INSERT INTO network_request_history (request_id, seq, status, actor, note)
SELECT request_id, 1, 'UN', 'seed', 'created by the transmission seed' FROM _seed_reqs;
"""


def seed_connections(con: duckdb.DuckDBPyConnection, count: int, *, first: int = 1, tag: str = "",
                     msisdn_base: int = 447700000000, activation_date: date | None = None) -> Seeded:
    """Seed ``count`` new connections numbered from ``first`` (one transaction)."""
    params = {"tag": tag, "first": first, "count": count, "msisdn_base": msisdn_base,
              "activation_date": activation_date}
    con.execute("BEGIN TRANSACTION")
    try:
        for sql in _SQL.split(";"):
            if sql.strip():
                used = {k: v for k, v in params.items() if f"${k}" in sql}
                con.execute(sql, used)
        subs = [r[0] for r in con.execute("SELECT subscription_id FROM _seed_subs ORDER BY n").fetchall()]
        con.execute("DROP TABLE _seed_subs; DROP TABLE _seed_reqs")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return Seeded(subs, count * COMMANDS_PER_CONNECTION)


__all__ = ["COMMANDS_PER_CONNECTION", "Seeded", "seed_connections"]
