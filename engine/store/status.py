"""The engine's state in one read-only snapshot (``cmpctl status``): daemons, queues, jobs, alerts."""

from __future__ import annotations

from typing import Any

import duckdb

from engine.store.audit import _rows
from engine.transmission.operator import queue_depths


def snapshot(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Daemons with state and last poll, request counts by target and status, running jobs, firing alerts."""
    daemons = _rows(cur.execute(
        "SELECT name, daemon_type, category, activity, state, last_poll_at, last_error, updated_at "
        "FROM daemons ORDER BY name"))
    running = _rows(cur.execute(
        "SELECT execution_id, job, trigger, idempotency_key, batch_id, started_at FROM job_executions "
        "WHERE status = 'RUNNING' ORDER BY execution_id"))
    alerts = _rows(cur.execute(
        "SELECT alert_id, probe, subject, severity, value, message, fired_at FROM alerts "
        "WHERE state = 'firing' ORDER BY fired_at, alert_id"))
    return {"daemons": daemons, "queue_depths": queue_depths(cur), "running_jobs": running, "alerts": alerts}
