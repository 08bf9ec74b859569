"""The provisioning job: turn the valid orders of a committed Order batch into platform records.

DOMAIN.md §2 step 3. For the orders of one batch (rows of ``stage_orders``), in a fixed number
of set-based statements over the whole batch (no per-order Python):

1. orders whose ``orderRef`` already has a customer are skipped (``already_provisioned``), so
   a second run of the same batch creates nothing;
2. :mod:`jobs.provisioning_batch` flattens the other orders into temp tables, and the
   business rules of :mod:`jobs.provisioning_rules` reject orders as a whole, each with all
   its reasons, into ``batch_errors`` (``source = 'provisioning'``); the rest proceed;
3. :mod:`jobs.provisioning_create` creates customer, account, agreement, subscriptions,
   allowances, spend caps, services, the NEW_CONNECTION workflow events, their actioned items
   and one network request (status UN) per item, with its first history row;
4. the batch is marked PROCESSED and its ``provisioning`` trigger DONE.

Runs inside the transaction that :func:`jobs.base.run_job` opened: all of it commits or none.
"""

from __future__ import annotations

from typing import Mapping

import duckdb

from engine.errors import NotFound, UsageError
from jobs import provisioning_batch, provisioning_rules
from jobs.base import JobContext, JobResult, JobSpec
from jobs.provisioning_batch import flatten
from jobs.provisioning_create import create
from jobs.provisioning_rules import RULES, check

JOB_NAME = "provisioning"
ORDER_BATCH_TYPE = "Order"
_TEMPS = (*provisioning_batch.TEMP_TABLES, *provisioning_rules.TEMP_TABLES)


def parse_batch_id(params: Mapping[str, str]) -> int:
    raw = str(params.get("batch", "")).strip()
    if not raw.isdigit():
        raise UsageError(f"batch must be a batch id (a positive whole number), not {raw!r}",
                         hint="`cmpctl batches list` shows the batch ids")
    return int(raw)


def order_batch(con: duckdb.DuckDBPyConnection, batch_id: int) -> None:
    """Check that ``batch_id`` is a committed Order batch; raise NotFound/UsageError if not."""
    row = con.execute("SELECT batch_type FROM batches WHERE batch_id = ?", [batch_id]).fetchone()
    if row is None:
        raise NotFound(f"no batch {batch_id}", hint="`cmpctl batches list` shows the batch ids")
    if row[0] != ORDER_BATCH_TYPE:
        raise UsageError(
            f"batch {batch_id} is a {row[0]!r} batch; the provisioning job only takes {ORDER_BATCH_TYPE!r} batches",
            hint="pick the batch of an Order file",
        )


def provision(con: duckdb.DuckDBPyConnection, params: Mapping[str, str], ctx: JobContext) -> JobResult:
    """Provision every valid, not yet provisioned order of the batch ``params['batch']``."""
    batch_id = parse_batch_id(params)
    order_batch(con, batch_id)
    read = con.execute("SELECT count(*) FROM stage_orders WHERE batch_id = ?", [batch_id]).fetchone()[0]
    try:
        totals = flatten(con, batch_id)
        errors_by_rule = check(con, batch_id, ctx.now.date())
        errors = con.execute("SELECT count(DISTINCT line_no) FROM _prov_violations").fetchone()[0]
        made = create(con, batch_id, ctx.execution_id, totals, ctx.traceparent)
        con.execute("UPDATE batches SET stage = 'PROCESSED', stage_at = now() WHERE batch_id = ?", [batch_id])
        con.execute(
            """
            INSERT INTO batch_triggers (batch_id, job, status, execution_id) VALUES (?, ?, 'DONE', ?)
            ON CONFLICT (batch_id, job) DO UPDATE SET status = 'DONE', execution_id = excluded.execution_id
            """,
            [batch_id, JOB_NAME, ctx.execution_id],
        )
    finally:
        _drop_temps(con)
    return JobResult(
        read=read,
        ok=made["orders"],
        error=errors,
        batch_id=batch_id,
        details={
            "subscriptions": made["subscriptions"],
            "requests": made["requests"],
            "already_provisioned": read - totals.orders,
            "errors_by_rule": errors_by_rule,
        },
    )


def _drop_temps(con: duckdb.DuckDBPyConnection) -> None:
    try:
        for table in _TEMPS:
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")
    except duckdb.Error:
        pass  # the transaction failed: its rollback discards them


PROVISIONING = JobSpec(
    JOB_NAME,
    provision,
    "Provision the valid orders of an Order batch: customers, accounts, agreements, subscriptions, "
    "allowances, spend caps, services, workflow events and network requests (status UN)",
    params=("batch",),
    required=("batch",),
)

__all__ = ["JOB_NAME", "PROVISIONING", "RULES", "order_batch", "parse_batch_id", "provision"]
