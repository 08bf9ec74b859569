"""Traces: the span tree of a job execution or a file load."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli import source
from cli.options import HomeOpt, JsonOpt, home_config
from cli.render import emit_json, out
from engine.config import Config
from engine.errors import EngineError, UsageError


def trace_this_command(config: Config) -> None:
    """Export this command's spans as the home's config says (traces/ by default)."""
    from engine import telemetry

    telemetry.configure(telemetry.Settings.from_config(config), component="cli")


def trace(
    target: Annotated[str, typer.Argument(help="Job execution id, batch:BATCH_ID, or a 32-hex trace id.")],
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The span tree of one job execution or file load, with durations (from traces/*.jsonl)."""
    from engine.errors import NotFound
    from engine.telemetry.jsonl import read_spans
    from engine.telemetry.tree import render_tree, span_tree

    config = home_config(home)
    trace_id = _trace_id_of(home, target)
    spans = read_spans(config.traces_dir, trace_id)
    if not spans:
        raise NotFound(f"no spans of trace {trace_id} under {config.traces_dir}",
                       hint="spans are written there with telemetry.exporter = file (the default); "
                            "with otlp, look the trace up in the collector")
    roots = span_tree(spans)
    if json_out:
        emit_json({"trace_id": trace_id, "spans": len(spans), "tree": roots})
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
        store = source.store(home)
        doc = store.show_batch(int(ident), errors=0) if table == "batches" else store.job_execution(int(ident))
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

    db = home_config(home).db_path
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise EngineNotRunning(f"cannot read {db}: {exc}", hint="start the engine (`cmpctl up`) or stop "
                               "whatever holds the database") from None
    try:
        return con.execute(sql, params).fetchone()
    finally:
        con.close()


def register(app: typer.Typer) -> None:
    app.command()(trace)
