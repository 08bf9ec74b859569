"""Running one job execution and recording it in ``job_executions`` (in the Store's process).

The job's writes and its SUCCEEDED row commit in one transaction; on failure they roll back
and a FAILED row with the reason is committed instead. A run with an idempotency key the
engine has seen returns the earlier execution instead of running again.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping

import duckdb

from engine import telemetry
from engine.errors import EngineError, JobError, NotFound
from engine.jobs.spec import BATCH_PARAM, JobContext, JobSpec, check_params


def run_job(
    con: duckdb.DuckDBPyConnection,
    spec: JobSpec,
    params: Mapping[str, str],
    *,
    trigger: str = "manual",
    key: str | None = None,
    trace_id: str | None = None,
    slot_id: str | None = None,
    now: datetime | None = None,
    traceparent: str | None = None,
) -> dict[str, Any]:
    """Run one execution of ``spec`` and record it; a known ``key`` returns the earlier run.

    The execution is a span "job <name>" (child of ``traceparent``, e.g. the CLI's); its trace
    id is stored on the row.
    """
    with telemetry.span(f"job {spec.name}", parent=traceparent,
                        attributes={"cmp.job": spec.name, "cmp.trigger": trigger}) as s:
        doc = _run_job(con, spec, params, trigger=trigger, key=key, trace_id=telemetry.trace_id_of(s) or trace_id,
                       slot_id=slot_id, now=now, traceparent=telemetry.inject() or traceparent)
        telemetry.set_attributes(s, {"cmp.execution_id": doc.get("execution_id"), "cmp.status": doc.get("status"),
                                     "cmp.existing": bool(doc.get("existing")),
                                     "cmp.records_read": doc.get("records_read"),
                                     "cmp.records_error": doc.get("records_error")})
        return doc


def _run_job(con: duckdb.DuckDBPyConnection, spec: JobSpec, params: Mapping[str, str], *, trigger: str,
             key: str | None, trace_id: str | None, slot_id: str | None, now: datetime | None,
             traceparent: str | None) -> dict[str, Any]:
    check_params(spec, params)
    if key:
        found = execution_id_by_key(con, key)
        if found is not None:
            return execution(con, found) | {"existing": True}
    now = now or datetime.now(timezone.utc)
    execution_id = _one(con, "SELECT nextval('seq_execution')")
    raw_batch = str(params.get(BATCH_PARAM, ""))
    batch_id = int(raw_batch) if raw_batch.isdigit() else None
    con.execute(
        "INSERT INTO job_executions (execution_id, job, idempotency_key, params, status, trigger, batch_id, "
        "slot_id, trace_id, started_at) VALUES (?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?, ?)",
        [execution_id, spec.name, key, json.dumps(dict(params)), trigger, batch_id, slot_id, trace_id, now],
    )
    ctx = JobContext(execution_id, now, trace_id, traceparent)
    con.execute("BEGIN TRANSACTION")
    try:
        result = spec.fn(con, params, ctx)
        con.execute(
            "UPDATE job_executions SET status = 'SUCCEEDED', ended_at = now(), records_read = ?, records_ok = ?, "
            "records_error = ?, batch_id = coalesce(?, batch_id), result = ? WHERE execution_id = ?",
            [result.read, result.ok, result.error, result.batch_id, json.dumps(result.details, default=str),
             execution_id],
        )
        con.execute("COMMIT")
    except Exception as exc:
        con.execute("ROLLBACK")
        reason = str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
        con.execute(
            "UPDATE job_executions SET status = 'FAILED', ended_at = now(), error = ? WHERE execution_id = ?",
            [reason, execution_id],
        )
        if isinstance(exc, EngineError):
            raise
        raise JobError(f"job {spec.name} (execution {execution_id}) failed: {reason}",
                       hint="`cmpctl jobs show` has the details") from exc
    return execution(con, execution_id)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def execution_id_by_key(con: duckdb.DuckDBPyConnection, key: str) -> int | None:
    """The execution that ran under idempotency key ``key``, if any."""
    row = con.execute("SELECT execution_id FROM job_executions WHERE idempotency_key = ?", [key]).fetchone()
    return int(row[0]) if row else None


def execution(con: duckdb.DuckDBPyConnection, execution_id: int) -> dict[str, Any]:
    """One ``job_executions`` row as a dict (params and result parsed); NotFound if there is none."""
    cur = con.execute("SELECT * FROM job_executions WHERE execution_id = ?", [execution_id])
    cols = [d[0] for d in cur.description]
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"no job execution {execution_id}")
    doc = dict(zip(cols, row))
    for k in ("params", "result"):
        if isinstance(doc.get(k), str):
            doc[k] = json.loads(doc[k])
    return doc


__all__ = ["execution", "execution_id_by_key", "run_job"]
