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

import os
import threading

import duckdb
import numpy as np
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
WITH o AS (
    -- `ocs` carries `_listed_twice` (see split_listed_twice): the other lines pass as they are,
    -- and the few candidate lines (`ocs_twice`) are folded by their real id
    SELECT * EXCLUDE (_listed_twice), 1::BIGINT AS copies FROM ocs WHERE NOT _listed_twice
    UNION ALL
    -- a listed-twice instance is one instance (its first line counts), seen `copies` times
    SELECT *, count(*) OVER (PARTITION BY ocs_instance_id) AS copies FROM ocs_twice
    QUALIFY row_number() OVER (PARTITION BY ocs_instance_id ORDER BY batch_id, line_no) = 1
), pairs AS (
    SELECT e.action_item_number AS e_ain, e.subscription_id AS e_sub, e.record_kind AS e_kind,
           e.ocs_id AS e_ocs_id, e.record_id,
           o.action_item_number AS o_ain, o.subscription_id AS o_sub, o.record_kind AS o_kind,
           o.ocs_id AS o_ocs_id, o.ocs_instance_id AS o_inst, o.effective_at AS o_at, o.batch_id, o.copies,
           CASE WHEN o.ocs_instance_id IS NULL THEN {CODE[MISSING_IN_OCS]}
                WHEN e.record_id IS NULL THEN {CODE[MISSING_IN_ENGINE]}
                -- the usual case first, by plain equality: CASE evaluates the rest (rounding)
                -- only for the rows left, and this one answers as they would
                WHEN e.amount = o.amount AND e.unit = o.unit AND e.effective_at = o.effective_at
                     THEN {CODE[MATCHED]}
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


def split_listed_twice(con: duckdb.DuckDBPyConnection, ocs: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(``ocs`` with a ``_listed_twice`` flag column, the flagged lines) for :data:`COMPARE_SQL`.

    Every line of an instance listed more than once is flagged, and a few others (hash
    collisions): folding a line by its real id changes nothing when it is listed once. In
    numpy (sort the 64-bit hashes, then look each line's up in a bitmap of the repeated ones)
    this costs ~0.1 s at 2M lines; DuckDB's GROUP BY over ~all-distinct keys plus a second
    scan of every column to pick the lines cost ~0.5 s, a third of the comparison.
    """
    con.register("_ocs_ids", ocs.select(["ocs_instance_id"]))
    # (preserve_insertion_order, DuckDB's default: the hashes come in the table's row order)
    hashes = con.sql("SELECT hash(ocs_instance_id) AS h FROM _ocs_ids").to_arrow_table()["h"].to_numpy()
    con.unregister("_ocs_ids")
    ordered = np.sort(hashes)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if repeated.size:
        # a bitmap over the low bits (2-4x the lines): a lookup per line, few false positives
        low = np.uint64((1 << min(26, max(10, int(hashes.size).bit_length() + 1))) - 1)
        bitmap = np.zeros(int(low) + 1, dtype=bool)
        bitmap[(repeated & low).astype(np.intp)] = True
        flag = bitmap[(hashes & low).astype(np.intp)]
    else:
        flag = np.zeros(hashes.size, dtype=bool)
    flag = pa.array(flag)
    # (filter, not take: take concatenates a chunked table's columns first, ~3x slower here)
    return ocs.append_column("_listed_twice", flag), ocs.filter(flag)


# One in-memory DuckDB per process and thread cap, a new connection (cursor) per comparison:
# opening and closing a database each time cost ~0.15 s of ~1 s at 2M rows.
# (keyed by process id too: a forked child must not use its parent's database and threads)
_DATABASES: dict[tuple[int, int | None], duckdb.DuckDBPyConnection] = {}
_DATABASES_LOCK = threading.Lock()


def _connection(threads: int | None) -> duckdb.DuckDBPyConnection:
    key = (os.getpid(), int(threads) if threads else None)
    with _DATABASES_LOCK:
        if key not in _DATABASES:
            db = duckdb.connect(":memory:")
            if key[1]:
                db.execute(f"SET threads = {key[1]}")  # (a setting of the database, not the cursor)
            _DATABASES[key] = db
        return _DATABASES[key].cursor()


def compare(engine: pa.Table, ocs: pa.Table, *, threads: int | None = None) -> pa.Table:
    """Classify every pair of one partition; returns an :data:`OUTCOME_SCHEMA` table.

    ``threads`` caps DuckDB's threads (a Ray partition gets 1 CPU); None lets it use all.
    """
    con = _connection(threads)
    try:
        con.register("engine", engine.select(ENGINE_SCHEMA.names).cast(ENGINE_SCHEMA))
        flagged, twice = split_listed_twice(con, ocs.select(OCS_SCHEMA.names).cast(OCS_SCHEMA))
        con.register("ocs", flagged)
        con.register("ocs_twice", twice)
        return con.sql(COMPARE_SQL).to_arrow_table().cast(OUTCOME_SCHEMA)
    finally:
        con.close()


__all__ = ["AMOUNT_DIFFERS", "CLASSES", "CODE", "COMPARE_SQL", "DATE_DIFFERS", "DUPLICATE_IN_OCS", "ENGINE_SCHEMA",
           "MATCHED", "MISSING_IN_ENGINE", "MISSING_IN_OCS", "OCS_SCHEMA", "OUTCOME_SCHEMA", "compare",
           "split_listed_twice"]
