"""Reading the engine's database file while no engine runs (the CLI's audits).

Only the Store writes the file (ARCHITECTURE.md rule 2), and DuckDB lets another process open
it read-only only while no process holds it read-write. So this is the fall-back for when the
engine is down; while it runs, its Store answers the same questions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from engine.errors import EngineNotRunning, NotFound, StoreBusy
from engine.store.database import connect

#: what carries a trace id: a loaded file's batch, or a job execution
TraceSubject = Literal["batch", "execution"]

_TRACE_ID_SQL: dict[TraceSubject, str] = {
    "batch": "SELECT trace_id FROM batches WHERE batch_id = ?",
    "execution": "SELECT trace_id FROM job_executions WHERE execution_id = ?",
}
SUBJECT_NAMES: dict[TraceSubject, str] = {"batch": "batch", "execution": "job execution"}


def recorded_trace_id(db_path: Path, subject: TraceSubject, ident: int) -> str | None:
    """The trace id of a batch or job execution, read from the file when no engine runs.

    None when it ran without tracing (``telemetry.exporter = none``); NotFound when there is
    no such batch or execution; EngineNotRunning when another process holds the file (the
    engine is up but could not be reached, or something else has the database open).
    """
    try:
        con = connect(db_path, read_only=True)
    except StoreBusy:
        raise EngineNotRunning(f"cannot read {db_path}: another process holds it",
                               hint="start the engine (`cmpctl up`) or stop whatever holds the database") from None
    try:
        row = con.execute(_TRACE_ID_SQL[subject], [ident]).fetchone()
    finally:
        con.close()
    if row is None:
        raise NotFound(f"no {SUBJECT_NAMES[subject]} {ident}")
    return row[0] or None
