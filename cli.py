"""cmpctl: the operator's command line (CLI.md is the contract).

A thin shell: every command parses its options, calls the engine, and renders the result.
Errors are one line on stderr with the exit codes of CLI.md; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from engine import age
from engine.config import default_home, load_config
from engine.errors import EngineError, UsageError
from engine.fsutil import open_input, open_output

app = typer.Typer(
    name="cmpctl",
    help="Operate the cmp-provisioning engine: files, keys, loads, jobs, network requests, probes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="age identities and recipients (age-keygen compatible).", no_args_is_help=True)
gen_app = typer.Typer(help="Generate realistic synthetic generic files.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(gen_app, name="gen")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

HomeOpt = Annotated[
    Optional[Path],
    typer.Option("--home", help="Engine home (default: $CMP_HOME, else ~/.cmp).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")]


def _home(home: Path | None) -> Path:
    return (home or default_home()).expanduser().resolve()


def _config(home: Path | None):
    return load_config(_home(home))


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    # main() reads --debug itself so that it also covers errors raised before this callback.
    pass


# --- init and keys ---------------------------------------------------------------------------


@app.command()
def init(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Create a home: config with defaults, an identity + recipient pair, the database, the folders."""
    from engine.home import init_home

    result = init_home(_home(home))
    if json_out:
        _print_json({"home": str(result.home), "created": list(result.created), "recipient": result.recipient})
        return
    out.print(f"home       {result.home}")
    out.print(f"recipient  {result.recipient}")
    out.print("created    " + (", ".join(result.created) if result.created else "nothing (already complete)"))


@keys_app.command("generate")
def keys_generate(
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write the identity here (mode 0600).")] = None,
) -> None:
    """Generate a new X25519 identity in age-keygen's format (public key on stderr when -o is given)."""
    from engine.home import write_identity

    identity = age.Identity.generate()
    if output is None:
        sys.stdout.write(f"# public key: {identity.recipient()}\n{identity}\n")
        return
    if output.exists():
        raise UsageError(f"{output} exists; refusing to overwrite an identity", hint="choose another -o path")
    write_identity(output, identity)
    err.print(f"Public key: {identity.recipient()}")


@keys_app.command("recipient")
def keys_recipient(
    home: HomeOpt = None,
    identity: Annotated[Optional[Path], typer.Option("-i", "--identity", help="Print the recipient of this identity file instead.")] = None,
) -> None:
    """Print this home's recipient (age1…), or that of an identity file (like `age-keygen -y`)."""
    from engine.home import home_identities

    identities = age.load_identities(identity) if identity else home_identities(_config(home))
    for ident in identities:
        sys.stdout.write(f"{ident.recipient()}\n")


# --- encrypt / decrypt -------------------------------------------------------------------------


def _recipients(recipient: list[str] | None, recipients_file: list[Path] | None) -> list[age.Recipient]:
    found = [age.Recipient.parse(r) for r in recipient or []]
    for path in recipients_file or []:
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                found.append(age.Recipient.parse(line))
    if not found:
        raise UsageError("no recipient", hint="pass -r age1… or -R FILE")
    return found


@app.command()
def encrypt(
    file: Annotated[str, typer.Argument(help="Plaintext file, or - for stdin.")],
    recipient: Annotated[Optional[list[str]], typer.Option("-r", "--recipient", help="age1… recipient (repeatable).")] = None,
    recipients_file: Annotated[Optional[list[Path]], typer.Option("-R", "--recipients-file", help="File of recipients, one per line.")] = None,
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Output file (default stdout).")] = None,
    armor: Annotated[bool, typer.Option("-a", "--armor", help="ASCII-armored output.")] = False,
) -> None:
    """Encrypt to age recipients (age-compatible, streaming)."""
    recips = _recipients(recipient, recipients_file)
    with open_input(file) as src, open_output(output) as dst:
        age.encrypt(src, dst, recips, armor=armor)


@app.command()
def decrypt(
    file: Annotated[str, typer.Argument(help="age file (binary or armored), or - for stdin.")],
    identity: Annotated[Optional[list[Path]], typer.Option("-i", "--identity", help="Identity file (repeatable; default: the home's).")] = None,
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Output file (default stdout).")] = None,
    home: HomeOpt = None,
) -> None:
    """Decrypt an age file (age-compatible, streaming); a damaged file exits 4 and writes no file."""
    from engine.home import home_identities

    idents = [i for p in identity for i in age.load_identities(p)] if identity else home_identities(_config(home))
    with open_input(file) as src, open_output(output) as dst:
        age.decrypt(src, dst, idents)


# --- validate ----------------------------------------------------------------------------------


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Generic file (.jsonl.age) to check.")],
    identity: Annotated[Optional[list[Path]], typer.Option("-i", "--identity", help="Identity file (default: the home's).")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="The file is plaintext JSON Lines, not encrypted.")] = False,
    max_errors: Annotated[int, typer.Option("--max-errors", help="List at most this many bad records.")] = 1000,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Decrypt and check the header and every record against the contract; load nothing.

    Exit 0: all records valid; 1: bad records (each listed with line and reasons);
    4: the file itself is rejected (damaged, wrong key, bad header, wrong record count).
    """
    from engine.home import home_identities
    from engine.validate import validate_file

    idents = None
    if not plain:
        idents = [i for p in identity for i in age.load_identities(p)] if identity else home_identities(_config(home))
    report = validate_file(file, idents, plain=plain, max_listed=max_errors)
    if json_out:
        _print_json(report.to_dict())
    else:
        _render_validation(report)
    raise typer.Exit(0 if report.ok else 1)


def _render_validation(report) -> None:
    h = report.header
    out.print(f"file        {report.file}")
    out.print(f"type        {h.interface_category} / {h.interface_type} v{h.version}   identifier {h.identifier}")
    out.print(f"records     {report.records:,} (header says {h.record_count:,})")
    out.print(f"valid       {report.valid:,}")
    out.print(f"invalid     {report.invalid_total:,}")
    for rec in report.invalid:
        out.print(f"\nline {rec.line_no}", markup=False)
        for reason in rec.reasons:
            out.print(f"  - {reason}", markup=False)
        raw = rec.raw if len(rec.raw) <= 160 else rec.raw[:160] + "…"
        out.print(f"  record: {raw}", markup=False)
    if report.invalid_total > len(report.invalid):
        out.print(f"\n… and {report.invalid_total - len(report.invalid):,} more (raise --max-errors)")


# --- gen -----------------------------------------------------------------------------------------


@gen_app.command("orders")
def gen_orders(
    count: Annotated[int, typer.Option("--count", "-n", min=0, help="Number of order records.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (.jsonl.age).")],
    recipient: Annotated[Optional[list[str]], typer.Option("-r", "--recipient", help="Encrypt to this recipient (default: the home's).")] = None,
    bad_share: Annotated[float, typer.Option("--bad-share", min=0.0, max=1.0, help="Share of deliberately bad records.")] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same file).")] = 0,
    identifier: Annotated[Optional[str], typer.Option("--identifier", help="Header identifier (default derived from seed).")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="Write plaintext JSON Lines (for inspection).")] = False,
    home: HomeOpt = None,
) -> None:
    """Write a synthetic, realistic order file (individuals and organisations, 1-3 subscriptions)."""
    from engine import synth
    from engine.home import home_recipient

    recips = [] if plain else ([age.Recipient.parse(r) for r in recipient] if recipient else [home_recipient(_config(home))])
    with open_output(output) as raw:
        if plain:
            header = synth.write_orders(raw, count, seed=seed, bad_share=bad_share, identifier=identifier)
        else:
            with age.open_encrypt(raw, recips) as sink:
                header = synth.write_orders(sink, count, seed=seed, bad_share=bad_share, identifier=identifier)
    err.print(f"wrote {output}: {count:,} orders, identifier {header.identifier}")


# --- running engine: up / down / load / batches / daemons --------------------------------------

batches_app = typer.Typer(help="Batch audit: loaded files, counts and erroring records.", no_args_is_help=True)
daemons_app = typer.Typer(help="The engine's daemons.", no_args_is_help=True)
app.add_typer(batches_app, name="batches")
app.add_typer(daemons_app, name="daemons")


def _connect(home: Path | None, address: str | None = None):
    """Join the running engine's Ray (exit 3 when there is none)."""
    from engine import runtime

    config = _config(home)
    run = runtime.connect(config, address)
    return config, run


def _store(home: Path | None):
    """The running engine's Store facade (exit 3 when no engine runs)."""
    from actors.clients import StoreClient

    config, _ = _connect(home)
    return StoreClient.lookup(config.ray.namespace)


@app.command()
def up(
    address: Annotated[Optional[str], typer.Option("--address", help="Join this Ray cluster instead of starting a local one.")] = None,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Start (or connect to) Ray, then the Supervisor, which starts and watches the engine's actors."""
    from actors.clients import StoreClient
    from actors.supervisor import start_supervisor
    from engine import runtime

    config = _config(home)
    run = runtime.read_run(config)
    if address or config.ray.address:
        run = runtime.connect(config, address or config.ray.address)
        run = runtime.RayRun(address or config.ray.address, run.dashboard_url, owned=False)
    else:
        try:
            run = runtime.connect(config) if run else None
        except EngineError:
            run = None  # a stale run file: start afresh
        if run is None:
            run = runtime.start_local_head(config)
    runtime.write_run(config, run)
    start_supervisor(config)  # idempotent: a second `up` finds the running Supervisor
    daemons = StoreClient.lookup(config.ray.namespace).list_daemons()
    if json_out:
        _print_json({"address": run.address, "dashboard": run.dashboard_url, "daemons": daemons})
        return
    out.print(f"engine up on Ray {run.address}" + (f"   dashboard {run.dashboard_url}" if run.dashboard_url else ""))
    for d in daemons:
        out.print(f"  {d['name']:<55} {d['state']}")


@app.command()
def down(home: HomeOpt = None) -> None:
    """Stop the engine cleanly: Supervisor, then daemons (file in hand finished, claims released), then Store."""
    from actors.supervisor import drain_engine
    from engine import runtime

    config = _config(home)
    run = runtime.read_run(config)
    try:
        runtime.connect(config)
    except EngineError:
        runtime.clear_run(config)
        err.print("cmpctl: the engine is not running")
        return
    stopped = drain_engine(config)
    if run and run.owned:
        runtime.stop_local_head(run)
    runtime.clear_run(config)
    out.print("stopped " + (", ".join(stopped) if stopped else "nothing"))


@app.command()
def status(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Daemons (state, last poll), queue depths by request status, running jobs, firing alerts, dashboard URL."""
    from actors.clients import StoreClient
    from actors.supervisor import supervisor_report

    config, run = _connect(home)
    snap = StoreClient.lookup(config.ray.namespace).status()
    actors = supervisor_report(config)
    doc = {"address": run.address, "dashboard": run.dashboard_url,
           "supervisor": "RUNNING" if actors is not None else "ABSENT", "actors": actors or [], **snap}
    if json_out:
        _print_json(doc)
        return
    out.print(f"Ray {doc['address']}   dashboard {doc['dashboard'] or '-'}   supervisor {doc['supervisor']}")
    table = Table(title="daemons")
    for col in ("name", "state", "last poll", "last error"):
        table.add_column(col, overflow="fold")
    for d in doc["daemons"]:
        table.add_row(d["name"], d["state"], f"{d['last_poll_at']:%Y-%m-%d %H:%M:%S}" if d["last_poll_at"] else "-",
                      d["last_error"] or "")
    out.print(table)
    table = Table(title="actors")
    for col in ("name", "state", "pid", "Ray restarts", "last error"):
        table.add_column(col, overflow="fold")
    for a in doc["actors"]:
        table.add_row(a["name"] or a["role"], a["state"], str(a["pid"]), str(a["restarts"]), a["last_error"] or "")
    out.print(table)
    depths = ", ".join(f"{target} " + " ".join(f"{st}={n:,}" for st, n in by.items())
                       for target, by in doc["queue_depths"].items())
    out.print(f"network requests: {depths or 'none'}")
    for j in doc["running_jobs"]:
        out.print(f"running: {j['job']} execution {j['execution_id']} ({j['trigger']}) since {j['started_at']:%H:%M:%S}")
    out.print(f"running jobs: {len(doc['running_jobs'])}   firing alerts: {len(doc['alerts'])}")
    for a in doc["alerts"]:
        out.print(f"  ALERT {a['severity']} {a['probe']} on {a['subject']}: {a['message'] or ''}", markup=False)


@app.command()
def submit(
    job: Annotated[str, typer.Argument(help="Job name (see `cmpctl jobs list`).")],
    address: Annotated[Optional[str], typer.Option("--address", help="Ray Jobs API (dashboard) address, e.g. http://HEAD:8265; default: the running engine's dashboard.")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="key=value (repeatable).")] = None,
    key: Annotated[Optional[str], typer.Option("--key", help="Idempotency key: a second submit with it returns the first.")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Tail the job's logs until it ends.")] = False,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Submit a job to the Ray cluster through the Ray Jobs API (the project is shipped as its working dir)."""
    import uuid

    from actors import submit as jobs_api
    from engine import runtime

    config = _config(home)
    run = runtime.read_run(config)
    target = address or (run.dashboard_url if run and run.dashboard_url else "") or \
        f"http://{config.ray.dashboard_host}:{config.ray.dashboard_port}"
    sub = jobs_api.submit(target, job, _params(param), key or f"submit:{uuid.uuid4()}", namespace=config.ray.namespace)
    doc = sub.to_dict()
    if follow:  # logs go to stderr, so that --json keeps stdout to one document
        doc["status"], doc["execution"] = jobs_api.follow(target, sub.submission_id, write=sys.stderr.write)
    if json_out:
        _print_json(doc)
    else:
        out.print(f"{'existing' if sub.existing else 'submitted'} {sub.submission_id}: {doc['status']}"
                  f"   (dashboard {target})")
        if doc.get("execution"):
            _print_execution(doc["execution"], False)
    if doc["status"] in ("FAILED", "STOPPED") or (doc.get("execution") or {}).get("status") == "FAILED":
        raise typer.Exit(1)


@app.command()
def load(
    file: Annotated[Path, typer.Argument(help="Generic file (.jsonl.age) to load.", exists=True, dir_okay=False)],
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the batch and print its counts.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait with --wait.")] = 3600.0,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Hand a file to the right Load daemon of the running engine (exit 4 if it is refused)."""
    from engine.loading.submit import submit_file, wait_for_outcome
    from actors.clients import StoreClient
    from engine import telemetry

    config, _ = _connect(home)
    store = StoreClient.lookup(config.ray.namespace)
    _tracing(home)
    # The trace starts here: the copy carries this span's traceparent to the daemon (an xattr).
    with telemetry.span(f"cmpctl load {file.name}", attributes={"cmp.file": file.name}):
        submitted = submit_file(config, file, store.committed_file, traceparent=telemetry.inject())
        if not wait:
            doc = {"status": "submitted", "daemon": submitted.daemon, "path": str(submitted.path)}
            _print_json(doc) if json_out else out.print(f"submitted to {submitted.daemon}: {submitted.path.name}")
            return
        outcome = wait_for_outcome(store, submitted, timeout=timeout, progress=None if json_out else err)
    telemetry.flush()
    if json_out:
        _print_json(outcome)
    elif outcome["status"] == "loaded":
        out.print(f"batch {outcome['batch_id']}: {outcome['records']:,} records, "
                  f"{outcome['valid']:,} valid, {outcome['errors']:,} erroring")
    if outcome["status"] == "rejected":
        if not json_out:
            err.print(f"cmpctl: rejected: {outcome['reason']}", markup=False)
        raise typer.Exit(4)


@batches_app.command("list")
def batches_list(
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 50,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Batches with category, type, direction, stage and record counts."""
    rows = _store(home).list_batches(limit)
    if json_out:
        _print_json(rows)
        return
    table = Table()
    for col in ("batch", "category", "type", "dir", "stage", "records", "valid", "errors", "file", "created"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["batch_id"]), r["category"], r["batch_type"], r["direction"], r["stage"],
                      f"{r['records']:,}", f"{r['valid_records']:,}", f"{r['error_records']:,}",
                      r["file_name"] or "", f"{r['created_at']:%Y-%m-%d %H:%M:%S}")
    out.print(table)


@batches_app.command("show")
def batches_show(
    batch_id: Annotated[int, typer.Argument(help="Batch id.")],
    errors: Annotated[bool, typer.Option("--errors", help="List the erroring records with their reasons.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many erroring records.")] = 1000,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One batch: its file, counts, triggered jobs and (with --errors) its erroring records."""
    batch = _store(home).show_batch(batch_id, limit if errors else 0)
    if json_out:
        _print_json(batch)
        return
    for key in ("batch_id", "category", "batch_type", "direction", "stage", "stage_at", "records",
                "valid_records", "error_records", "file_name", "identifier", "sha256", "trace_id"):
        out.print(f"{key:<14} {batch.get(key)}")
    for trig in batch.get("triggers", []):
        out.print(f"trigger        {trig['job']} {trig['status']}")
    if errors:
        table = Table(title=f"Erroring records of batch {batch_id}")
        table.add_column("line", justify="right")
        table.add_column("reasons")
        table.add_column("record", max_width=60, no_wrap=True)
        for e in batch.get("errors", []):
            table.add_row(str(e["line_no"]), "\n".join(e["reasons"]), e["raw"][:200])
        out.print(table)


@daemons_app.command("list")
def daemons_list(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Daemons with type, category, activity, state, last poll and last error."""
    rows = _store(home).list_daemons()
    if json_out:
        _print_json(rows)
        return
    table = Table()
    for col in ("name", "state", "last poll", "last error"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["state"], f"{r['last_poll_at']:%H:%M:%S}" if r["last_poll_at"] else "-",
                      r["last_error"] or "")
    out.print(table)


# --- jobs ------------------------------------------------------------------------------------

jobs_app = typer.Typer(help="Batch jobs: run by hand, show executions and their history.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


def _params(pairs: list[str] | None) -> dict[str, str]:
    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param takes key=value, got {pair!r}")
        params[key.strip()] = value.strip()
    return params


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
    rows = _store(home).list_jobs()
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

    from actors.clients import nowait
    from engine import telemetry

    _tracing(home)
    store = _store(home)
    run_key = key or f"manual:{uuid.uuid4()}"
    # The trace starts here; the job's span in the Store is its child (traceparent passed explicitly).
    with telemetry.span(f"cmpctl jobs run {job}", attributes={"cmp.job": job, "cmp.key": run_key}):
        running = nowait(store.run_job)(job, _params(param), trigger="manual", key=run_key,
                                        traceparent=telemetry.inject())
        doc = running.result() if wait else _started(store, running, run_key)
    telemetry.flush()
    _print_execution(doc, json_out)
    if doc.get("status") == "FAILED":
        raise typer.Exit(1)


def _started(store, running, key: str) -> dict:
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
    store = _store(home)
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
    rows = _store(home).job_history(job, limit)
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


# --- schedules -------------------------------------------------------------------------------

schedules_app = typer.Typer(help="Cron schedules of jobs and their slot ledger.", no_args_is_help=True)
app.add_typer(schedules_app, name="schedules")


def _fmt_time(value, tz_name: str | None = None) -> str:
    if value is None:
        return "-"
    from engine.schedule.cron import zone

    local = value.astimezone(zone(tz_name)) if tz_name else value
    return f"{local:%Y-%m-%d %H:%M %Z}"


@schedules_app.command("list")
def schedules_list(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Each schedule: job, cron, time zone, next slot, and the status of its last slot."""
    from engine.schedule import schedules_from_config, system_clock
    from engine.schedule.cron import next_slot

    config = _config(home)
    schedules = schedules_from_config(config)
    last = _store(home).last_slots([s.name for s in schedules])
    now = system_clock()
    rows = []
    for s in schedules:
        slot = last.get(s.name) or {}
        rows.append({"name": s.name, "job": s.job, "cron": s.cron, "timezone": s.timezone, "enabled": s.enabled,
                     "catch_up": s.catch_up, "next_slot": next_slot(s.cron, s.timezone, now) if s.enabled else None,
                     "last_slot": slot.get("slot_at"), "last_status": slot.get("status"),
                     "last_reason": slot.get("reason")})
    if json_out:
        _print_json(rows)
        return
    table = Table()
    for col in ("schedule", "job", "cron", "tz", "next slot", "last slot", "status"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"] + ("" if r["enabled"] else " (off)"), r["job"], r["cron"], r["timezone"],
                      _fmt_time(r["next_slot"], r["timezone"]), _fmt_time(r["last_slot"], r["timezone"]),
                      r["last_status"] or "-")
    out.print(table)


@schedules_app.command("slots")
def schedules_slots(
    schedule: Annotated[Optional[str], typer.Argument(help="Only this schedule.")] = None,
    status: Annotated[Optional[str], typer.Option("--status", help="due, late, started, succeeded, failed, overran or missed.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The slot ledger, newest first: each expected slot, its status, execution and reason."""
    from engine.schedule import STATUSES

    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown slot status {status!r}", hint=f"use one of: {', '.join(STATUSES)}")
    rows = _store(home).schedule_slots(schedule, status=status, limit=limit)
    if json_out:
        _print_json(rows)
        return
    table = Table()
    for col in ("schedule", "slot (UTC)", "status", "exec", "started", "ended", "reason"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["schedule"], _fmt_time(r["slot_at"], "UTC"), r["status"], str(r["execution_id"] or ""),
                      f"{r['started_at']:%H:%M:%S}" if r["started_at"] else "-",
                      f"{r['ended_at']:%H:%M:%S}" if r["ended_at"] else "-", r["reason"] or "")
    out.print(table)


# --- traces ----------------------------------------------------------------------------------


def _tracing(home: Path | None) -> None:
    """Export this command's spans as the home's config says (traces/ by default)."""
    from engine import telemetry

    telemetry.configure(telemetry.Settings.from_config(_config(home)), component="cli")


@app.command()
def trace(
    target: Annotated[str, typer.Argument(help="Job execution id, batch:BATCH_ID, or a 32-hex trace id.")],
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The span tree of one job execution or file load, with durations (from traces/*.jsonl)."""
    from engine.errors import NotFound
    from engine.telemetry.jsonl import read_spans
    from engine.telemetry.tree import render_tree, span_tree

    config = _config(home)
    trace_id = _trace_id_of(home, target)
    spans = read_spans(config.traces_dir, trace_id)
    if not spans:
        raise NotFound(f"no spans of trace {trace_id} under {config.traces_dir}",
                       hint="spans are written there with telemetry.exporter = file (the default); "
                            "with otlp, look the trace up in the collector")
    roots = span_tree(spans)
    if json_out:
        _print_json({"trace_id": trace_id, "spans": len(spans), "tree": roots})
        return
    out.print(render_tree(trace_id, roots))


def _trace_id_of(home: Path | None, target: str) -> str:
    """The trace id of an execution or ``batch:ID``: from the running engine's Store, else
    (engine down) from the database file opened read-only."""
    import re

    from engine.errors import NotFound

    target = target.strip()
    if re.fullmatch(r"[0-9a-f]{32}", target):
        return target
    kind, _, ident = target.rpartition(":")
    if kind not in ("", "batch", "exec", "execution") or not ident.isdigit():
        raise UsageError(f"not an execution id, batch:ID or trace id: {target!r}",
                         hint="e.g. `cmpctl trace 12` or `cmpctl trace batch:3`")
    table, column, what = ("batches", "batch_id", "batch") if kind == "batch" else \
        ("job_executions", "execution_id", "job execution")
    try:
        store = _store(home)
        doc = store.show_batch(int(ident), 0) if table == "batches" else store.job_execution(int(ident))
        found = (doc.get("trace_id"),)
    except EngineError as exc:
        if isinstance(exc, NotFound):
            raise
        found = _read_only_row(home, f"SELECT trace_id FROM {table} WHERE {column} = ?", [int(ident)])
    if found is None:
        raise NotFound(f"no {what} {ident}")
    if not found[0]:
        raise NotFound(f"{what} {ident} has no trace id", hint="it ran with telemetry.exporter = none")
    return str(found[0])


def _read_only_row(home: Path | None, sql: str, params: list) -> tuple | None:
    import duckdb

    from engine.errors import EngineNotRunning

    db = _config(home).db_path
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise EngineNotRunning(f"cannot read {db}: {exc}", hint="start the engine (`cmpctl up`) or stop "
                               "whatever holds the database") from None
    try:
        return con.execute(sql, params).fetchone()
    finally:
        con.close()


# --- requests --------------------------------------------------------------------------------

requests_app = typer.Typer(help="The network request log and operator actions.", no_args_is_help=True)
app.add_typer(requests_app, name="requests")


@requests_app.command("list")
def requests_list(
    status: Annotated[Optional[str], typer.Option("--status", help="UN, PR, NS, NA, NC, NR, NE, NF or PE.")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="OCS, OPENET, FILE:<partner>.")] = None,
    subscription: Annotated[Optional[str], typer.Option("--subscription", help="One subscription's requests.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Network requests, newest first."""
    rows = _store(home).list_requests(status=status, target=target, subscription_id=subscription, limit=limit)
    if json_out:
        _print_json(rows)
        return
    table = Table()
    for col in ("request", "subscription", "target", "command", "seq", "status", "tries", "error"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["request_id"]), r["subscription_id"] or "", r["target"], r["command"], str(r["sequence"]),
                      r["status"], str(r["attempts"]), r["error_text"] or "")
    out.print(table)


@requests_app.command("show")
def requests_show(request_id: Annotated[int, typer.Argument()], home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """One request with its full status history."""
    doc = _store(home).show_request(request_id)
    if json_out:
        _print_json(doc)
        return
    for key, value in doc.items():
        if key != "history":
            out.print(f"{key:<18} {value}", markup=False)
    for h in doc["history"]:
        out.print(f"  {h['seq']:>3} {h['status']} {h['changed_at']:%Y-%m-%d %H:%M:%S} {h['actor']} {h['note'] or ''}", markup=False)


def _operator_action(action: str, request_id: int, reason: str, home: Path | None, json_out: bool) -> None:
    import getpass
    from datetime import datetime, timezone

    if not reason.strip():
        raise UsageError("--reason must say why", hint="it is written into the request's history")
    store = _store(home)
    act = store.resubmit_request if action == "resubmit" else store.close_request
    doc = act(request_id, reason, f"operator:{getpass.getuser()}", datetime.now(timezone.utc))
    _print_json(doc) if json_out else out.print(f"request {request_id}: {doc['status']}")


@requests_app.command("resubmit")
def requests_resubmit(request_id: Annotated[int, typer.Argument()],
                      reason: Annotated[str, typer.Option("--reason", help="Why (kept in history).")],
                      home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Send an unresolved request (NR, NF, PE, NE) again: back to UN."""
    _operator_action("resubmit", request_id, reason, home, json_out)


@requests_app.command("close")
def requests_close(request_id: Annotated[int, typer.Argument()],
                   reason: Annotated[str, typer.Option("--reason", help="Why (kept in history).")],
                   home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Close a request without the network (it counts as complete and unblocks the next one)."""
    _operator_action("close", request_id, reason, home, json_out)


# --- probes ----------------------------------------------------------------------------------

probes_app = typer.Typer(help="Probes: scheduled checks, their values and outcomes, alerts.", no_args_is_help=True)
app.add_typer(probes_app, name="probes")


def _probe_store(home: Path | None):
    from actors.clients import StoreClient

    config, _ = _connect(home)
    return config, StoreClient.lookup(config.ray.namespace)


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "-"


def _value(value) -> str:
    return "-" if value is None else f"{value:.4g}"


@probes_app.command("list")
def probes_list(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Every probe: type, kind, schedule, thresholds, last run, outcome, firing alerts."""
    config, store = _probe_store(home)
    rows = store.probe_list(config)
    if json_out:
        _print_json(rows)
        return
    table = Table()
    for col in ("probe", "type", "kind", "schedule", "warn", "severe", "last run", "outcome", "firing"):
        table.add_column(col)
    for r in rows:
        th = r["thresholds"]
        table.add_row(r["name"] + ("" if r["enabled"] else " (off)"), r["type"], r["kind"], r["schedule"],
                      _value(th["warning"]), _value(th["severe"]), _when(r["last_run_at"]), r["last_outcome"] or "-",
                      str(r["firing"]))
    out.print(table)


@probes_app.command("run")
def probes_run(name: Annotated[str, typer.Argument(help="Probe name (see `cmpctl probes list`).")],
               home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Run one probe now; exit 1 when it is not a success (warning, severe, probe failed)."""
    config, store = _probe_store(home)
    if name not in config.probes:
        raise UsageError(f"no probe {name!r}", hint=f"known: {', '.join(sorted(config.probes))}")
    (run,) = store.run_probes(config, [name])
    if json_out:
        _print_json(run)
    else:
        out.print(f"{run['probe']}: {run['outcome']}" + (f" ({run['error']})" if run["error"] else ""), markup=False)
        for r in run["results"]:
            out.print(f"  {r['subject'] or '-'}: {_value(r['value'])} {r['outcome']} {r['detail']}", markup=False)
        for e in run["events"]:
            failed = [d["recipient"] for d in e["deliveries"] if not d["ok"]]
            out.print(f"  alert {e['alert_id']} {e['event']} → {len(e['deliveries'])} recipients"
                      + (f" (failed: {', '.join(failed)})" if failed else ""), markup=False)
    if run["outcome"] != "success":
        raise typer.Exit(1)


@probes_app.command("history")
def probes_history(name: Annotated[Optional[str], typer.Argument(help="Only this probe.")] = None,
                   limit: Annotated[int, typer.Option("--limit")] = 50, home: HomeOpt = None,
                   json_out: JsonOpt = False) -> None:
    """Probe results, newest first: value and outcome per subject."""
    _, store = _probe_store(home)
    rows = store.probe_history(name, limit)
    if json_out:
        _print_json(rows)
        return
    table = Table()
    for col in ("run at", "probe", "subject", "value", "outcome", "detail"):
        table.add_column(col)
    for r in rows:
        table.add_row(_when(r["run_at"]), r["probe"], r["subject"] or "-", _value(r["value"]), r["outcome"],
                      r["detail"] or "")
    out.print(table)


@probes_app.command("alerts")
def probes_alerts(active: Annotated[bool, typer.Option("--active", help="Only pending and firing alerts.")] = False,
                  limit: Annotated[int, typer.Option("--limit")] = 50, home: HomeOpt = None,
                  json_out: JsonOpt = False) -> None:
    """Alert history: state, severity, subject, when it fired and resolved, notifications sent."""
    _, store = _probe_store(home)
    rows = store.probe_alerts(active_only=active, limit=limit)
    if json_out:
        _print_json(rows)
        return
    table = Table()
    for col in ("alert", "probe", "subject", "state", "severity", "value", "fired", "resolved", "sent"):
        table.add_column(col)
    for r in rows:
        sent = sum(1 for n in r["notifications"] if n["ok"])
        table.add_row(str(r["alert_id"]), r["probe"], r["subject"], r["state"], r["severity"], _value(r["value"]),
                      _when(r["fired_at"]), _when(r["resolved_at"]), f"{sent}/{len(r['notifications'])}")
    out.print(table)


# --- netsim ----------------------------------------------------------------------------------

netsim_app = typer.Typer(help="The network simulator (OCS and Openet APIs) for tests and demos.", no_args_is_help=True)
app.add_typer(netsim_app, name="netsim")


@netsim_app.command("serve", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def netsim_serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", help="TCP port on 127.0.0.1 (0: a free one).")] = 0,
    token: Annotated[str, typer.Option("--token", envvar="CMP_NETSIM_TOKEN", help="Bearer token clients must send.")] = "",
    faults: Annotated[str, typer.Option("--faults", help="e.g. error=0.1,timeout=0.02,reject=0.01,latency_ms=5,seed=1")] = "",
    drop_dir: Annotated[Optional[Path], typer.Option("--drop-dir", help="Where to write Bill Cycle Change Response files.")] = None,
    recipient: Annotated[Optional[list[str]], typer.Option("--recipient", help="age1… recipient of those files (repeatable).")] = None,
) -> None:
    """Serve netsim in the foreground until interrupted (other netsim flags pass through)."""
    from netsim.server import main as netsim_main

    if not token:
        raise UsageError("netsim needs --token (or CMP_NETSIM_TOKEN)")
    argv = ["--port", str(port), f"--token={token}"]  # "=": a token may start with "-"
    if faults:
        argv += ["--faults", faults]
    if drop_dir:
        argv += ["--drop-dir", str(drop_dir)]
    for r in recipient or []:
        argv += ["--recipient", r]
    raise typer.Exit(netsim_main(argv + list(ctx.args)))


# --- entry point -------------------------------------------------------------------------------


# --- demo ------------------------------------------------------------------------------------


@app.command()
def demo(
    orders: Annotated[int, typer.Option("--orders", min=10, help="Orders in the generated file.")] = 10_000,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the temporary home (database, files, traces) and say where.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """The whole mission on the embedded default, every step checked: load → provisioning →
    network → bill cycle change → netsim's response file → reconciliation → probes.

    Uses a fresh temporary home, a local Ray head and netsim as a subprocess; exits 0 only if
    every step did what it should.
    """
    from actors.demo import run_demo

    report = run_demo(orders, keep=keep, progress=(lambda line: None) if json_out else err.print)
    if json_out:
        _print_json({"ok": report.ok, "home": str(report.home) if keep else None,
                     "dashboard": report.dashboard_url, "summary": report.summary,
                     "checks": [c.__dict__ for c in report.checks]})
    else:
        table = Table(title=f"cmpctl demo: {orders:,} orders", show_lines=False)
        table.add_column("step")
        table.add_column("result")
        table.add_column("at", justify="right")
        for c in report.checks:
            table.add_row(c.step, ("" if c.ok else "[red]FAILED[/red] ") + c.detail, f"{c.seconds:.1f}s")
        out.print(table)
        requests = report.summary.get("requests") or {}
        for target, depths in sorted(requests.items()):
            out.print(f"requests {target}: " + ", ".join(f"{s} {n:,}" for s, n in sorted(depths.items())))
        alerts = report.summary.get("alerts")
        if alerts is not None:
            out.print("alerts firing: " + (", ".join(alerts) if alerts else "none"))
        if report.dashboard_url:
            out.print(f"Ray dashboard (while the demo ran): {report.dashboard_url}")
        if keep:
            out.print(f"home kept at {report.home}")
        out.print("demo " + ("passed" if report.ok else "FAILED"))
    if not report.ok:
        raise typer.Exit(1)


def main() -> None:
    os.environ.setdefault("RAY_AUTH_MODE", "token")  # before anything imports ray (engine.runtime)
    debug = "--debug" in sys.argv or os.environ.get("CMP_DEBUG") == "1"
    try:
        app()
    except EngineError as exc:
        if debug:
            raise
        err.print(f"cmpctl: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("cmpctl: interrupted")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    main()
