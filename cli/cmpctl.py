"""The cmpctl typer app, assembled from one module per area, and its entry point."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from cli import batches, files, jobs, lifecycle, netsim_demo, network_requests, probes, schedules, tracing
from cli.render import err
from engine.errors import EngineError

app = typer.Typer(
    name="cmpctl",
    help="Operate the cmp-provisioning engine: files, keys, loads, jobs, network requests, probes.\n\n"
    "Times are shown in UTC (2026-12-06 20:46:11Z); --json gives them in ISO 8601 with the offset.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    # main() reads --debug itself so that it also covers errors raised before this callback.
    pass


for area in (files, lifecycle, tracing, netsim_demo, batches, jobs, schedules, network_requests, probes):
    area.register(app)


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
