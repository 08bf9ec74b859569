"""The cmpctl typer app, assembled from one module per area, and its entry point.

Where a command lives: files.py (init, keys, encrypt, decrypt, validate, gen), lifecycle.py
(up, down, status, submit, load), batches.py (batches, daemons), jobs.py, schedules.py,
network_requests.py (requests), probes.py, tracing.py (trace), netsim_demo.py (netsim, demo).
A new area is a module with a ``register(app)`` function, added to AREAS below. Commands get
the engine's data from source.py, print through render.py and exit with exits.ExitCode.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from cli import batches, files, jobs, lifecycle, netsim_demo, network_requests, probes, schedules, tracing
from cli.exits import ErrorBoundary, set_debug

app = typer.Typer(
    name="cmpctl",
    cls=ErrorBoundary,
    help="Operate the cmp-provisioning engine: files, keys, loads, jobs, network requests, probes.\n\n"
    "Times are shown in UTC (2026-12-06 20:46:11Z); --json gives them in ISO 8601 with the offset. "
    "Exit codes: 0 ok, 1 errors found, 2 usage, 3 engine not running, 4 input rejected.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option(
        "--debug", envvar="CMP_DEBUG",
        help="Before the command (cmpctl --debug status): on an error, show the traceback first; "
        "let Ray's own log lines through.")] = False,
) -> None:
    # Runs before every command. Ray reads its auth mode when it is imported: the engine's
    # clusters use token authentication (engine/runtime.py), so say so before any command can
    # import Ray (RAY_AUTH_MODE=disabled in the environment opts out).
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    set_debug(debug)


AREAS = (files, lifecycle, tracing, netsim_demo, batches, jobs, schedules, network_requests, probes)
for area in AREAS:
    area.register(app)


def main() -> None:
    """The ``cmpctl`` console script (and ``python -m cli``)."""
    app(prog_name="cmpctl")
