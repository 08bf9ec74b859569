"""Business rules of the provisioning job, evaluated set-based over a whole batch.

Each rule is one SQL predicate over one relation of the batch's candidate orders (see
:mod:`jobs.provisioning_batch`) with the SQL of the reason it gives. Adding a rule is adding a
:class:`Rule` to :data:`RULES`; all rules are checked in one ``UNION ALL`` statement, and an
order that breaks any rule is rejected as a whole, with every reason it broke (each naming the
field path, e.g. ``subscriptions[0].msisdn: …``), into ``batch_errors``
(``source = 'provisioning'``); its rows are then removed from the job's temp tables.

Relations a rule may read (one row per …):

``subscription``: one row per subscription of a candidate order: every column of
    ``_prov_subs`` (line_no, sub_idx, currency, pay_mode, msisdn, activation, activation_date,
    allowances, spend_cap, services, …), path (``subscriptions[i]``), live_subscription_id (a
    live subscription already holding the msisdn, else NULL) and first_line, first_idx (the
    first use of the msisdn in the batch when this is a later one, else NULL).
``allowance``: one row per allowance: line_no, sub_idx, item_idx (0-based), path
    (``subscriptions[i].allowances[j]``), currency (the account's), allowance_type, amount
    (DOUBLE, +inf for UNLIMITED), unit, recurring.

Predicates and reasons may use the parameter ``$today`` (DATE: the job's ``ctx.now`` date).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import duckdb

from jobs.helpers import temp_tables

#: the temp table of broken rules (line_no, rule, rule_no, sub_idx, item_idx, reason): made,
#: read and dropped inside :func:`check`, which returns what the job needs of it
VIOLATIONS = "_prov_violations"

#: rule scope -> the relation (SQL) its predicate is evaluated over
RELATIONS: dict[str, str] = {
    "subscription": """(SELECT s.*, 'subscriptions[' || s.sub_idx || ']' AS path,
                               l.subscription_id AS live_subscription_id, r.first_line, r.first_idx
                        FROM _prov_subs s
                        LEFT JOIN _prov_live l ON l.msisdn = s.msisdn
                        LEFT JOIN _prov_repeat r ON r.line_no = s.line_no AND r.sub_idx = s.sub_idx)""",
    "allowance": """(SELECT line_no, sub_idx, item_idx,
                            'subscriptions[' || sub_idx || '].allowances[' || item_idx || ']' AS path, currency,
                            a.type AS allowance_type, a.amount AS amount, a.unit AS unit, a.recurring AS recurring
                     FROM (SELECT line_no, sub_idx, currency, unnest(allowances) AS a,
                                  generate_subscripts(allowances, 1) - 1 AS item_idx
                           FROM _prov_subs))""",
}


@dataclass(frozen=True)
class Rule:
    """One business rule: orders with a row of ``scope`` matching ``predicate`` are rejected."""

    name: str  #: short name, the key in the job result's ``errors_by_rule``
    scope: str  #: a key of RELATIONS
    predicate: str  #: SQL boolean over the relation's columns: true = the rule is broken
    reason: str  #: SQL VARCHAR expression: the reason, starting with the field path

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"rule name {self.name!r} must be lower_snake_case")
        if self.scope not in RELATIONS:
            raise ValueError(f"rule {self.name!r}: unknown scope {self.scope!r}; known: {sorted(RELATIONS)}")


RULES: tuple[Rule, ...] = (
    Rule(
        "msisdn_in_use",
        "subscription",
        "live_subscription_id IS NOT NULL",
        "path || '.msisdn: ' || msisdn || ' is already in use by live subscription ' || live_subscription_id",
    ),
    Rule(
        "msisdn_repeated",
        "subscription",
        "first_line IS NOT NULL",
        "path || '.msisdn: ' || msisdn || CASE WHEN first_line = line_no "
        "THEN ' repeats subscriptions[' || first_idx || '] of the same order' "
        "ELSE ' repeats line ' || first_line || ' (subscriptions[' || first_idx || ']) of this batch' END",
    ),
    Rule(
        "postpaid_without_value_cap",
        "subscription",
        "pay_mode = 'POSTPAID' AND (spend_cap IS NULL OR spend_cap.kind IS DISTINCT FROM 'VALUE' "
        "OR spend_cap.scope IS DISTINCT FROM 'FULL')",
        "path || '.spendCap: a POSTPAID subscription needs an enabled VALUE/FULL spend cap, it has ' || "
        "CASE WHEN spend_cap IS NULL THEN 'none' ELSE spend_cap.kind || '/' || spend_cap.scope END",
    ),
    Rule(
        "activation_date_in_past",
        "subscription",
        "activation = 'DELAYED' AND (activation_date IS NULL OR activation_date < $today)",
        "path || '.activationDate: ' || CASE WHEN activation_date IS NULL "
        "THEN 'is required for DELAYED activation' "
        "ELSE strftime(activation_date, '%Y-%m-%d') || ' is in the past (today is ' "
        "|| strftime($today, '%Y-%m-%d') || ')' END",
    ),
    Rule(
        "cash_currency_mismatch",
        "allowance",
        "allowance_type = 'CASH' AND unit IS DISTINCT FROM currency",
        "path || '.unit: a CASH allowance in ' || coalesce(unit, 'no unit') || "
        "' is not in the account currency ' || coalesce(currency, '(none)')",
    ),
)


def violations_sql(rules: tuple[Rule, ...] | None = None) -> str:
    """One statement listing every broken rule: line_no, rule, rule_no, sub_idx, item_idx, reason."""
    parts = []
    rules = RULES if rules is None else rules
    for rule_no, rule in enumerate(rules):
        item = "item_idx" if rule.scope != "subscription" else "-1"
        parts.append(
            f"SELECT line_no, '{rule.name}' AS rule, {rule_no} AS rule_no, sub_idx, {item} AS item_idx, "
            f"({rule.reason})::VARCHAR AS reason FROM {RELATIONS[rule.scope]} AS r WHERE {rule.predicate}"
        )
    if not parts:
        return ("SELECT NULL::BIGINT AS line_no, NULL::VARCHAR AS rule, 0 AS rule_no, 0::BIGINT AS sub_idx, "
                "0::BIGINT AS item_idx, NULL::VARCHAR AS reason WHERE false")
    return "\nUNION ALL\n".join(parts)


#: the order as JSON text, with +infinity allowance amounts written back as "UNLIMITED"
_RAW_ORDER = """to_json({
    'orderRef': o.orderRef, 'customer': o.customer, 'account': o.account, 'agreement': o.agreement,
    'subscriptions': list_transform(o.subscriptions, lambda s: struct_update(s,
        allowances := list_transform(s.allowances, lambda a: struct_update(a,
            amount := CASE WHEN isinf(a.amount) THEN '"UNLIMITED"'::JSON ELSE to_json(a.amount) END))))
})::VARCHAR"""


@dataclass(frozen=True)
class Checked:
    by_rule: dict[str, int]  # per broken rule, how many orders broke it
    rejected: int  # how many orders were rejected (each once, whatever it broke)


def check(
    con: duckdb.DuckDBPyConnection, batch_id: int, today: date, rules: tuple[Rule, ...] | None = None
) -> Checked:
    """Evaluate the rules (default: RULES as it is now); (re)write the batch's provisioning errors.

    The rejected orders' rows are removed from ``_prov_cand`` and ``_prov_subs``. Earlier
    provisioning errors of the batch are replaced: a re-run judges the orders not yet
    provisioned again (an msisdn freed since may now pass), so errors are never doubled.
    """
    rules = RULES if rules is None else rules
    with temp_tables(con, VIOLATIONS):
        sql = f"CREATE OR REPLACE TEMP TABLE {VIOLATIONS} AS {violations_sql(rules)}"
        con.execute(sql, {"today": today} if "$today" in sql else None)
        con.execute(
            "DELETE FROM batch_errors WHERE batch_id = $batch AND source = 'provisioning'", {"batch": batch_id}
        )
        con.execute(
            f"""
            INSERT INTO batch_errors (batch_id, line_no, shard_no, record_key, raw, reasons, source)
            SELECT $batch, o.line_no, o.shard_no, o.orderRef, {_RAW_ORDER}, v.reasons, 'provisioning'
            FROM (SELECT line_no, list(reason ORDER BY sub_idx, item_idx, rule_no) AS reasons
                  FROM {VIOLATIONS} GROUP BY line_no) v
            JOIN stage_orders o ON o.batch_id = $batch AND o.line_no = v.line_no
            """,
            {"batch": batch_id},
        )
        for table in ("_prov_subs", "_prov_cand"):
            con.execute(f"DELETE FROM {table} WHERE line_no IN (SELECT line_no FROM {VIOLATIONS})")
        by_rule = dict(con.execute(f"SELECT rule, count(DISTINCT line_no) FROM {VIOLATIONS} GROUP BY rule").fetchall())
        rejected = _count(con, f"SELECT count(DISTINCT line_no) FROM {VIOLATIONS}")
    return Checked({rule.name: by_rule[rule.name] for rule in rules if rule.name in by_rule}, rejected)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


__all__ = ["RELATIONS", "RULES", "VIOLATIONS", "Checked", "Rule", "check", "violations_sql"]
