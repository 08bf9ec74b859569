"""What one reconciliation execution found: discrepancies by class, and the first N of them."""

from __future__ import annotations

import json
from typing import Any

import duckdb


def discrepancy_report(con: duckdb.DuckDBPyConnection, execution_id: int, limit: int = 0) -> dict[str, Any]:
    by_class = dict(con.execute(
        "SELECT discrepancy, count(*) FROM reconciliation_discrepancies WHERE execution_id = ? "
        "GROUP BY ALL ORDER BY 1", [execution_id]).fetchall())  # fmt: skip
    first: list[dict[str, Any]] = []
    if limit > 0:
        cur = con.execute(
            "SELECT discrepancy, subscription_id, action_item_number, record_kind, ocs_id, batch_id, "
            "engine_side, ocs_side FROM reconciliation_discrepancies WHERE execution_id = ? "
            "ORDER BY subscription_id, record_kind, ocs_id, discrepancy LIMIT ?", [execution_id, limit])
        cols = [d[0] for d in cur.description]
        for row in cur.fetchall():
            doc = dict(zip(cols, row))
            for side in ("engine_side", "ocs_side"):
                doc[side] = json.loads(doc[side]) if doc[side] is not None else None
            first.append(doc)
    return {"by_class": by_class, "total": sum(by_class.values()), "first": first}


__all__ = ["discrepancy_report"]
