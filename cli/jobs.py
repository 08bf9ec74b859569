"""Batch jobs: list, run, show, history."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.table import Table

from cli import source
from cli.options import HomeOpt, JsonOpt, _params, _print_json, out
from cli.tracing import _tracing


jobs_app = typer.Typer(help="Batch jobs: run by hand, show executions and their history.", no_args_is_help=True)


def _print_execution(doc: dict, json_out: bool) -> None:
    if json_out:
        _print_json(doc)
        return
    for key in ("execution_id", "job", "status", "trigger", "params", "batch_id", "records_read", "records_ok",
                "records_error", "started_at", "ended_at", "error", "result", "trace_id"):
        if doc.get(key) not in (None, "", {}):
            out.print(f"{key:<14} {doc[key]}", markup=False)


@jobs_app.command("list")
def jobs_list(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """The jobs this engine runs and the parameters they take."""
    rows = source.store(home).list_jobs()
    if json_out:
        _print_json(rows)
        return
    for r in rows:
        out.print(f"{r['name']:<16} params: {', '.join(r['params']) or '-':<12} {r['description']}", markup=False)


@jobs_app.command("run")
def jobs_run(
    job: Annotated[str, typer.Argument(help="Job name (see `cmpctl jobs list`).")],
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="key=value (repeatable).")] = None,
    key: Annotated[Optional[str], typer.Option("--key", help="Idempotency key: a second run with it returns the first.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the execution to finish.")] = False,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a job in the running engine (in the Store, which owns the database)."""
    import uuid

    from actors.clients import call
    from engine import telemetry

    _tracing(home)
    store = source.store(home)
    run_key = key or f"manual:{uuid.uuid4()}"
    # The trace starts here; the job's span in the Store is its child (traceparent passed explicitly).
    with telemetry.span(f"cmpctl jobs run {job}", attributes={"cmp.job": job, "cmp.key": run_key}):
        ref = store.start("run_job", job, _params(param), trigger="manual", key=run_key,
                          traceparent=telemetry.inject())
        doc = call(ref) if wait else _started(store, ref, run_key)
    telemetry.flush()
    _print_execution(doc, json_out)
    if doc.get("status") == "FAILED":
        raise typer.Exit(1)


def _started(store, ref, key: str) -> dict:
    """Return as soon as the execution row exists (or the run finished or was refused)."""
    from actors.clients import call, is_ready

    while True:
        if is_ready(ref, timeout=0.2):
            return call(ref)  # finished already, or refused (unknown job, bad parameters)
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
    store = source.store(home)
    doc = store.job_execution(execution_id)
    report = store.reconciliation_report(execution_id, discrepancies) if doc.get("job") == "reconciliation" else None
    if report is not None and json_out:
        doc = {**doc, "discrepancies": report}
    _print_execution(doc, json_out)
    if report is not None and not json_out:
        _print_discrepancies(report)


def _print_discrepancies(report: dict) -> None:
    by_class = ", ".join(f"{k} {v:,}" for k, v in report["by_class"].items()) or "none"
    out.print(f"{'discrepancies':<14} {report['total']:,} ({by_class})", markup=False)
    if not report["first"]:
        return
    table = Table()
    for col in ("class", "subscription", "kind", "ocs id", "engine side", "ocs side"):
        table.add_column(col, overflow="fold")
    for d in report["first"]:
        table.add_row(d["discrepancy"], d["subscription_id"], d["record_kind"] or "", d["ocs_id"] or "",
                      json.dumps(d["engine_side"]) if d["engine_side"] else "-",
                      json.dumps(d["ocs_side"]) if d["ocs_side"] else "-")
    out.print(table)


@jobs_app.command("history")
def jobs_history(job: Annotated[Optional[str], typer.Argument(help="Only this job.")] = None,
                 limit: Annotated[int, typer.Option("--limit")] = 50, home: HomeOpt = None,
                 json_out: JsonOpt = False) -> None:
    """Past executions, newest first."""
    rows = source.store(home).job_history(job, limit)
    if json_out:
        _print_json(rows)
        return
    table = Table()
    for col in ("exec", "job", "status", "trigger", "batch", "read", "ok", "error", "started"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["execution_id"]), r["job"], r["status"], r["trigger"], str(r["batch_id"] or ""),
                      f"{r['records_read']:,}", f"{r['records_ok']:,}", f"{r['records_error']:,}",
                      f"{r['started_at']:%Y-%m-%d %H:%M:%S}")
    out.print(table)




def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
