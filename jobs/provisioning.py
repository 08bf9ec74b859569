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
from jobs import provisioning_batch, provisioning_rules
from jobs.helpers import drop_temp_tables, mark_batch_processed, require_batch
from jobs.provisioning_batch import flatten
from jobs.provisioning_create import create
from jobs.provisioning_rules import RULES, check

JOB_NAME = "provisioning"
ORDER_BATCH_TYPE = "Order"
_TEMPS = (*provisioning_batch.TEMP_TABLES, *provisioning_rules.TEMP_TABLES)


def provision(con: duckdb.DuckDBPyConnection, params: Mapping[str, str], ctx: JobContext) -> JobResult:
    """Provision every valid, not yet provisioned order of the batch ``params['batch']``."""
    batch_id = batch_param(params)
    require_batch(con, batch_id, ORDER_BATCH_TYPE, JOB_NAME)
    read = con.execute("SELECT count(*) FROM stage_orders WHERE batch_id = ?", [batch_id]).fetchone()[0]
    try:
        totals = flatten(con, batch_id)
        errors_by_rule = check(con, batch_id, ctx.now.date())
        errors = con.execute("SELECT count(DISTINCT line_no) FROM _prov_violations").fetchone()[0]
        made = create(con, batch_id, ctx.execution_id, totals, ctx.traceparent)
        mark_batch_processed(con, batch_id, JOB_NAME, ctx.execution_id)
    finally:
        drop_temp_tables(con, _TEMPS)
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



PROVISIONING = JobSpec(
    JOB_NAME,
    provision,
    "Provision the valid orders of an Order batch: customers, accounts, agreements, subscriptions, "
    "allowances, spend caps, services, workflow events and network requests (status UN)",
    params=("batch",),
    required=("batch",),
)

__all__ = ["JOB_NAME", "PROVISIONING", "RULES", "provision"]
