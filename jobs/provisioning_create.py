"""Creation half of the provisioning job: platform records, workflow and network requests.

Works on the temp tables of :mod:`jobs.provisioning_batch` (``_prov_cand``, ``_prov_subs``),
from which :mod:`jobs.provisioning_rules` removed the rejected orders, and creates for every
order left, in a fixed number of set-based statements:

customer, account, auto-created agreement → subscriptions (PENDING) and one NEW_CONNECTION
workflow event each → allowances, spend caps, services (PENDING) → one network request (status
UN) per action, its actioned item (SENT_TO_NETWORK, same sequence 10, 20, 30, …) and its first
history row.

Actions of a subscription, in sequence order (``ACTIONS``): CREATE_SUBSCRIBER, ADD_ALLOWANCE
(one per allowance, in list order), SET_SPEND_CAP (if a cap), ADD_CAPABILITY (one per
SOFTWARE_CAPABILITY service, in list order), ACTIVATE, ADD_INSURANCE (one per INSURANCE
service). The network request's ``attributes`` JSON is the contract the adaptors build their
calls from; its keys per command are listed in ``ATTRIBUTE_KEYS``.
"""

from __future__ import annotations

import re

import duckdb

from engine.errors import StoreBusy
from jobs.provisioning_batch import Totals

ACTIONS = ("CREATE_SUBSCRIBER", "ADD_ALLOWANCE", "SET_SPEND_CAP", "ADD_CAPABILITY", "ACTIVATE", "ADD_INSURANCE")

#: command -> the keys of its network request's attributes, in order
ATTRIBUTE_KEYS: dict[str, tuple[str, ...]] = {
    "CREATE_SUBSCRIBER": ("subscriptionId", "msisdn", "tariffCode", "payMode", "billCycleDay", "accountId",
                          "agreementId"),
    "ADD_ALLOWANCE": ("subscriptionId", "allowanceId", "ocsId", "type", "amount", "unit", "recurring"),
    "SET_SPEND_CAP": ("subscriptionId", "spendCapId", "ocsId", "kind", "scope", "amount", "unit"),
    "ADD_CAPABILITY": ("subscriptionId", "serviceId", "code"),
    "ACTIVATE": ("subscriptionId", "activationDate"),
    "ADD_INSURANCE": ("subscriptionId", "serviceId", "code", "msisdn", "accountId"),
}  # fmt: skip

#: network target of every command but ADD_INSURANCE (which goes to the insurer by file)
OCS_TARGET = "OCS"
INSURANCE_TARGET = "FILE:insurance"

#: id sequence -> (bind parameter holding the start of its reserved block, Totals attribute)
BLOCKS: dict[str, tuple[str, str]] = {
    "seq_customer": ("b_customer", "orders"),
    "seq_account": ("b_account", "orders"),
    "seq_agreement": ("b_agreement", "orders"),
    "seq_subscription": ("b_subscription", "subscriptions"),
    "seq_event": ("b_event", "subscriptions"),
    "seq_allowance": ("b_allowance", "allowances"),
    "seq_spend_cap": ("b_spend_cap", "spend_caps"),
    "seq_service": ("b_service", "services"),
    "seq_action_item": ("b_item", "requests"),
    "seq_request": ("b_request", "requests"),
}
_RESERVE_TRIES = 5

# Ids from the reserved blocks and the ordinals of jobs.provisioning_batch.
_CUS, _ACC, _AGR = ("'CUS-' || ($b_customer + o_ord)", "'ACC-' || ($b_account + o_ord)",
                    "'AGR-' || ($b_agreement + o_ord)")  # fmt: skip
_SUB, _EVT = "'SUB-' || ($b_subscription + k)", "$b_event + k"

# The orders to create, with their fields from the staging table.
_ORDERS = """(SELECT c.o_ord, c.order_ref, o.customer, o.account, o.agreement
             FROM _prov_cand c JOIN stage_orders o ON o.batch_id = $batch AND o.line_no = c.line_no)"""

# An amount without trailing zeros: 100 -> '100', 2.5 -> '2.5' (for OCS ids such as DATA-100GB).
_PLAIN_AMOUNT = "rtrim(rtrim((a.amount)::DECIMAL(18, 2)::VARCHAR, '0'), '.')"

# One row per allowance / spend cap / service, with its subscription's r_off and its action's
# position i among the subscription's actions (sequence = 10 * (i + 1)).
_ALLOWANCE_ROWS = f"""(
    SELECT {_SUB} AS subscription_id, 'ALW-' || ($b_allowance + a_off + j) AS allowance_id,
           r_off, 1 + j AS i, a.type AS allowance_type, a.unit AS unit,
           coalesce(a.recurring, false) AS recurring, isinf(a.amount) AS unlimited,
           CASE WHEN isinf(a.amount) THEN NULL ELSE a.amount END AS amount,
           a.type || '-' || CASE WHEN isinf(a.amount) THEN 'UNLIMITED' ELSE {_PLAIN_AMOUNT} || a.unit END AS ocs_id
    FROM (SELECT k, a_off, r_off, unnest(allowances) AS a, generate_subscripts(allowances, 1) - 1 AS j
          FROM _prov_subs))"""
_CAP_ROWS = f"""(
    SELECT {_SUB} AS subscription_id, 'CAP-' || ($b_spend_cap + c_off) AS spend_cap_id,
           r_off, 1 + n_allow AS i, spend_cap.kind AS kind, spend_cap.scope AS scope,
           spend_cap.amount AS amount,
           CASE spend_cap.kind WHEN 'VALUE' THEN currency WHEN 'VOLUME' THEN 'MB' WHEN 'DURATION' THEN 'MIN' END
               AS unit,
           'CAP-' || spend_cap.kind || '-' || spend_cap.scope AS ocs_id
    FROM _prov_subs WHERE spend_cap IS NOT NULL)"""
# Capabilities come after the cap, insurances after ACTIVATE; rank = same-type services before it.
_SERVICE_ROWS = f"""(
    SELECT {_SUB} AS subscription_id, 'SVC-' || ($b_service + v_off + j) AS service_id, msisdn,
           {_ACC} AS account_id, v.type AS service_type, v.code AS code,
           r_off, CASE WHEN v.type = 'SOFTWARE_CAPABILITY' THEN 1 + n_allow + has_cap + rank
                       ELSE 2 + n_allow + has_cap + n_capab + rank END AS i
    FROM (SELECT *, len(list_filter(services[1:j], lambda x: x.type = v.type)) AS rank
          FROM (SELECT k, o_ord, msisdn, v_off, r_off, n_allow, has_cap, n_capab, services,
                       unnest(services) AS v, generate_subscripts(services, 1) - 1 AS j
                FROM _prov_subs)))"""
# The actions of a subscription by their ordinal i (0-based; sequence = 10 * (i + 1)).
_ACTION_OF_I = """CASE WHEN i = 0 THEN 'CREATE_SUBSCRIBER'
                       WHEN i <= n_allow THEN 'ADD_ALLOWANCE'
                       WHEN i <= n_allow + has_cap THEN 'SET_SPEND_CAP'
                       WHEN i <= n_allow + has_cap + n_capab THEN 'ADD_CAPABILITY'
                       WHEN i = n_allow + has_cap + n_capab + 1 THEN 'ACTIVATE'
                       ELSE 'ADD_INSURANCE' END"""

_STATEMENTS: tuple[str, ...] = (
    # -- orders: customer, account, agreement -----------------------------------------------
    f"""
    INSERT INTO customers (customer_id, customer_type, title, first_name, last_name, date_of_birth,
                           organisation_name, registration_number, email, order_ref, batch_id)
    SELECT {_CUS}, customer.type, customer.title, customer.firstName, customer.lastName, customer.dateOfBirth,
           customer.organisationName, customer.registrationNumber, customer.email, order_ref, $batch
    FROM {_ORDERS}
    """,
    f"""
    INSERT INTO accounts (account_id, customer_id, payment_type, currency)
    SELECT {_ACC}, {_CUS}, account.paymentType, account.currency FROM {_ORDERS}
    """,
    f"""
    INSERT INTO agreements (agreement_id, account_id, bill_frequency, bill_cycle_day, cycle_length_days,
                            auto_created)
    SELECT {_AGR}, {_ACC}, agreement.billFrequency, agreement.billCycleDay, agreement.cycleLengthDays, true
    FROM {_ORDERS}
    """,
    # -- subscriptions and their workflow event ----------------------------------------------
    f"""
    INSERT INTO subscriptions (subscription_id, customer_id, account_id, agreement_id, subscription_ref,
                               order_ref, pay_mode, msisdn, tariff_code, activation, activation_date, status)
    SELECT {_SUB}, {_CUS}, {_ACC}, {_AGR}, subscription_ref, order_ref, pay_mode, msisdn, tariff_code,
           activation, activation_date, 'PENDING'
    FROM _prov_subs
    """,
    f"""
    INSERT INTO workflow_events (event_id, event_type, subscription_id, agreement_id, batch_id, execution_id,
                                 status)
    SELECT {_EVT}, 'NEW_CONNECTION', {_SUB}, {_AGR}, $batch, $execution, 'OPEN' FROM _prov_subs
    """,
    # -- allowances, spend caps, services ------------------------------------------------------
    f"""
    INSERT INTO allowances (allowance_id, subscription_id, allowance_type, amount, unlimited, unit, recurring,
                            ocs_id)
    SELECT allowance_id, subscription_id, allowance_type, amount, unlimited, unit, recurring, ocs_id
    FROM {_ALLOWANCE_ROWS}
    """,
    f"""
    INSERT INTO spend_caps (spend_cap_id, subscription_id, kind, scope, amount, unit, enabled, ocs_id)
    SELECT spend_cap_id, subscription_id, kind, scope, amount, unit, true, ocs_id FROM {_CAP_ROWS}
    """,
    f"""
    INSERT INTO services (service_id, subscription_id, service_type, code, status)
    SELECT service_id, subscription_id, service_type, code, 'PENDING' FROM {_SERVICE_ROWS}
    """,
    # -- network requests, their actioned items and first history rows ------------------------
    f"""
    INSERT INTO network_requests (request_id, action_item_number, subscription_id, target, command, sequence,
                                  attributes, status, not_before, traceparent)
    SELECT $b_request + r_off + i, $b_item + r_off + i, subscription_id, target, command, 10 * (i + 1),
           attributes, 'UN', not_before, $traceparent::VARCHAR
    FROM (
        SELECT r_off, 0 AS i, {_SUB} AS subscription_id, 'CREATE_SUBSCRIBER' AS command,
               '{OCS_TARGET}' AS target,
               json_object('subscriptionId', {_SUB}, 'msisdn', msisdn, 'tariffCode', tariff_code,
                           'payMode', pay_mode, 'billCycleDay', bill_cycle_day, 'accountId', {_ACC},
                           'agreementId', {_AGR}) AS attributes,
               NULL::TIMESTAMPTZ AS not_before
        FROM _prov_subs
        UNION ALL
        SELECT r_off, 1 + n_allow + has_cap + n_capab, {_SUB}, 'ACTIVATE', '{OCS_TARGET}',
               json_object('subscriptionId', {_SUB}, 'activationDate',
                           CASE WHEN activation = 'DELAYED' THEN strftime(activation_date, '%Y-%m-%d') END),
               CASE WHEN activation = 'DELAYED' THEN timezone('UTC', activation_date::TIMESTAMP) END
        FROM _prov_subs
        UNION ALL
        SELECT r_off, i, subscription_id, 'ADD_ALLOWANCE', '{OCS_TARGET}',
               json_object('subscriptionId', subscription_id, 'allowanceId', allowance_id, 'ocsId', ocs_id,
                           'type', allowance_type,
                           'amount', CASE WHEN unlimited THEN '"UNLIMITED"'::JSON ELSE to_json(amount) END,
                           'unit', unit, 'recurring', recurring),
               NULL
        FROM {_ALLOWANCE_ROWS}
        UNION ALL
        SELECT r_off, i, subscription_id, 'SET_SPEND_CAP', '{OCS_TARGET}',
               json_object('subscriptionId', subscription_id, 'spendCapId', spend_cap_id, 'ocsId', ocs_id,
                           'kind', kind, 'scope', scope, 'amount', amount, 'unit', unit),
               NULL
        FROM {_CAP_ROWS}
        UNION ALL
        SELECT r_off, i, subscription_id,
               CASE WHEN service_type = 'SOFTWARE_CAPABILITY' THEN 'ADD_CAPABILITY' ELSE 'ADD_INSURANCE' END,
               CASE WHEN service_type = 'SOFTWARE_CAPABILITY' THEN '{OCS_TARGET}' ELSE '{INSURANCE_TARGET}' END,
               CASE WHEN service_type = 'SOFTWARE_CAPABILITY'
                    THEN json_object('subscriptionId', subscription_id, 'serviceId', service_id, 'code', code)
                    ELSE json_object('subscriptionId', subscription_id, 'serviceId', service_id, 'code', code,
                                     'msisdn', msisdn, 'accountId', account_id) END,
               NULL
        FROM {_SERVICE_ROWS}
    )
    """,
    f"""
    INSERT INTO actioned_items (action_item_number, event_id, sequence, action, status)
    SELECT $b_item + r_off + i, {_EVT}, 10 * (i + 1), {_ACTION_OF_I}, 'SENT_TO_NETWORK'
    FROM (SELECT k, r_off, n_allow, has_cap, n_capab, unnest(range(n_req)) AS i FROM _prov_subs)
    """,
    """
    INSERT INTO network_request_history (request_id, seq, status, actor, note)
    SELECT $b_request + r_off + i, 1, 'UN', 'provisioning', 'created by execution ' || $execution
    FROM (SELECT r_off, unnest(range(n_req)) AS i FROM _prov_subs)
    """,
)


def reserve(con: duckdb.DuckDBPyConnection, sequence: str, n: int) -> int:
    """Draw ``n`` values of ``sequence`` as one contiguous block; returns its first value.

    The values drawn are contiguous unless another session drew from the same sequence at the
    same moment; then the block is drawn again (the values in between stay unused).
    """
    if n <= 0:
        return 0
    for _ in range(_RESERVE_TRIES):
        lo, hi = con.execute(f"SELECT min(v), max(v) FROM (SELECT nextval('{sequence}') AS v FROM range(?))",
                             [n]).fetchone()  # fmt: skip
        if hi - lo + 1 == n:
            return lo
    raise StoreBusy(f"could not reserve {n:,} contiguous values of {sequence}: other sessions draw from it",
                    hint="run the job again")  # fmt: skip


def create(con: duckdb.DuckDBPyConnection, batch_id: int, execution_id: int, totals: Totals,
           traceparent: str | None = None) -> dict[str, int]:
    """Create everything for the orders left in ``_prov_cand``/``_prov_subs``. Returns the counts.

    ``traceparent`` (the job's span) is stamped on the network requests: their sends join its trace.
    """
    orders, subs, requests = con.execute(
        "SELECT (SELECT count(*) FROM _prov_cand), count(*), coalesce(sum(n_req), 0) FROM _prov_subs"
    ).fetchone()
    if orders == 0:
        return {"orders": 0, "subscriptions": 0, "requests": 0}
    params: dict[str, int | str | None] = {"batch": batch_id, "execution": execution_id, "traceparent": traceparent}
    for sequence, (param, attr) in BLOCKS.items():
        params[param] = reserve(con, sequence, getattr(totals, attr))
    for sql in _STATEMENTS:
        names = set(re.findall(r"\$(\w+)", sql))
        con.execute(sql, {k: v for k, v in params.items() if k in names})
    return {"orders": orders, "subscriptions": subs, "requests": int(requests)}


__all__ = ["ACTIONS", "ATTRIBUTE_KEYS", "BLOCKS", "INSURANCE_TARGET", "OCS_TARGET", "create", "reserve"]
