"""Read-only audit queries over batches, files and their errors (``cmpctl batches``)."""

from __future__ import annotations

from typing import Any

import duckdb

_BATCH_COLUMNS = """
    b.batch_id, b.category, b.batch_type, b.direction, b.stage, b.stage_at, b.records,
    b.valid_records, b.error_records, b.created_at, f.name AS file_name, f.identifier,
    f.sha256, f.daemon, b.trace_id
"""


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def list_batches(cur: duckdb.DuckDBPyConnection, limit: int) -> list[dict[str, Any]]:
    cur.execute(
        f"SELECT {_BATCH_COLUMNS} FROM batches b LEFT JOIN files f USING (file_id) "
        "ORDER BY b.batch_id DESC LIMIT ?",
        [limit],
    )
    return _rows(cur)


def show_batch(cur: duckdb.DuckDBPyConnection, batch_id: int, errors: int) -> dict[str, Any] | None:
    cur.execute(
        f"SELECT {_BATCH_COLUMNS} FROM batches b LEFT JOIN files f USING (file_id) WHERE b.batch_id = ?",
        [batch_id],
    )
    rows = _rows(cur)
    if not rows:
        return None
    batch = rows[0]
    cur.execute(
        "SELECT job, status, execution_id FROM batch_triggers WHERE batch_id = ? ORDER BY job", [batch_id]
    )
    batch["triggers"] = _rows(cur)
    if errors:
        cur.execute(
            "SELECT line_no, record_key, reasons, raw, source FROM batch_errors "
            "WHERE batch_id = ? ORDER BY line_no LIMIT ?",
            [batch_id, errors],
        )
        batch["errors"] = _rows(cur)
    return batch
