"""The network request log and operator actions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from cli import source
from cli.options import HomeOpt, JsonOpt, _print_json, out
from engine.errors import UsageError


requests_app = typer.Typer(help="The network request log and operator actions.", no_args_is_help=True)


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
    rows = source.store(home).requests_call("list_requests", status=status, target=target,
                                         subscription_id=subscription, limit=limit)
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
    doc = source.store(home).requests_call("show_request", request_id)
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
    doc = source.store(home).requests_call(action, request_id, reason, f"operator:{getpass.getuser()}",
                                        datetime.now(timezone.utc))
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




def register(app: typer.Typer) -> None:
    app.add_typer(requests_app, name="requests")
