"""Probes: scheduled checks, their values and outcomes, and the alerts they raise."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from cli import source
from cli.exits import ExitCode, exit_with
from cli.options import HomeOpt, JsonOpt, LimitOpt, home_config
from cli.render import Column, emit_json, number, out, render
from engine.errors import UsageError

probes_app = typer.Typer(help="Probes: scheduled checks, their values and outcomes, alerts.", no_args_is_help=True)

PROBE_COLUMNS = (
    Column("probe", lambda p: p["name"] + ("" if p["enabled"] else " (off)")), Column("type", "type"),
    Column("kind", "kind"), Column("schedule", "schedule"),
    Column("warn", lambda p: number(p["thresholds"]["warning"])),
    Column("severe", lambda p: number(p["thresholds"]["severe"])),
    Column("last run", "last_run_at"), Column("outcome", "last_outcome"), Column("firing", "firing", count=True),
)
RESULT_COLUMNS = (
    Column("run at", "run_at"), Column("probe", "probe"), Column("subject", "subject"), Column("value", "value"),
    Column("outcome", "outcome"), Column("detail", "detail"),
)
ALERT_COLUMNS = (
    Column("alert", "alert_id"), Column("probe", "probe"), Column("subject", "subject"), Column("state", "state"),
    Column("severity", "severity"), Column("value", "value"), Column("fired", "fired_at"),
    Column("resolved", "resolved_at"),
    Column("sent", lambda a: f"{sum(1 for n in a['notifications'] if n['ok'])}/{len(a['notifications'])}"),
)


@probes_app.command("list")
def probes_list(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Every probe: type, kind, schedule, thresholds, last run, outcome, firing alerts."""
    render(source.reader(home).probe_list(home_config(home)), PROBE_COLUMNS, json_out)


@probes_app.command("run")
def probes_run(name: Annotated[str, typer.Argument(help="Probe name (see `cmpctl probes list`).")],
               home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Run one probe now; exit 1 when it is not a success (warning, severe, probe failed)."""
    config = home_config(home)
    if name not in config.probes:
        raise UsageError(f"no probe {name!r}", hint=f"known: {', '.join(sorted(config.probes))}")
    (run,) = source.store(home).run_probes(config, [name])
    if json_out:
        emit_json(run)
    else:
        out.print(f"{run['probe']}: {run['outcome']}" + (f" ({run['error']})" if run["error"] else ""), markup=False)
        for r in run["results"]:
            out.print(f"  {r['subject'] or '-'}: {number(r['value'])} {r['outcome']} {r['detail']}", markup=False)
        for e in run["events"]:
            failed = [d["recipient"] for d in e["deliveries"] if not d["ok"]]
            out.print(f"  alert {e['alert_id']} {e['event']} → {len(e['deliveries'])} recipients"
                      + (f" (failed: {', '.join(failed)})" if failed else ""), markup=False)
    if run["outcome"] != "success":
        exit_with(ExitCode.FOUND_ERRORS)


@probes_app.command("history")
def probes_history(name: Annotated[Optional[str], typer.Argument(help="Only this probe.")] = None,
                   limit: LimitOpt = 50, home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Probe results, newest first: value and outcome per subject."""
    render(source.reader(home).probe_history(name, limit=limit), RESULT_COLUMNS, json_out)


@probes_app.command("alerts")
def probes_alerts(active: Annotated[bool, typer.Option("--active", help="Only pending and firing alerts.")] = False,
                  limit: LimitOpt = 50, home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Alert history: state, severity, subject, when it fired and resolved, notifications sent."""
    render(source.reader(home).probe_alerts(active_only=active, limit=limit), ALERT_COLUMNS, json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(probes_app, name="probes")
