"""Business rules of the bill-cycle-change job (DOMAIN.md §3), set-based over all its records.

A record (an agreement and its new day, from :mod:`jobs.bill_cycle_input`) is judged as a
whole: the change applies to every subscription of the agreement, so either all of its
POSTPAID subscriptions change or none does. Rules (:data:`RULES`; each one SQL predicate over
``_bcc_agr`` with the SQL of its reason, all checked in one ``UNION ALL``):

- the agreement must exist and have a bill cycle day (the monthly family: MONTHLY, QUARTERLY,
  HALF_YEARLY, YEARLY), and the new day must differ from it;
- only POSTPAID subscriptions take part (PREPAID ones of the agreement are left alone), so an
  agreement without a live POSTPAID subscription is refused;
- its POSTPAID subscriptions must all be CONNECTED: a PENDING one is still being created on the
  OCS (its CREATE_SUBSCRIBER carries the old day and runs on another target's queue), so the
  change would race it. FAILED and CEASED subscriptions are not on the network and stay out.

A record whose agreement already has an open change (REQUESTED or ANSWERED) to the same day is
*already requested*: not repeated and not an error, so running the job twice with the same input
creates nothing twice.

When it takes effect: at the start of the new cycle, i.e. 00:00 UTC of the first day after the
job's day (``ctx.now`` in UTC) that is the new cycle day; a day the month lacks (29-31) falls
back to that month's last day (:func:`effective_date`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

import duckdb
import pyarrow as pa

TEMP_TABLES = ("_bcc_agr", "_bcc_ok", "_bcc_effective")

MONTHLY_FAMILY = ("MONTHLY", "QUARTERLY", "HALF_YEARLY", "YEARLY")
#: a change in these statuses is open: the same change again is not repeated
OPEN_CHANGE_STATUSES = ("REQUESTED", "ANSWERED")


def cycle_start(year: int, month: int, day: int) -> date:
    """The day a cycle on ``day`` starts in that month: ``day``, or the month's last day if shorter."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def effective_date(today: date, day: int) -> date:
    """The first cycle start on ``day`` strictly after ``today`` (never today: its 00:00 is past)."""
    if not 1 <= day <= 31:
        raise ValueError(f"a bill cycle day is 1-31, got {day}")
    this_month = cycle_start(today.year, today.month, day)
    if this_month > today:
        return this_month
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return cycle_start(year, month, day)


def effective_table(today: date) -> pa.Table:
    """``day`` 1-31 → its ``effective_date`` from ``today``: joined by the job, 31 rows."""
    days = list(range(1, 32))
    return pa.table({"day": pa.array(days, pa.int32()),
                     "effective_date": pa.array([effective_date(today, d) for d in days], pa.date32())})


_FAMILY = ", ".join(f"'{f}'" for f in MONTHLY_FAMILY)
_OPEN = ", ".join(f"'{s}'" for s in OPEN_CHANGE_STATUSES)

# One row per readable record, with what the rules need about its agreement.
_AGREEMENTS = f"""
CREATE OR REPLACE TEMP TABLE _bcc_agr AS
SELECT r.line_no, r.agreement_id, r.new_day,
       a.agreement_id IS NOT NULL AS known, a.bill_frequency, a.bill_cycle_day AS old_day,
       coalesce(s.n_post, 0) AS n_post, coalesce(s.n_prepaid, 0) AS n_prepaid,
       coalesce(s.pending, []) AS pending, len(coalesce(s.pending, [])) AS n_pending,
       o.agreement_id IS NOT NULL AS already_open
FROM _bcc_records r
LEFT JOIN agreements a ON a.agreement_id = r.agreement_id
LEFT JOIN (
    SELECT x.agreement_id,
           count(*) FILTER (WHERE x.pay_mode = 'POSTPAID' AND x.status = 'CONNECTED') AS n_post,
           count(*) FILTER (WHERE x.pay_mode = 'PREPAID' AND x.status IN ('PENDING', 'CONNECTED')) AS n_prepaid,
           list(x.subscription_id ORDER BY x.subscription_id)
               FILTER (WHERE x.pay_mode = 'POSTPAID' AND x.status = 'PENDING') AS pending
    FROM subscriptions x SEMI JOIN _bcc_records q ON q.agreement_id = x.agreement_id
    GROUP BY x.agreement_id
) s ON s.agreement_id = r.agreement_id
LEFT JOIN (SELECT DISTINCT agreement_id, new_bill_cycle_day FROM bill_cycle_changes WHERE status IN ({_OPEN})) o
       ON o.agreement_id = r.agreement_id AND o.new_bill_cycle_day = r.new_day
WHERE r.agreement_id IS NOT NULL
"""


@dataclass(frozen=True)
class Rule:
    """A record of ``_bcc_agr`` matching ``predicate`` is refused with ``reason`` (SQL) on ``field``."""

    name: str
    field: str
    predicate: str
    reason: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"rule name {self.name!r} must be lower_snake_case")


RULES: tuple[Rule, ...] = (
    Rule("unknown_agreement", "agreement", "NOT known", "'no agreement ' || agreement_id"),
    Rule("no_bill_cycle_day", "day", f"known AND (bill_frequency NOT IN ({_FAMILY}) OR old_day IS NULL)",
         "'agreement ' || agreement_id || ' bills ' || bill_frequency || ' without a bill cycle day: only "
         "MONTHLY, QUARTERLY, HALF_YEARLY and YEARLY agreements have one to change'"),
    Rule("same_day", "day", "known AND old_day = new_day",
         "'agreement ' || agreement_id || ' already bills on day ' || new_day"),
    Rule("not_postpaid", "agreement", "known AND n_post = 0 AND n_pending = 0",
         "'agreement ' || agreement_id || ' has no live POSTPAID subscription' "
         "|| CASE WHEN n_prepaid > 0 THEN ' (' || n_prepaid || ' PREPAID)' ELSE '' END "
         "|| ': only postpaid subscriptions change bill cycle'"),
    Rule("not_connected", "agreement", "n_pending > 0",
         "'agreement ' || agreement_id || ': POSTPAID subscription ' || array_to_string(pending[1:5], ', ') "
         "|| CASE WHEN n_pending > 5 THEN ' and ' || (n_pending - 5) || ' more' ELSE '' END "
         "|| ' not yet CONNECTED: change the bill cycle once the connection is complete'"),
)


def violations_sql(rules: tuple[Rule, ...] = RULES) -> str:
    parts = [f"SELECT line_no, '{r.name}' AS rule, '{r.field}' AS field, ({r.reason})::VARCHAR AS reason "
             f"FROM _bcc_agr WHERE NOT already_open AND ({r.predicate})" for r in rules]
    return "\nUNION ALL\n".join(parts)


def check(con: duckdb.DuckDBPyConnection, today: date) -> int:
    """Judge the readable records: refusals into ``_bcc_bad``; ``_bcc_ok`` = the records to change
    now (not already requested, no refusal), ``_bcc_effective`` = day → effective date.
    Returns how many records were already requested."""
    con.execute(_AGREEMENTS)
    con.execute(f"INSERT INTO _bcc_bad {violations_sql()}")
    con.register("_bcc_effective_rows", effective_table(today))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _bcc_effective AS SELECT * FROM _bcc_effective_rows")
    finally:
        con.unregister("_bcc_effective_rows")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _bcc_ok AS
        SELECT a.line_no, a.agreement_id, a.old_day, a.new_day, e.effective_date
        FROM _bcc_agr a JOIN _bcc_effective e ON e.day = a.new_day
        WHERE NOT a.already_open AND a.line_no NOT IN (SELECT line_no FROM _bcc_bad)
    """)
    return con.execute("SELECT count(*) FROM _bcc_agr WHERE already_open").fetchall()[0][0]


__all__ = ["MONTHLY_FAMILY", "OPEN_CHANGE_STATUSES", "RULES", "Rule", "TEMP_TABLES", "check", "cycle_start",
           "effective_date", "effective_table", "violations_sql"]
