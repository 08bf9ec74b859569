"""Batches and daemons."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli import source
from cli.options import HomeOpt, JsonOpt, _print_json, out


batches_app = typer.Typer(help="Batch audit: loaded files, counts and erroring records.", no_args_is_help=True)
daemons_app = typer.Typer(help="The engine's daemons.", no_args_is_help=True)


@batches_app.command("list")
def batches_list(
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 50,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Batches with category, type, direction, stage and record counts."""
    rows = source.store(home).list_batches(limit)
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
    batch = source.store(home).show_batch(batch_id, limit if errors else 0)
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
    rows = source.store(home).list_daemons()
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




def register(app: typer.Typer) -> None:
    app.add_typer(batches_app, name="batches")
    app.add_typer(daemons_app, name="daemons")
