"""The two sides of a reconciliation, read from the Store as Arrow tables.

OCS side: every instance line of the Bill Cycle Change Response batches in scope. Engine side:
the live (not end-dated) allowances and spend caps of the subscriptions whose change those
batches answer, for changes still REQUESTED, each with the change's effective time. Both carry
the ordinal that pairs records sharing an OCS definition one to one (OCS copies of an instance
get the same ordinal, so they fold into one pair).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from engine.errors import NotFound, UsageError
from engine.reconcile.compare import ENGINE_SCHEMA, OCS_SCHEMA

BCC_RESPONSE = "Bill Cycle Change Response"

OCS_SQL = """
SELECT r.batch_id, r.line_no, r.actionItemNumber AS action_item_number, r.subscriptionId AS subscription_id,
       r.i.kind AS record_kind, r.i.ocsId AS ocs_id,
       dense_rank() OVER (PARTITION BY r.actionItemNumber, r.subscriptionId, r.i.kind, r.i.ocsId
                          ORDER BY r.i.ocsInstanceId) AS ordinal,
       r.i.ocsInstanceId AS ocs_instance_id, r.i.amount AS amount, r.i.unit AS unit,
       r.i.effectiveDateTime AS effective_at, r.i.expiryDateTime AS expiry_at
FROM (SELECT batch_id, line_no, actionItemNumber, subscriptionId, unnest(ocsInstances) AS i
      FROM stage_bcc_responses WHERE batch_id IN (SELECT unnest($batches::BIGINT[]))) r
"""

ENGINE_SQL = """
WITH changes AS (
    SELECT c.action_item_number, c.subscription_id, c.effective_at FROM bill_cycle_changes c
    WHERE c.status = 'REQUESTED'
      AND EXISTS (SELECT 1 FROM _rec_ocs o WHERE o.action_item_number = c.action_item_number
                                            AND o.subscription_id = c.subscription_id)
), records AS (
    SELECT c.action_item_number, c.subscription_id, 'ALLOWANCE' AS record_kind, a.ocs_id,
           a.allowance_id AS record_id, a.ocs_instance_id,
           CASE WHEN a.unlimited THEN 'inf'::DOUBLE ELSE a.amount::DOUBLE END AS amount, a.unit, c.effective_at
    FROM changes c JOIN allowances a USING (subscription_id) WHERE a.effective_to IS NULL
    UNION ALL
    SELECT c.action_item_number, c.subscription_id, 'SPEND_CAP', s.ocs_id, s.spend_cap_id, s.ocs_instance_id,
           s.amount::DOUBLE, s.unit, c.effective_at
    FROM changes c JOIN spend_caps s USING (subscription_id) WHERE s.effective_to IS NULL
)
SELECT *, row_number() OVER (PARTITION BY action_item_number, subscription_id, record_kind, ocs_id
                             ORDER BY ocs_instance_id NULLS LAST, record_id) AS ordinal
FROM records
"""


def batches_in_scope(con: duckdb.DuckDBPyConnection, batch: str | None) -> list[int]:
    """The response batches to compare: ``batch`` (if not compared yet), or all not compared."""
    if batch is None:
        rows = con.execute(
            "SELECT batch_id FROM batches WHERE batch_type = ? AND direction = 'Inbound' "
            "AND batch_id NOT IN (SELECT batch_id FROM reconciliation_batches) ORDER BY batch_id",
            [BCC_RESPONSE]).fetchall()  # fmt: skip
        return [r[0] for r in rows]
    if not str(batch).isdigit():
        raise UsageError(f"batch must be a batch id (a number), got {batch!r}",
                         hint="`cmpctl batches list` shows the batches")
    row = con.execute("SELECT batch_type, batch_id IN (SELECT batch_id FROM reconciliation_batches) "
                      "FROM batches WHERE batch_id = ?", [int(batch)]).fetchone()
    if row is None:
        raise NotFound(f"no batch {batch}", hint="`cmpctl batches list` shows the batches")
    if row[0] != BCC_RESPONSE:
        raise UsageError(f"batch {batch} is a {row[0]} batch, not a {BCC_RESPONSE}",
                         hint="reconciliation compares Bill Cycle Change Response batches")
    return [] if row[1] else [int(batch)]


def read_inputs(con: duckdb.DuckDBPyConnection, batches: list[int]) -> tuple[pa.Table, pa.Table]:
    """(engine side, OCS side) for these batches; leaves ``_rec_ocs`` registered for the writer."""
    con.complete()  # the runner's BEGIN left a result open; relations need a finished connection
    ocs = con.sql(OCS_SQL, params={"batches": batches}).to_arrow_table().cast(OCS_SCHEMA)
    con.register("_rec_ocs", ocs)
    engine = con.sql(ENGINE_SQL).to_arrow_table().select(ENGINE_SCHEMA.names).cast(ENGINE_SCHEMA)
    return engine, ocs


__all__ = ["BCC_RESPONSE", "ENGINE_SQL", "OCS_SQL", "batches_in_scope", "read_inputs"]
