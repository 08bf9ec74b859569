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

Runs inside the transaction that :func:`engine.jobs.run_job` opened: all of it commits or none.
"""

from __future__ import annotations

from typing import Mapping

import duckdb

from engine.jobs import JobContext, JobResult, JobSpec, batch_param
from jobs import provisioning_batch
from jobs.helpers import mark_batch_processed, require_batch, temp_tables
from jobs.provisioning_batch import flatten
from jobs.provisioning_create import create
from jobs.provisioning_rules import RULES, check

JOB_NAME = "provisioning"
ORDER_BATCH_TYPE = "Order"


def provision(con: duckdb.DuckDBPyConnection, params: Mapping[str, str], ctx: JobContext) -> JobResult:
    """Provision every valid, not yet provisioned order of the batch ``params['batch']``."""
    batch_id = batch_param(params)
    require_batch(con, batch_id, ORDER_BATCH_TYPE, JOB_NAME)
    row = con.execute("SELECT count(*) FROM stage_orders WHERE batch_id = ?", [batch_id]).fetchone()
    read = int(row[0]) if row else 0
    with temp_tables(con, *provisioning_batch.TEMP_TABLES):
        totals = flatten(con, batch_id)
        checked = check(con, batch_id, ctx.now.date())
        made = create(con, batch_id, ctx.execution_id, totals, ctx.traceparent)
        mark_batch_processed(con, batch_id, JOB_NAME, ctx.execution_id)
    return JobResult(
        read=read,
        ok=made["orders"],
        error=checked.rejected,
        batch_id=batch_id,
        details={
            "subscriptions": made["subscriptions"],
            "requests": made["requests"],
            "already_provisioned": read - totals.orders,
            "errors_by_rule": checked.by_rule,
        },
    )



PROVISIONING = JobSpec(
    JOB_NAME,
    provision,
    "Provision the valid orders of an Order batch: customers, accounts, agreements, subscriptions, "
    "allowances, spend caps, services, workflow events and network requests (status UN)",
    params=("batch",),
    required=("batch",),
)

__all__ = ["JOB_NAME", "PROVISIONING", "RULES", "provision"]
