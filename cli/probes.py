"""Probes, their history and alerts."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from cli import source
from cli.options import HomeOpt, JsonOpt, _print_json, out
from engine.errors import UsageError


probes_app = typer.Typer(help="Probes: scheduled checks, their values and outcomes, alerts.", no_args_is_help=True)


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "-"


def _value(value) -> str:
    return "-" if value is None else f"{value:.4g}"


@probes_app.command("list")
def probes_list(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Every probe: type, kind, schedule, thresholds, last run, outcome, firing alerts."""
    config, store = source.probe_store(home)
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
    config, store = source.probe_store(home)
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
    _, store = source.probe_store(home)
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
    _, store = source.probe_store(home)
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




def register(app: typer.Typer) -> None:
    app.add_typer(probes_app, name="probes")
