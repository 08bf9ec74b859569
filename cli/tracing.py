"""Traces: the span tree of a job execution or a file load, and this command's own spans."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli import source
from cli.options import HomeOpt, JsonOpt, home_config
from cli.render import emit_json, out
from engine.config import Config
from engine.errors import NotFound, UsageError

if TYPE_CHECKING:
    from engine.store.readonly import TraceSubject


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
    """A trace id as given, or that of an execution (``12``, ``exec:12``) or a batch (``batch:3``)."""
    from engine.store.readonly import SUBJECT_NAMES

    target = target.strip()
    if re.fullmatch(r"[0-9a-f]{32}", target):
        return target
    kind, _, ident = target.rpartition(":")
    if kind not in ("", "batch", "exec", "execution") or not ident.isdigit():
        raise UsageError(f"not an execution id, batch:ID or trace id: {target!r}",
                         hint="e.g. `cmpctl trace 12` or `cmpctl trace batch:3`")
    subject: TraceSubject = "batch" if kind == "batch" else "execution"
    found = source.trace_id(home, subject, int(ident))
    if found is None:
        raise NotFound(f"{SUBJECT_NAMES[subject]} {ident} has no trace id", hint="it ran with telemetry.exporter = none")
    return found


def register(app: typer.Typer) -> None:
    app.command()(trace)
