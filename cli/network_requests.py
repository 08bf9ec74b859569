"""The network request log and operator actions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cli import source
from cli.options import HomeOpt, JsonOpt, LimitOpt
from cli.render import Column, emit_json, out, render, render_record
from engine.errors import UsageError

requests_app = typer.Typer(help="The network request log and operator actions.", no_args_is_help=True)

REQUEST_COLUMNS = (
    Column("request", "request_id"), Column("subscription", "subscription_id"), Column("target", "target"),
    Column("command", "command"), Column("seq", "sequence"), Column("status", "status"),
    Column("tries", "attempts"), Column("error", "error_text"),
)
HISTORY_COLUMNS = (
    Column("seq", "seq"), Column("status", "status"), Column("changed", "changed_at"), Column("by", "actor"),
    Column("note", "note"),
)
RequestIdArg = Annotated[int, typer.Argument(help="Request id (see `cmpctl requests list`).")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept in history).")]


@requests_app.command("list")
def requests_list(
    status: Annotated[Optional[str], typer.Option("--status", help="UN, PR, NS, NA, NC, NR, NE, NF or PE.")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="OCS, OPENET, FILE:<partner>.")] = None,
    subscription: Annotated[Optional[str], typer.Option("--subscription", help="One subscription's requests.")] = None,
    limit: LimitOpt = 100,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Network requests, newest first."""
    rows = source.reader(home).list_requests(status=status, target=target, subscription_id=subscription,
                                             limit=limit)
    render(rows, REQUEST_COLUMNS, json_out)


@requests_app.command("show")
def requests_show(request_id: RequestIdArg, home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """One request with its full status history."""
    doc = source.reader(home).show_request(request_id)
    if json_out:
        emit_json(doc)
        return
    render_record(doc, False, fields=[key for key in doc if key != "history"])
    render(doc["history"], HISTORY_COLUMNS, False, title="history")


def _operator_action(action: str, request_id: int, reason: str, home: Path | None, json_out: bool) -> None:
    import getpass
    from datetime import datetime, timezone

    if not reason.strip():
        raise UsageError("--reason must say why", hint="it is written into the request's history")
    store = source.store(home)
    act = store.resubmit_request if action == "resubmit" else store.close_request
    doc = act(request_id, reason, f"operator:{getpass.getuser()}", datetime.now(timezone.utc))
    emit_json(doc) if json_out else out.print(f"request {request_id}: {doc['status']}")


@requests_app.command("resubmit")
def requests_resubmit(request_id: RequestIdArg, reason: ReasonOpt, home: HomeOpt = None,
                      json_out: JsonOpt = False) -> None:
    """Send an unresolved request (NR, NF, PE, NE) again: back to UN."""
    _operator_action("resubmit", request_id, reason, home, json_out)


@requests_app.command("close")
def requests_close(request_id: RequestIdArg, reason: ReasonOpt, home: HomeOpt = None,
                   json_out: JsonOpt = False) -> None:
    """Close a request without the network (it counts as complete and unblocks the next one)."""
    _operator_action("close", request_id, reason, home, json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(requests_app, name="requests")
