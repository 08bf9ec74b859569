"""Batches (the audit of every loaded file) and the engine's daemons."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import source
from cli.options import HomeOpt, JsonOpt, LimitOpt
from cli.render import Column, emit_json, out, render, render_record

batches_app = typer.Typer(help="Batch audit: loaded files, counts and erroring records.", no_args_is_help=True)
daemons_app = typer.Typer(help="The engine's daemons.", no_args_is_help=True)

BATCH_COLUMNS = (
    Column("batch", "batch_id"), Column("category", "category"), Column("type", "batch_type"),
    Column("dir", "direction"), Column("stage", "stage"), Column("records", "records", count=True),
    Column("valid", "valid_records", count=True), Column("errors", "error_records", count=True),
    Column("file", "file_name"), Column("created", "created_at"),
)
BATCH_FIELDS = ("batch_id", "category", "batch_type", "direction", "stage", "stage_at", "records",
                "valid_records", "error_records", "file_name", "identifier", "sha256", "trace_id")
ERROR_COLUMNS = (
    Column("line", "line_no", count=True),
    Column("reasons", lambda e: "\n".join(e["reasons"])),
    Column("record", lambda e: e["raw"][:200], max_width=60),
)
DAEMON_COLUMNS = (
    Column("name", "name"), Column("state", "state"), Column("last poll", "last_poll_at"),
    Column("last error", "last_error"),
)


@batches_app.command("list")
def batches_list(limit: LimitOpt = 50, home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Batches with category, type, direction, stage and record counts."""
    render(source.reader(home).list_batches(limit), BATCH_COLUMNS, json_out)


@batches_app.command("show")
def batches_show(
    batch_id: Annotated[int, typer.Argument(help="Batch id.")],
    errors: Annotated[bool, typer.Option("--errors", help="List the erroring records with their reasons.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many erroring records.")] = 1000,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One batch: its file, counts, triggered jobs and (with --errors) its erroring records."""
    batch = source.reader(home).show_batch(batch_id, errors=limit if errors else 0)
    if json_out:
        emit_json(batch)
        return
    render_record(batch, False, fields=BATCH_FIELDS)
    for trig in batch.get("triggers", []):
        out.print(f"{'trigger':<14} {trig['job']} {trig['status']}", markup=False)
    if errors:
        render(batch.get("errors", []), ERROR_COLUMNS, False, title=f"Erroring records of batch {batch_id}")


@daemons_app.command("list")
def daemons_list(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Daemons with type, category, activity, state, last poll and last error."""
    render(source.reader(home).list_daemons(), DAEMON_COLUMNS, json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(batches_app, name="batches")
    app.add_typer(daemons_app, name="daemons")
