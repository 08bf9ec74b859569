"""A batch job run by the clock: every committed batch still waiting for it, in one execution.

Jobs such as provisioning take one ``batch``; load commits record a PENDING
``batch_triggers`` row per batch, and the load daemon asks the Store to run them. A scheduled
run without a ``batch`` parameter is the safety net behind that path: it runs the job over each
batch whose trigger for this job is still PENDING, oldest first, inside the one transaction
the job runner opened (each batch's job marks its trigger DONE, so nothing runs twice, and a
later trigger run finds nothing to do).
"""

from __future__ import annotations

from typing import Mapping

import duckdb

from engine.jobs import BATCH_PARAM, JobContext, JobResult, JobSpec


def needs_sweep(spec: JobSpec, params: Mapping[str, str]) -> bool:
    return BATCH_PARAM in spec.required and BATCH_PARAM not in params


def pending_batches(con: duckdb.DuckDBPyConnection, job: str) -> list[int]:
    rows = con.execute("SELECT batch_id FROM batch_triggers WHERE job = ? AND status = 'PENDING' ORDER BY batch_id",
                       [job]).fetchall()
    return [r[0] for r in rows]


def sweep_spec(spec: JobSpec) -> JobSpec:
    """``spec`` over all its pending batches (same name, so executions list under the job)."""

    def sweep(con: duckdb.DuckDBPyConnection, params: Mapping[str, str], ctx: JobContext) -> JobResult:
        batches = pending_batches(con, spec.name)
        total = JobResult(details={"mode": "all pending batches", "batches": batches, "per_batch": {}})
        for batch_id in batches:
            r = spec.fn(con, {**params, BATCH_PARAM: str(batch_id)}, ctx)
            total.read, total.ok, total.error = total.read + r.read, total.ok + r.ok, total.error + r.error
            total.details["per_batch"][str(batch_id)] = {"read": r.read, "ok": r.ok, "error": r.error}
        total.batch_id = batches[0] if len(batches) == 1 else None
        return total

    return JobSpec(spec.name, sweep, f"{spec.description} (every batch still pending)",
                   params=tuple(p for p in spec.params if p != BATCH_PARAM),
                   required=tuple(p for p in spec.required if p != BATCH_PARAM))


__all__ = ["BATCH_PARAM", "needs_sweep", "pending_batches", "sweep_spec"]
