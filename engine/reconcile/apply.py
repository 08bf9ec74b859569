"""Write a reconciliation's outcome into the Store, and re-point matched records when due.

Runs on the job's connection, inside its transaction: discrepancies (with both sides as
JSON), pending matches, the batches compared and the changes answered commit together with
the execution, or not at all. Re-pointing never overwrites a record: the old allowance or
spend cap is end-dated at the effective time and a new row carries the new OCS instance.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from engine.reconcile.compare import CLASSES, CODE, DUPLICATE_IN_OCS, MATCHED

_AMOUNT = "CASE WHEN isinf({0}) THEN '\"UNLIMITED\"'::JSON ELSE to_json({0}) END"
_TIME = "strftime({0} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')"
_CLASS_NAME = "CASE d.class " + " ".join(f"WHEN {CODE[c]} THEN '{c}'" for c in CLASSES) + " END"

# One row per discrepancy: every non-matched pair, plus one DUPLICATE_IN_OCS per instance the
# OCS listed more than once (whatever its pair's class). Both sides' fields are read back here,
# for these few pairs only: the engine record by its id (expected date: its change's), the OCS
# instance by its id (its first line). A pair missing in the OCS takes the batch that answered.
_DISCREPANCIES = f"""
INSERT INTO reconciliation_discrepancies (execution_id, batch_id, action_item_number, subscription_id, ocs_id,
                                          record_kind, discrepancy, engine_side, ocs_side, found_at)
WITH d AS (
    SELECT * FROM _rec_out WHERE class <> {CODE[MATCHED]}
    UNION ALL
    SELECT * REPLACE ({CODE[DUPLICATE_IN_OCS]}::TINYINT AS class) FROM _rec_out WHERE copies > 1
), e AS (
    SELECT allowance_id AS record_id, ocs_instance_id, CASE WHEN unlimited THEN 'inf'::DOUBLE ELSE amount END AS amount,
           unit FROM allowances WHERE allowance_id IN (SELECT record_id FROM d)
    UNION ALL
    SELECT spend_cap_id, ocs_instance_id, amount, unit FROM spend_caps WHERE spend_cap_id IN (SELECT record_id FROM d)
), o AS (
    SELECT ocs_instance_id, arg_min(amount, (batch_id, line_no)) AS amount, arg_min(unit, (batch_id, line_no)) AS unit,
           arg_min(expiry_at, (batch_id, line_no)) AS expiry_at, arg_min(line_no, (batch_id, line_no)) AS line_no
    FROM _rec_ocs WHERE ocs_instance_id IN (SELECT new_instance_id FROM d) GROUP BY ALL
)
SELECT $execution, coalesce(d.batch_id, a.batch_id), d.action_item_number, d.subscription_id, d.ocs_id,
       d.record_kind, {_CLASS_NAME},
       CASE WHEN d.record_id IS NOT NULL THEN json_object(
           'recordId', d.record_id, 'ocsId', d.ocs_id, 'ocsInstanceId', e.ocs_instance_id,
           'amount', {_AMOUNT.format("e.amount::DOUBLE")}, 'unit', e.unit,
           'effectiveDateTime', {_TIME.format("c.effective_at")}) END,
       CASE WHEN d.new_instance_id IS NOT NULL THEN json_object(
           'ocsId', d.ocs_id, 'ocsInstanceId', d.new_instance_id, 'kind', d.record_kind,
           'amount', {_AMOUNT.format("o.amount")}, 'unit', o.unit,
           'effectiveDateTime', {_TIME.format("d.effective_at")}, 'expiryDateTime', {_TIME.format("o.expiry_at")},
           'batchId', d.batch_id, 'lineNo', o.line_no, 'copies', d.copies) END,
       $now
FROM d
LEFT JOIN e USING (record_id)
LEFT JOIN o ON o.ocs_instance_id = d.new_instance_id
LEFT JOIN bill_cycle_changes c ON c.action_item_number = d.action_item_number AND d.record_id IS NOT NULL
LEFT JOIN (SELECT action_item_number, min(batch_id) AS batch_id FROM _rec_ocs GROUP BY ALL) a
       ON a.action_item_number = d.action_item_number
"""

_MATCHES = f"""
INSERT INTO reconciliation_matches (execution_id, batch_id, action_item_number, record_kind, record_id,
                                    new_instance_id, effective_at)
SELECT $execution, batch_id, action_item_number, record_kind, record_id, new_instance_id, effective_at
FROM _rec_out WHERE class = {CODE[MATCHED]}
"""

_ANSWERED = """
UPDATE bill_cycle_changes SET status = 'ANSWERED'
WHERE status = 'REQUESTED'
  AND EXISTS (SELECT 1 FROM _rec_ocs o WHERE o.action_item_number = bill_cycle_changes.action_item_number
                                        AND o.subscription_id = bill_cycle_changes.subscription_id)
"""

# (kind, table, id column, id prefix, sequence, the columns copied to the new row)
_TABLES = (
    ("ALLOWANCE", "allowances", "allowance_id", "ALW-", "seq_allowance",
     "subscription_id, allowance_type, amount, unlimited, unit, recurring, ocs_id"),
    ("SPEND_CAP", "spend_caps", "spend_cap_id", "CAP-", "seq_spend_cap",
     "subscription_id, kind, scope, amount, unit, enabled, ocs_id"),
)


def write_outcome(con: duckdb.DuckDBPyConnection, outcomes: pa.Table, batches: list[int], *,
                  execution_id: int, now: datetime) -> None:
    """Store the compared pairs (``_rec_ocs`` must still be registered) and mark what was answered."""
    # (not unregistered on failure: that would hide the error behind "transaction aborted")
    con.register("_rec_out", outcomes)
    params = {"execution": execution_id, "now": now}
    con.execute(_DISCREPANCIES, params)
    con.execute(_MATCHES, {"execution": execution_id})
    con.execute("INSERT INTO reconciliation_batches (batch_id, execution_id, compared_at) "
                "SELECT unnest($batches::BIGINT[]), $execution, $now", {**params, "batches": batches})
    con.execute(_ANSWERED)
    con.unregister("_rec_out")


def repoint_due(con: duckdb.DuckDBPyConnection, *, execution_id: int, now: datetime) -> dict[str, int]:
    """Re-point every pending match whose effective time has come; counts by record kind."""
    done: dict[str, int] = {}
    for kind, table, id_col, prefix, sequence, columns in _TABLES:
        due = f"_rec_due_{table}"
        # The new ids are drawn once, here, so the new row and the match agree on them.
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {due} AS
            SELECT m.record_id, m.new_instance_id, m.effective_at, '{prefix}' || nextval('{sequence}') AS new_record_id
            FROM reconciliation_matches m JOIN {table} r ON r.{id_col} = m.record_id
            WHERE m.status = 'PENDING' AND m.record_kind = '{kind}' AND m.effective_at <= $now
              AND r.effective_to IS NULL
        """, {"now": now})  # fmt: skip
        count = con.execute(f"SELECT count(*) FROM {due}").fetchone()[0]
        if count:
            con.execute(f"""
                INSERT INTO {table} ({id_col}, {columns}, ocs_instance_id, effective_from, created_at)
                SELECT d.new_record_id, {', '.join('r.' + c.strip() for c in columns.split(','))},
                       d.new_instance_id, d.effective_at, $now
                FROM {due} d JOIN {table} r ON r.{id_col} = d.record_id
            """, {"now": now})  # fmt: skip
            con.execute(f"UPDATE {table} SET effective_to = d.effective_at FROM {due} d "
                        f"WHERE {table}.{id_col} = d.record_id")
            con.execute(f"""
                UPDATE reconciliation_matches SET status = 'REPOINTED', new_record_id = d.new_record_id,
                       repointed_execution_id = $execution, repointed_at = $now
                FROM {due} d
                WHERE reconciliation_matches.status = 'PENDING' AND reconciliation_matches.record_kind = '{kind}'
                  AND reconciliation_matches.record_id = d.record_id
            """, {"execution": execution_id, "now": now})  # fmt: skip
        done[kind] = count
        con.execute(f"DROP TABLE {due}")  # (on failure the rollback drops it)
    return done


def close_changes(con: duckdb.DuckDBPyConnection, *, now: datetime) -> dict[str, int]:
    """Close every answered change that took effect and has no matched record left to re-point.

    RECONCILED when the OCS and the engine agreed on all of it; DISCREPANT when any discrepancy
    names it: what matched was re-pointed, the rest waits for an operator (its discrepancies
    show both sides, `cmpctl jobs show EXEC --discrepancies N`).
    Returns how many changes closed, by status.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _rec_closing AS
        SELECT c.action_item_number,
               CASE WHEN EXISTS (SELECT 1 FROM reconciliation_discrepancies d
                                 WHERE d.action_item_number = c.action_item_number)
                    THEN 'DISCREPANT' ELSE 'RECONCILED' END AS status
        FROM bill_cycle_changes c
        WHERE c.status = 'ANSWERED' AND c.effective_at <= $now
          AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m
                          WHERE m.action_item_number = c.action_item_number AND m.status = 'PENDING')
    """, {"now": now})  # fmt: skip
    con.execute("UPDATE bill_cycle_changes SET status = k.status FROM _rec_closing k "
                "WHERE bill_cycle_changes.action_item_number = k.action_item_number")
    closed = dict(con.execute("SELECT status, count(*) FROM _rec_closing GROUP BY ALL").fetchall())
    con.execute("DROP TABLE _rec_closing")
    return {status: closed.get(status, 0) for status in ("RECONCILED", "DISCREPANT")}


def pending_matches(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM reconciliation_matches WHERE status = 'PENDING'").fetchone()[0]


__all__ = ["close_changes", "pending_matches", "repoint_due", "write_outcome"]
