"""The bill-cycle-change job: move agreements to a new bill cycle day (DOMAIN.md §3).

    cmpctl jobs run bill-cycle-change --param agreement=AGR-1,AGR-2 --param day=1
    cmpctl jobs run bill-cycle-change --param file=/abs/path/changes.csv

Inside the transaction :func:`engine.jobs.run_job` opened, in a fixed number of set-based
statements whatever the number of records:

1. :mod:`jobs.bill_cycle_input` reads the records (parameters or a CSV / JSON-lines file) and
   rejects unreadable ones, each with its line, field and reason;
2. :mod:`jobs.bill_cycle_rules` refuses records by the business rules (unknown agreement, no
   bill cycle day, same day, no POSTPAID subscription, not yet connected) and skips records
   whose change is already requested (so a second run creates nothing);
3. :mod:`jobs.bill_cycle_create` raises, per POSTPAID subscription of the accepted agreements,
   a BILL_CYCLE_CHANGE event, its actioned item(s), a ``bill_cycle_changes`` row and the
   network request(s) for Openet (target ``OPENET``) and, where configured, for the file route
   (``FILE:<partner>``), and puts the agreements on their new day;
4. the run's records are kept as a batch (type ``Bill Cycle Change``, direction None) with one
   ``batch_errors`` row per refused record (``cmpctl batches show <id> --errors``), linked to
   the execution; the execution counts records read / changed (ok) / refused (error).

The file route: ``[bill_cycle] file_partner`` of the engine's config (``""``: off), read from the
home the database lives in; the parameter ``file_partner`` overrides it for one run.
"""

from __future__ import annotations

from datetime import timezone
from pathlib import Path
from typing import Mapping

import duckdb

from engine.config import BillCycleConfig, load_config
from engine.errors import ConfigError, UsageError
from engine.jobs import JobContext, JobResult, JobSpec
from jobs import bill_cycle_create, bill_cycle_input, bill_cycle_rules
from jobs.helpers import drop_temp_tables

JOB_NAME = "bill-cycle-change"
BATCH_TYPE = "Bill Cycle Change"
MAX_ERRORS_IN_RESULT = 20
_TEMPS = (*bill_cycle_input.TEMP_TABLES, *bill_cycle_rules.TEMP_TABLES, *bill_cycle_create.TEMP_TABLES)


def file_partner(con: duckdb.DuckDBPyConnection, params: Mapping[str, str]) -> str:
    """The partner of the file route ("" = none): the parameter, else the config of the home
    whose ``data/cmp.duckdb`` this connection is (the Store is given a path, not the config)."""
    if "file_partner" in params:
        value = str(params["file_partner"]).strip()
        try:
            return BillCycleConfig(file_partner=value).file_partner
        except ConfigError:
            raise UsageError(f"file_partner must be 1-32 of A-Z a-z 0-9 . _ -, got {value!r}",
                             hint="e.g. --param file_partner=billing-bureau; empty for none") from None
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()[0]
    path = Path(row[0]) if row and row[0] else None
    if path is None or path.name != "cmp.duckdb" or path.parent.name != "data":
        return ""  # not an engine home (a test's or a tool's database): no configured route
    return load_config(path.parent.parent).bill_cycle.file_partner


def change_bill_cycle(con: duckdb.DuckDBPyConnection, params: Mapping[str, str], ctx: JobContext) -> JobResult:
    partner = file_partner(con, params)
    try:
        source = bill_cycle_input.read(con, params)
        already = bill_cycle_rules.check(con, ctx.now.astimezone(timezone.utc).date())
        read = con.execute("SELECT count(*) FROM _bcc_raw").fetchall()[0][0]
        errors = con.execute("SELECT count(DISTINCT line_no) FROM _bcc_bad").fetchall()[0][0]
        batch_id = _audit_batch(con, ctx, read, errors)
        made = bill_cycle_create.create(con, batch_id=batch_id, execution_id=ctx.execution_id, now=ctx.now,
                                        partner=partner, traceparent=getattr(ctx, "traceparent", None))
        by_rule = dict(con.execute(
            "SELECT rule, count(DISTINCT line_no) FROM _bcc_bad GROUP BY rule ORDER BY rule").fetchall())
        shown = [
            {"where": source.where(line), "line": line, "agreement": agreement, "field": field, "reason": reason}
            for line, agreement, field, reason in con.execute(
                "SELECT b.line_no, r.agreement_text, b.field, b.reason FROM _bcc_bad b JOIN _bcc_raw r USING (line_no) "
                "ORDER BY b.line_no, b.field LIMIT ?", [MAX_ERRORS_IN_RESULT]).fetchall()
        ]  # fmt: skip
    finally:
        drop_temp_tables(con, _TEMPS)
    return JobResult(
        read=read, ok=made.agreements, error=errors, batch_id=batch_id,
        details={
            "source": source.label, "file_partner": partner or None, "already_requested": already,
            "subscriptions": made.subscriptions, "requests": made.requests,
            "prepaid_left_out": made.prepaid_left_out, "errors_by_rule": by_rule, "errors": shown,
        },
    )  # fmt: skip


def _audit_batch(con: duckdb.DuckDBPyConnection, ctx: JobContext, read: int, errors: int) -> int:
    """The run's batch and one ``batch_errors`` row per refused record, with all its reasons."""
    batch_id = con.execute("SELECT nextval('seq_batch')").fetchall()[0][0]
    con.execute(
        "INSERT INTO batches (batch_id, category, batch_type, direction, stage, records, valid_records, "
        "error_records, trace_id) VALUES (?, 'Provisioning', ?, 'None', 'PROCESSED', ?, ?, ?, ?)",
        [batch_id, BATCH_TYPE, read, read - errors, errors, ctx.trace_id],
    )
    con.execute(
        """
        INSERT INTO batch_errors (batch_id, line_no, shard_no, record_key, raw, reasons, source)
        SELECT ?, b.line_no, 0, any_value(r.agreement_text), any_value(r.raw),
               list(b.field || ': ' || b.reason ORDER BY b.field, b.reason), ?
        FROM _bcc_bad b JOIN _bcc_raw r USING (line_no)
        GROUP BY b.line_no
        """,
        [batch_id, JOB_NAME],
    )
    return batch_id



BILL_CYCLE_CHANGE = JobSpec(
    JOB_NAME,
    change_bill_cycle,
    "Change the bill cycle day of agreements (agreement=<id[,id…]> day=<1-31>, or file=<abs path .csv/.jsonl>): "
    "POSTPAID subscriptions and their shared groups, effective at the new cycle's start; BILL_CYCLE_CHANGE "
    "events and network requests for Openet (and the file route where configured)",
    params=("agreement", "day", "file", "file_partner"),
)

__all__ = ["BATCH_TYPE", "BILL_CYCLE_CHANGE", "JOB_NAME", "change_bill_cycle", "file_partner"]
