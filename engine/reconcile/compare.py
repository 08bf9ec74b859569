"""Compare one partition of the two sides of a reconciliation, in its own in-memory DuckDB.

Both inputs are Arrow tables (schemas below). A record is identified on both sides by
(action item, subscription, kind, OCS definition id, ordinal): the ordinal numbers the records
of one subscription that share an OCS definition (rare, but the OCS allows it), so that pairs
are made one to one instead of all-by-all. The OCS side may list an instance twice; copies
are folded into one (``copies`` counts them) before the join, and reported by the writer.

The output is one row per pair: its class and the two records' ids. The Store reads both sides'
fields back for the few pairs it reports (building that here for every pair cost up to 7x).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

MATCHED = "MATCHED"
MISSING_IN_OCS = "MISSING_IN_OCS"
MISSING_IN_ENGINE = "MISSING_IN_ENGINE"
AMOUNT_DIFFERS = "AMOUNT_DIFFERS"
DATE_DIFFERS = "DATE_DIFFERS"
DUPLICATE_IN_OCS = "DUPLICATE_IN_OCS"
#: every class, by its code in the outcome (a small integer: a class name per pair cost ~15% of
#: the comparison); DUPLICATE_IN_OCS comes on top of a pair's class when copies > 1
CLASSES = (MATCHED, MISSING_IN_OCS, MISSING_IN_ENGINE, AMOUNT_DIFFERS, DATE_DIFFERS, DUPLICATE_IN_OCS)
CODE = {name: code for code, name in enumerate(CLASSES)}

_TIME = pa.timestamp("us", tz="UTC")

#: the engine's live allowance / spend-cap records of the subscriptions whose change was answered
ENGINE_SCHEMA = pa.schema([
    ("action_item_number", pa.int64()), ("subscription_id", pa.string()), ("record_kind", pa.string()),
    ("ocs_id", pa.string()), ("ordinal", pa.int64()), ("record_id", pa.string()),
    ("ocs_instance_id", pa.string()), ("amount", pa.float64()),  # +inf: unlimited
    ("unit", pa.string()), ("effective_at", _TIME),  # when the change takes effect
])  # fmt: skip

#: the OCS's new instances, one row per instance line of a loaded response batch
OCS_SCHEMA = pa.schema([
    ("batch_id", pa.int64()), ("line_no", pa.int64()),
    ("action_item_number", pa.int64()), ("subscription_id", pa.string()), ("record_kind", pa.string()),
    ("ocs_id", pa.string()), ("ordinal", pa.int64()), ("ocs_instance_id", pa.string()),
    ("amount", pa.float64()), ("unit", pa.string()), ("effective_at", _TIME), ("expiry_at", _TIME),
])  # fmt: skip

#: one row per compared pair: its class and the records paired (the OCS one's first line)
OUTCOME_SCHEMA = pa.schema([
    ("class", pa.int8()), ("copies", pa.int64()), ("action_item_number", pa.int64()),
    ("record_kind", pa.string()), ("record_id", pa.string()), ("new_instance_id", pa.string()),
    ("effective_at", _TIME), ("batch_id", pa.int64()),
    # only for reported pairs (class other than MATCHED, or copies > 1):
    ("subscription_id", pa.string()), ("ocs_id", pa.string()),
])  # fmt: skip

_REPORTED = f"(class <> {CODE[MATCHED]} OR copies > 1)"  # pairs the Store writes a discrepancy for
# Money and volumes carry 2 decimals (FORMATS.md); +inf (unlimited) equals only itself.
_AMOUNT_DIFFERS = "(round(e.amount, 2) IS DISTINCT FROM round(o.amount, 2) OR e.unit IS DISTINCT FROM o.unit)"

COMPARE_SQL = f"""
WITH dup AS (
    -- instances listed more than once; grouped by a hash first (an integer key is ~3x cheaper
    -- to group than the id), then only the few candidates are checked by their real id
    SELECT hash(ocs_instance_id) AS h FROM ocs GROUP BY h HAVING count(*) > 1
), o AS (
    SELECT ocs.*, 1::BIGINT AS copies FROM ocs WHERE hash(ocs_instance_id) NOT IN (SELECT h FROM dup)
    UNION ALL
    -- a listed-twice instance is one instance (its first line counts), seen `copies` times
    SELECT *, count(*) OVER (PARTITION BY ocs_instance_id) AS copies
    FROM ocs WHERE hash(ocs_instance_id) IN (SELECT h FROM dup)
    QUALIFY row_number() OVER (PARTITION BY ocs_instance_id ORDER BY batch_id, line_no) = 1
), pairs AS (
    SELECT e.action_item_number AS e_ain, e.subscription_id AS e_sub, e.record_kind AS e_kind,
           e.ocs_id AS e_ocs_id, e.record_id,
           o.action_item_number AS o_ain, o.subscription_id AS o_sub, o.record_kind AS o_kind,
           o.ocs_id AS o_ocs_id, o.ocs_instance_id AS o_inst, o.effective_at AS o_at, o.batch_id, o.copies,
           CASE WHEN o.ocs_instance_id IS NULL THEN {CODE[MISSING_IN_OCS]}
                WHEN e.record_id IS NULL THEN {CODE[MISSING_IN_ENGINE]}
                WHEN {_AMOUNT_DIFFERS} THEN {CODE[AMOUNT_DIFFERS]}
                WHEN e.effective_at IS DISTINCT FROM o.effective_at THEN {CODE[DATE_DIFFERS]}
                ELSE {CODE[MATCHED]} END::TINYINT AS class
    FROM engine e FULL OUTER JOIN o
      ON e.action_item_number = o.action_item_number AND e.subscription_id = o.subscription_id
     AND e.record_kind = o.record_kind AND e.ocs_id = o.ocs_id AND e.ordinal = o.ordinal
)
SELECT class, coalesce(copies, 0) AS copies, coalesce(e_ain, o_ain) AS action_item_number,
       coalesce(e_kind, o_kind) AS record_kind, record_id, o_inst AS new_instance_id, o_at AS effective_at,
       batch_id,
       -- where the Store reports the pair, the rest of its key (it reads both sides' fields back
       -- by record and instance id: carrying them for every pair cost a third of the time)
       CASE WHEN {_REPORTED} THEN coalesce(e_sub, o_sub) END AS subscription_id,
       CASE WHEN {_REPORTED} THEN coalesce(e_ocs_id, o_ocs_id) END AS ocs_id
FROM pairs
"""


def compare(engine: pa.Table, ocs: pa.Table, *, threads: int | None = None) -> pa.Table:
    """Classify every pair of one partition; returns an :data:`OUTCOME_SCHEMA` table.

    ``threads`` caps DuckDB's threads (a Ray partition gets 1 CPU); None lets it use all.
    """
    con = duckdb.connect(":memory:")
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.register("engine", engine.select(ENGINE_SCHEMA.names).cast(ENGINE_SCHEMA))
        con.register("ocs", ocs.select(OCS_SCHEMA.names).cast(OCS_SCHEMA))
        return con.sql(COMPARE_SQL).to_arrow_table().cast(OUTCOME_SCHEMA)
    finally:
        con.close()


__all__ = ["AMOUNT_DIFFERS", "CLASSES", "CODE", "COMPARE_SQL", "DATE_DIFFERS", "DUPLICATE_IN_OCS", "ENGINE_SCHEMA",
           "MATCHED", "MISSING_IN_ENGINE", "MISSING_IN_OCS", "OCS_SCHEMA", "OUTCOME_SCHEMA", "compare"]
