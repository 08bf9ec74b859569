"""What the provisioning job reads: the batch's orders not yet provisioned, flattened and numbered.

Temp tables of the job's connection, one statement each:

``_prov_cand``: one row per candidate order (an order of the batch whose ``orderRef`` has no
customer yet): line_no, order_ref; per subscription, its counts of allowances, spend caps and
services (lists alw_n, cap_n, svc_n); the order's totals n_subs, n_alw, n_cap, n_svc; and its
ordinals in the batch: o_ord (0, 1, 2, … in line order), s_off, a_off, c_off, v_off (those of
its first subscription, allowance, spend cap and service). The order's own fields stay in
``stage_orders`` (joined on line_no).

``_prov_subs``: one row per subscription of a candidate order: line_no, sub_idx (0-based),
o_ord, order_ref, currency, bill_cycle_day, subscription_ref, pay_mode, msisdn, tariff_code,
activation, activation_date, allowances, spend_cap, services (the order's fields); n_allow,
has_cap (0/1), n_capab (SOFTWARE_CAPABILITY services), n_svc, n_req (its network requests:
2 + n_allow + has_cap + n_svc); and its ordinals in the batch: k (the subscription's), a_off,
c_off, v_off, r_off (those of its first allowance, spend cap, service and request).

``_prov_live`` (msisdn, subscription_id): live subscriptions already holding an msisdn of the
batch. ``_prov_repeat`` (line_no, sub_idx, first_line, first_idx): the later uses of an msisdn
that the batch holds more than once, with its first use.

The ordinals make every id arithmetic: the job reserves one contiguous block per id sequence
and gives entity number n the id ``block start + n``, so ids follow line order and no join is
needed to find a parent's id. Ordinals count every candidate, so an order rejected by a rule
leaves a gap in the ids (as a rolled-back transaction does).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

TEMP_TABLES = ("_prov_cand", "_prov_subs", "_prov_live", "_prov_repeat")

_CANDIDATES = """
CREATE OR REPLACE TEMP TABLE _prov_cand AS
SELECT line_no, order_ref, alw_n, cap_n, svc_n, n_subs, n_alw, n_cap, n_svc,
       (row_number() OVER w - 1)::BIGINT AS o_ord,
       (sum(n_subs) OVER w - n_subs)::BIGINT AS s_off,
       (sum(n_alw) OVER w - n_alw)::BIGINT AS a_off,
       (sum(n_cap) OVER w - n_cap)::BIGINT AS c_off,
       (sum(n_svc) OVER w - n_svc)::BIGINT AS v_off
FROM (
    SELECT *, len(alw_n) AS n_subs, coalesce(list_sum(alw_n), 0) AS n_alw, coalesce(list_sum(cap_n), 0) AS n_cap,
           coalesce(list_sum(svc_n), 0) AS n_svc
    FROM (
        SELECT o.line_no, o.orderRef AS order_ref,
               coalesce(list_transform(o.subscriptions, lambda s: coalesce(len(s.allowances), 0)), []) AS alw_n,
               coalesce(list_transform(o.subscriptions, lambda s: (s.spendCap IS NOT NULL)::BIGINT), []) AS cap_n,
               coalesce(list_transform(o.subscriptions, lambda s: coalesce(len(s.services), 0)), []) AS svc_n
        FROM stage_orders o ANTI JOIN customers c ON c.order_ref = o.orderRef
        WHERE o.batch_id = $batch
    )
)
WINDOW w AS (ORDER BY line_no ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
"""

# A subscription's ordinals: the order's, plus the counts of the subscriptions before it in the
# order (the first sub_idx elements of the order's count lists).
_SUBSCRIPTIONS = """
CREATE OR REPLACE TEMP TABLE _prov_subs AS
SELECT *, 2 * k + a_off + c_off + v_off AS r_off, 2 + n_allow + has_cap + n_svc AS n_req
FROM (
    SELECT line_no, sub_idx, o_ord, order_ref, currency, bill_cycle_day,
           s.subscriptionRef AS subscription_ref, s.payMode AS pay_mode, s.msisdn AS msisdn,
           s.tariffCode AS tariff_code, s.activation AS activation, s.activationDate AS activation_date,
           s.allowances AS allowances, s.spendCap AS spend_cap, s.services AS services,
           alw_n[sub_idx + 1] AS n_allow, cap_n[sub_idx + 1]::INTEGER AS has_cap, svc_n[sub_idx + 1] AS n_svc,
           coalesce(len(list_filter(s.services, lambda v: v.type = 'SOFTWARE_CAPABILITY')), 0) AS n_capab,
           s_off + sub_idx AS k,
           a_off + coalesce(list_sum(alw_n[1:sub_idx]), 0) AS a_off,
           c_off + coalesce(list_sum(cap_n[1:sub_idx]), 0) AS c_off,
           v_off + coalesce(list_sum(svc_n[1:sub_idx]), 0) AS v_off
    FROM (
        SELECT c.line_no, c.o_ord, c.order_ref, o.account.currency AS currency,
               o.agreement.billCycleDay AS bill_cycle_day, c.s_off, c.a_off, c.c_off, c.v_off,
               c.alw_n, c.cap_n, c.svc_n,
               unnest(o.subscriptions) AS s, generate_subscripts(o.subscriptions, 1) - 1 AS sub_idx
        FROM stage_orders o JOIN _prov_cand c ON c.line_no = o.line_no
        WHERE o.batch_id = $batch
    )
)
"""

_LIVE = """
CREATE OR REPLACE TEMP TABLE _prov_live AS
SELECT x.msisdn, min(x.subscription_id) AS subscription_id
FROM subscriptions x SEMI JOIN _prov_subs s ON s.msisdn = x.msisdn
WHERE x.status <> 'CEASED'
GROUP BY x.msisdn
"""

_REPEAT = """
CREATE OR REPLACE TEMP TABLE _prov_repeat AS
SELECT line_no, sub_idx, first_value(line_no) OVER w AS first_line, first_value(sub_idx) OVER w AS first_idx
FROM _prov_subs SEMI JOIN (SELECT msisdn FROM _prov_subs GROUP BY msisdn HAVING count(*) > 1) d USING (msisdn)
WINDOW w AS (PARTITION BY msisdn ORDER BY line_no, sub_idx)
QUALIFY row_number() OVER w > 1
"""


@dataclass(frozen=True)
class Totals:
    """How many of each entity the candidate orders hold (the sizes of the id blocks)."""

    orders: int = 0
    subscriptions: int = 0
    allowances: int = 0
    spend_caps: int = 0
    services: int = 0

    @property
    def requests(self) -> int:
        return 2 * self.subscriptions + self.allowances + self.spend_caps + self.services


def flatten(con: duckdb.DuckDBPyConnection, batch_id: int) -> Totals:
    """Make the temp tables for the batch. Returns the totals over every candidate order."""
    con.execute(_CANDIDATES, {"batch": batch_id})
    con.execute(_SUBSCRIPTIONS, {"batch": batch_id})
    con.execute(_LIVE)
    con.execute(_REPEAT)
    row = con.execute("SELECT count(*), sum(n_subs), sum(n_alw), sum(n_cap), sum(n_svc) FROM _prov_cand").fetchone()
    return Totals(*(int(v or 0) for v in row))


__all__ = ["TEMP_TABLES", "Totals", "flatten"]
