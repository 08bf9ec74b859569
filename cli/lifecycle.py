"""The engine's life and what it is handed: up, down, status, submit, load."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from cli import source
from cli.batches import DAEMON_COLUMNS
from cli.jobs import EXECUTION_FIELDS
from cli.exits import ExitCode, exit_with
from cli.options import HomeOpt, JobArg, JsonOpt, ParamOpt, home_config, parse_params
from cli.render import Column, emit_json, err, out, render, render_record, when
from cli.tracing import trace_this_command
from engine.errors import EngineError, EngineNotRunning

ACTOR_COLUMNS = (
    Column("name", lambda a: a["name"] or a["role"]), Column("state", "state"), Column("pid", "pid"),
    Column("Ray restarts", "restarts"), Column("last error", "last_error"),
)


def up(
    address: Annotated[Optional[str], typer.Option("--address", help="Join this Ray cluster instead of starting a local one.")] = None,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Start (or connect to) Ray, then the Supervisor, which starts and watches the engine's actors."""
    from actors.supervisor import start_supervisor

    from engine import permissions

    runtime = source.runtime()
    config = home_config(home)
    # before anything starts: secrets others can read refuse, looser modes warn (engine/permissions.py)
    permissions.enforce(permissions.exposures(config), warn=lambda line: err.print(f"cmpctl: warning: {line}",
                                                                                    markup=False))
    run = runtime.read_run(config)
    if address or config.ray.address:
        run = runtime.connect(config, address or config.ray.address)
        run = runtime.RayRun(address or config.ray.address, run.dashboard_url, owned=False)
    else:
        try:
            run = runtime.connect(config) if run else None
        except EngineError:
            if run.owned and runtime.head_alive(run):
                raise EngineNotRunning(f"the Ray head this home started (pid {run.head_pid}) runs but does not answer",
                                       hint="stop it with `cmpctl down`, then `cmpctl up`") from None
            if run.owned:  # a head that died: what it left (workers in their own groups) goes too
                runtime.stop_local_head(run, config.shutdown.ray_head_seconds)
            run = None  # a stale run file: start afresh
        if run is None:
            run = runtime.start_local_head(config, warn=lambda line: err.print(f"cmpctl: {line}", markup=False))
    runtime.write_run(config, run)
    start_supervisor(config)  # idempotent: a second `up` finds the running Supervisor
    daemons = source.store_of(config).list_daemons()
    if json_out:
        emit_json({"address": run.address, "dashboard": run.dashboard_url, "daemons": daemons})
        return
    out.print(f"engine up on Ray {run.address}" + (f"   dashboard {run.dashboard_url}" if run.dashboard_url else ""))
    render(daemons, DAEMON_COLUMNS, False)


def down(home: HomeOpt = None) -> None:
    """Stop the engine: Supervisor, then daemons (file in hand finished, claims released), then
    Store; each step has a deadline ([shutdown]), after which what is left is killed (exit 1).
    A Ray head that `up` started is gone afterwards, every process of it."""
    from actors.shutdown import StopReport, drain_engine

    runtime = source.runtime()
    config = home_config(home)
    run = runtime.read_run(config)
    owned = run is not None and run.owned
    report: StopReport | None = None
    try:
        runtime.connect(config)
    except EngineError:
        pass  # nothing to drain; an owned head's leftovers still go below
    else:
        try:
            report = drain_engine(config)
        finally:  # whatever the actors did, the head this home started does not outlive `down`
            if owned:
                runtime.stop_local_head(run, config.shutdown.ray_head_seconds)
            runtime.clear_run(config)
    if report is None:
        leftovers = runtime.stop_local_head(run, config.shutdown.ray_head_seconds) if owned else []
        runtime.clear_run(config)
        err.print("cmpctl: the engine is not running"
                  + (f"; killed {len(leftovers)} leftover process(es) of its Ray head" if leftovers else ""))
        return
    out.print("stopped " + (", ".join(report.stopped) if report.stopped else "nothing")
              + (f"; {report.released} claimed request(s) released to UN" if report.released else ""))
    for line in report.killed + report.problems:
        err.print(f"cmpctl: {line}", markup=False)
    if not report.clean:
        exit_with(ExitCode.FOUND_ERRORS)


def status(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Daemons (state, last poll), queue depths by request status, running jobs, firing alerts, dashboard URL."""
    doc = source.status_document(home)
    if json_out:
        emit_json(doc)
        return
    out.print(f"Ray {doc['address']}   dashboard {doc['dashboard'] or '-'}   supervisor {doc['supervisor']}")
    render(doc["daemons"], DAEMON_COLUMNS, False, title="daemons")
    render(doc["actors"], ACTOR_COLUMNS, False, title="actors")
    depths = ", ".join(f"{target} " + " ".join(f"{st}={n:,}" for st, n in by.items())
                       for target, by in doc["queue_depths"].items())
    out.print(f"network requests: {depths or 'none'}")
    for j in doc["running_jobs"]:
        out.print(f"running: {j['job']} execution {j['execution_id']} ({j['trigger']}) since {when(j['started_at'])}")
    out.print(f"running jobs: {len(doc['running_jobs'])}   firing alerts: {len(doc['alerts'])}")
    for a in doc["alerts"]:
        out.print(f"  ALERT {a['severity']} {a['probe']} on {a['subject']}: {a['message'] or ''}", markup=False)


def submit(
    job: JobArg,
    address: Annotated[Optional[str], typer.Option("--address", help="Ray Jobs API (dashboard) address, e.g. http://HEAD:8265; default: the running engine's dashboard.")] = None,
    param: ParamOpt = None,
    key: Annotated[Optional[str], typer.Option("--key", help="Idempotency key: a second submit with it returns the first.")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Tail the job's logs until it ends.")] = False,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Submit a job to the Ray cluster through the Ray Jobs API (the project is shipped as its working dir)."""
    import uuid

    from actors import submit as jobs_api

    config = home_config(home)
    run = source.runtime().read_run(config)
    if not address and run is not None and run.owned and not run.dashboard_url:
        raise EngineNotRunning("this engine's Ray dashboard is not running (the Jobs API is part of it)",
                               hint=f"see {config.home / 'run' / 'ray-head.log'}, or give --address")
    target = address or (run.dashboard_url if run and run.dashboard_url else "") or \
        f"http://{config.ray.dashboard_host}:{config.ray.dashboard_port}"
    sub = jobs_api.submit(target, job, parse_params(param), key or f"submit:{uuid.uuid4()}",
                          namespace=config.ray.namespace)
    doc = sub.to_dict()
    if follow:  # logs go to stderr, so that --json keeps stdout to one document
        doc["status"], doc["execution"] = jobs_api.follow(target, sub.submission_id, write=sys.stderr.write)
    if json_out:
        emit_json(doc)
    else:
        out.print(f"{'existing' if sub.existing else 'submitted'} {sub.submission_id}: {doc['status']}"
                  f"   (dashboard {target})")
        if doc.get("execution"):
            render_record(doc["execution"], False, fields=EXECUTION_FIELDS)
    if doc["status"] in ("FAILED", "STOPPED") or (doc.get("execution") or {}).get("status") == "FAILED":
        exit_with(ExitCode.FOUND_ERRORS)


def load(
    file: Annotated[Path, typer.Argument(help="Generic file (.jsonl.age) to load.", exists=True, dir_okay=False)],
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the batch and print its counts.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait with --wait.")] = 3600.0,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Hand a file to the right Load daemon of the running engine (exit 4 if it is refused)."""
    from engine import telemetry
    from engine.loading.submit import submit_file, wait_for_outcome

    config, _ = source.connect(home)
    store = source.store_of(config)
    trace_this_command(config)
    # The trace starts here: the copy carries this span's traceparent to the daemon (an xattr).
    with telemetry.span(f"cmpctl load {file.name}", attributes={"cmp.file": file.name}):
        submitted = submit_file(config, file, store.committed_file, traceparent=telemetry.inject())
        if not wait:
            doc = {"status": "submitted", "daemon": submitted.daemon, "path": str(submitted.path)}
            emit_json(doc) if json_out else out.print(f"submitted to {submitted.daemon}: {submitted.path.name}")
            return
        outcome = wait_for_outcome(store, submitted, timeout=timeout, progress=None if json_out else err)
    telemetry.flush()
    if json_out:
        emit_json(outcome)
    elif outcome["status"] == "loaded":
        out.print(f"batch {outcome['batch_id']}: {outcome['records']:,} records, "
                  f"{outcome['valid']:,} valid, {outcome['errors']:,} erroring")
    if outcome["status"] == "rejected":
        if not json_out:
            err.print(f"cmpctl: rejected: {outcome['reason']}", markup=False)
        exit_with(ExitCode.REJECTED)


def register(app: typer.Typer) -> None:
    for command in (up, down, status, submit, load):
        app.command()(command)
