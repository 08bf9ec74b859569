"""What a job is, how it is registered, and how one execution is recorded.

A job is a plain function ``(con, params, ctx) -> JobResult`` that runs set-based SQL on the
connection it is given, inside the transaction the runner opened: either all of its writes
commit together with the execution row, or none do. Jobs must be safe to run twice on the
same input (the second run creates nothing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import duckdb

from engine import telemetry
from engine.errors import EngineError, JobError, UsageError


@dataclass(frozen=True)
class JobContext:
    execution_id: int
    now: datetime
    trace_id: str | None = None
    traceparent: str | None = None  # the job's span, for work it hands on (network requests)


@dataclass
class JobResult:
    read: int = 0
    ok: int = 0
    error: int = 0
    batch_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


JobFn = Callable[[duckdb.DuckDBPyConnection, Mapping[str, str], JobContext], JobResult]


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: JobFn
    description: str
    params: tuple[str, ...] = ()  # accepted parameter names
    required: tuple[str, ...] = ()


class JobRegistry:
    def __init__(self) -> None:
        self._jobs: dict[str, JobSpec] = {}

    def register(self, spec: JobSpec) -> JobSpec:
        if spec.name in self._jobs:
            raise ValueError(f"job {spec.name!r} is already registered")
        self._jobs[spec.name] = spec
        return spec

    def get(self, name: str) -> JobSpec:
        try:
            return self._jobs[name]
        except KeyError:
            raise UsageError(f"unknown job {name!r}", hint=f"known jobs: {', '.join(sorted(self._jobs))}") from None

    def __iter__(self):
        return iter(sorted(self._jobs.values(), key=lambda s: s.name))

    def names(self) -> set[str]:
        return set(self._jobs)


def batch_param(params: Mapping[str, str]) -> int:
    """The ``batch`` parameter as a batch id, or a UsageError saying what it must be."""
    raw = str(params.get("batch", "")).strip()
    if not raw.isdigit():
        raise UsageError(f"batch must be a batch id (a positive whole number), not {raw!r}",
                         hint="`cmpctl batches list` shows the batch ids")
    return int(raw)


def require_batch(con: duckdb.DuckDBPyConnection, batch_id: int, batch_type: str, job: str) -> None:
    """Check that ``batch_id`` exists and is a ``batch_type`` batch; NotFound/UsageError if not."""
    row = con.execute("SELECT batch_type FROM batches WHERE batch_id = ?", [batch_id]).fetchone()
    if row is None:
        from engine.errors import NotFound

        raise NotFound(f"no batch {batch_id}", hint="`cmpctl batches list` shows the batch ids")
    if row[0] != batch_type:
        raise UsageError(f"batch {batch_id} is a {row[0]!r} batch; the {job} job only takes {batch_type!r} batches",
                         hint=f"pick a {batch_type!r} batch (`cmpctl batches list`)")


def mark_batch_processed(con: duckdb.DuckDBPyConnection, batch_id: int, job: str, execution_id: int) -> None:
    """The batch's last stage is PROCESSED and its trigger for ``job`` is DONE by this execution
    (a hand-run job on a batch no trigger was made for records one, so the batch shows it)."""
    con.execute("UPDATE batches SET stage = 'PROCESSED', stage_at = now() WHERE batch_id = ?", [batch_id])
    con.execute(
        """
        INSERT INTO batch_triggers (batch_id, job, status, execution_id) VALUES (?, ?, 'DONE', ?)
        ON CONFLICT (batch_id, job) DO UPDATE SET status = 'DONE', execution_id = excluded.execution_id
        """,
        [batch_id, job, execution_id],
    )


def drop_temp_tables(con: duckdb.DuckDBPyConnection, tables) -> None:
    """Drop a job's temporary tables (after a failure its rollback has discarded them already)."""
    try:
        for table in tables:
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")
    except duckdb.Error:
        pass


def check_params(spec: JobSpec, params: Mapping[str, str]) -> None:
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise UsageError(f"job {spec.name} does not take {', '.join(unknown)}",
                         hint=f"it takes: {', '.join(spec.params) or 'no parameters'}")
    missing = [p for p in spec.required if p not in params]
    if missing:
        raise UsageError(f"job {spec.name} needs --param {missing[0]}=…")


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

    The job's writes and its SUCCEEDED row commit in one transaction; on failure they roll
    back and a FAILED row with the reason is committed instead. The execution is a span
    "job <name>" (child of ``traceparent``, e.g. the CLI's); its trace id is stored on the row.
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
        row = con.execute("SELECT execution_id FROM job_executions WHERE idempotency_key = ?", [key]).fetchone()
        if row:
            return execution(con, row[0]) | {"existing": True}
    now = now or datetime.now(timezone.utc)
    execution_id = con.execute("SELECT nextval('seq_execution')").fetchone()[0]
    batch_id = int(params["batch"]) if "batch" in params and str(params["batch"]).isdigit() else None
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


def execution(con: duckdb.DuckDBPyConnection, execution_id: int) -> dict[str, Any]:
    cur = con.execute("SELECT * FROM job_executions WHERE execution_id = ?", [execution_id])
    cols = [d[0] for d in cur.description]
    row = cur.fetchone()
    if row is None:
        from engine.errors import NotFound

        raise NotFound(f"no job execution {execution_id}")
    doc = dict(zip(cols, row))
    for k in ("params", "result"):
        if isinstance(doc.get(k), str):
            doc[k] = json.loads(doc[k])
    return doc


__all__ = ["JobContext", "JobFn", "JobRegistry", "JobResult", "JobSpec", "batch_param", "check_params",
           "drop_temp_tables", "execution", "require_batch", "run_job"]
