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


def overview(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What the engine holds: subscriptions by status, and those waiting for a future activation."""
    by_status = dict(cur.execute("SELECT status, count(*) FROM subscriptions GROUP BY ALL ORDER BY 1").fetchall())
    delayed = cur.execute(
        "SELECT count(*) FROM network_requests WHERE status = 'UN' AND not_before > now()").fetchone()[0]
    return {"subscriptions": by_status, "delayed_activations": delayed}


def bill_cycle_candidates(cur: duckdb.DuckDBPyConnection, day: int, limit: int) -> list[str]:
    """Agreements a bill cycle change to ``day`` applies to: a monthly cycle on another day and
    every subscription CONNECTED and POSTPAID (the job refuses the others, with reasons)."""
    cur.execute(
        """
        SELECT a.agreement_id FROM agreements a JOIN subscriptions s USING (agreement_id)
        WHERE a.bill_cycle_day IS NOT NULL AND a.bill_cycle_day <> ?
        GROUP BY a.agreement_id
        HAVING bool_and(s.status = 'CONNECTED' AND s.pay_mode = 'POSTPAID')
        ORDER BY a.agreement_id LIMIT ?
        """, [day, limit])
    return [row[0] for row in cur.fetchall()]
