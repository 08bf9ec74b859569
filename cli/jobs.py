"""Batch jobs: list, run, show, history."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from cli import source
from cli.exits import ExitCode, exit_with
from cli.options import HomeOpt, JobArg, JsonOpt, LimitOpt, ParamOpt, home_config, parse_params
from cli.render import Column, emit_json, out, render, render_record
from cli.tracing import trace_this_command

jobs_app = typer.Typer(help="Batch jobs: run by hand, show executions and their history.", no_args_is_help=True)

JOB_COLUMNS = (
    Column("job", "name"), Column("params", lambda j: ", ".join(j["params"]) or "-"),
    Column("description", "description"),
)
#: one execution, as `jobs run`, `jobs show` and `submit --follow` print it
EXECUTION_FIELDS = ("execution_id", "job", "status", "trigger", "params", "batch_id", "records_read", "records_ok",
                    "records_error", "started_at", "ended_at", "error", "result", "trace_id")
HISTORY_COLUMNS = (
    Column("exec", "execution_id"), Column("job", "job"), Column("status", "status"), Column("trigger", "trigger"),
    Column("batch", "batch_id"), Column("read", "records_read", count=True), Column("ok", "records_ok", count=True),
    Column("error", "records_error", count=True), Column("started", "started_at"),
)
DISCREPANCY_COLUMNS = (
    Column("class", "discrepancy"), Column("subscription", "subscription_id"), Column("kind", "record_kind"),
    Column("ocs id", "ocs_id"), Column("engine side", "engine_side"), Column("ocs side", "ocs_side"),
)


@jobs_app.command("list")
def jobs_list(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """The jobs this engine runs and the parameters they take."""
    render(source.reader(home).list_jobs(), JOB_COLUMNS, json_out)


@jobs_app.command("run")
def jobs_run(
    job: JobArg,
    param: ParamOpt = None,
    key: Annotated[Optional[str], typer.Option("--key", help="Idempotency key: a second run with it returns the first.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the execution to finish.")] = False,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a job in the running engine (in the Store, which owns the database)."""
    import uuid

    from actors.clients import nowait
    from engine import telemetry

    trace_this_command(home_config(home))
    store = source.store(home)
    run_key = key or f"manual:{uuid.uuid4()}"
    # The trace starts here; the job's span in the Store is its child (traceparent passed explicitly).
    with telemetry.span(f"cmpctl jobs run {job}", attributes={"cmp.job": job, "cmp.key": run_key}):
        running = nowait(store.run_job)(job, parse_params(param), trigger="manual", key=run_key,
                                        traceparent=telemetry.inject())
        doc = running.result() if wait else _started(store, running, run_key)
    telemetry.flush()
    render_record(doc, json_out, fields=EXECUTION_FIELDS)
    if doc.get("status") == "FAILED":
        exit_with(ExitCode.FOUND_ERRORS)


def _started(store: Any, running: Any, key: str) -> dict[str, Any]:
    """Return as soon as the execution row exists (or the run finished or was refused)."""
    while True:
        if running.done(timeout=0.2):
            return running.result()  # finished already, or refused (unknown job, bad parameters)
        doc = store.execution_by_key(key)
        if doc is not None:
            return doc


@jobs_app.command("show")
def jobs_show(execution_id: Annotated[int, typer.Argument(help="Execution id.")], home: HomeOpt = None,
              json_out: JsonOpt = False,
              discrepancies: Annotated[int, typer.Option(
                  "--discrepancies", min=0,
                  help="Reconciliation: list the first N discrepancies with both sides.")] = 10) -> None:
    """One job execution: status, parameters, counts, result, error (and a reconciliation's discrepancies)."""
    reader = source.reader(home)
    doc = reader.job_execution(execution_id)
    report = reader.reconciliation_report(execution_id, limit=discrepancies) \
        if doc.get("job") == "reconciliation" else None
    if json_out:
        emit_json(doc if report is None else {**doc, "discrepancies": report})
        return
    render_record(doc, False, fields=EXECUTION_FIELDS)
    if report is not None:
        by_class = ", ".join(f"{k} {v:,}" for k, v in report["by_class"].items()) or "none"
        out.print(f"{'discrepancies':<14} {report['total']:,} ({by_class})", markup=False)
        if report["first"]:
            render(report["first"], DISCREPANCY_COLUMNS, False)


@jobs_app.command("history")
def jobs_history(job: Annotated[Optional[str], typer.Argument(help="Only this job.")] = None,
                 limit: LimitOpt = 50, home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Past executions, newest first."""
    render(source.reader(home).job_history(job, limit=limit), HISTORY_COLUMNS, json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
