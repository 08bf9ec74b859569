"""The network simulator and the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.text import Text

from cli import source
from cli.exits import ExitCode, exit_with
from cli.options import JsonOpt
from cli.render import Column, emit_json, err, out, render
from engine.errors import UsageError

netsim_app = typer.Typer(help="The network simulator (OCS and Openet APIs) for tests and demos.", no_args_is_help=True)


@netsim_app.command("serve", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def netsim_serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", help="TCP port on 127.0.0.1 (0: a free one).")] = 0,
    token_file: Annotated[Optional[Path], typer.Option("--token-file", help="File holding the bearer token clients must send (default: $CMP_NETSIM_TOKEN).", dir_okay=False)] = None,
    faults: Annotated[str, typer.Option("--faults", help="e.g. error=0.1,timeout=0.02,reject=0.01,latency_ms=5,seed=1")] = "",
    drop_dir: Annotated[Optional[Path], typer.Option("--drop-dir", help="Where to write Bill Cycle Change Response files.")] = None,
    recipient: Annotated[Optional[list[str]], typer.Option("--recipient", help="age1… recipient of those files (repeatable).")] = None,
) -> None:
    """Serve netsim in the foreground until interrupted (other netsim flags pass through).

    The token never goes on the command line (``ps`` shows it to every user of the machine)."""
    import os

    from netsim import TOKEN_ENV
    from netsim.server import main as netsim_main

    if "--token" in ctx.args or any(a.startswith("--token=") for a in ctx.args):
        raise UsageError("--token on the command line is visible to every user (ps)",
                         hint="put the token in a file (--token-file FILE) or in CMP_NETSIM_TOKEN")
    token = os.environ.get("CMP_NETSIM_TOKEN", "")
    if not token and token_file is None:
        raise UsageError("netsim needs a token", hint="give --token-file FILE or set CMP_NETSIM_TOKEN")
    argv = ["--port", str(port)] + (["--token-file", str(token_file)] if token_file else [])
    if faults:
        argv += ["--faults", faults]
    if drop_dir:
        argv += ["--drop-dir", str(drop_dir)]
    for r in recipient or []:
        argv += ["--recipient", r]
    raise typer.Exit(netsim_main(argv + list(ctx.args), environ={TOKEN_ENV: token}))


CHECK_COLUMNS = (
    Column("step", "step"),
    Column("result", lambda c: Text(c["detail"]) if c["ok"] else Text.assemble(("FAILED ", "red"), c["detail"])),
    Column("at", lambda c: f"{c['seconds']:.1f}s"),
)




def demo(
    orders: Annotated[int, typer.Option("--orders", min=10, help="Orders in the generated file.")] = 10_000,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the temporary home (database, files, traces) and say where.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """The whole mission on the embedded default, every step checked: load → provisioning →
    network → bill cycle change → netsim's response file → reconciliation → probes.

    Uses a fresh temporary home, a local Ray head and netsim as a subprocess; exits 0 only if
    every step did what it should.
    """
    from actors.demo import run_demo

    source.runtime()  # the demo starts and joins a local Ray: keep Ray's own lines off stderr
    report = run_demo(orders, keep=keep, progress=(lambda line: None) if json_out else err.print)
    if json_out:
        emit_json({"ok": report.ok, "home": str(report.home) if keep else None,
                   "dashboard": report.dashboard_url, "summary": report.summary,
                   "checks": [c.__dict__ for c in report.checks]})
    else:
        render([c.__dict__ for c in report.checks], CHECK_COLUMNS, False, title=f"cmpctl demo: {orders:,} orders")
        requests = report.summary.get("requests") or {}
        for target, depths in sorted(requests.items()):
            out.print(f"requests {target}: " + ", ".join(f"{s} {n:,}" for s, n in sorted(depths.items())))
        alerts = report.summary.get("alerts")
        if alerts is not None:
            out.print("alerts firing: " + (", ".join(alerts) if alerts else "none"))
        if report.dashboard_url:
            out.print(f"Ray dashboard (while the demo ran): {report.dashboard_url}")
        if keep:
            out.print(f"home kept at {report.home}")
        out.print("demo " + ("passed" if report.ok else "FAILED"))
    if not report.ok:
        exit_with(ExitCode.FOUND_ERRORS)


def register(app: typer.Typer) -> None:
    app.command()(demo)
    app.add_typer(netsim_app, name="netsim")
