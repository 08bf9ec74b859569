"""Batch staging tables: the valid records of inbound batches, typed as their Arrow schema.

One table per inbound interfaceType, created by a migration from the record type's explicit
Arrow schema, so that shards insert their Arrow tables as they are (``INSERT … BY NAME``).
``shard_no`` lets the Store turn shard-local line numbers into file line numbers at commit.
No index: batches are inserted contiguously, so DuckDB's zone maps already skip other
batches, and an ART index would slow every bulk insert.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from engine.generic.record_types import record_type

#: interfaceType -> staging table, for the types a Load daemon takes.
STAGE_TABLES: dict[str, str] = {
    "Order": "stage_orders",
    "Response": "stage_responses",
    "Bill Cycle Change Response": "stage_bcc_responses",
}


def create_staging_tables(con: duckdb.DuckDBPyConnection) -> None:
    for interface_type, table in STAGE_TABLES.items():
        schema = record_type(interface_type).arrow_schema
        empty = pa.schema([pa.field("line_no", pa.int64()), *schema]).empty_table()
        con.register("empty_records", empty)
        try:
            con.execute(
                f"CREATE TABLE {table} AS SELECT NULL::BIGINT AS batch_id, NULL::INTEGER AS shard_no, * "
                "FROM empty_records WITH NO DATA"
            )
        finally:
            con.unregister("empty_records")
