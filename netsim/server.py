"""Command line and process lifecycle: ``python -m netsim`` / ``cmpctl netsim serve``.

On start it prints exactly one line, ``netsim listening on http://HOST:PORT``, flushed, so a
parent process (tests, the demo) can read the port when ``--port 0`` picked a free one. Logs go
to stderr. SIGTERM/SIGINT stop it cleanly: stop serving, then write any pending bill cycle
change records to a last drop file, so no OCS answer is lost on shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Callable, Mapping

import pyrage
from aiohttp import web

from netsim import TOKEN_ENV
from netsim.app import SIM, Sim, add_api_routes
from netsim.control import add_control_routes
from netsim.faults import FaultSpec

log = logging.getLogger("netsim")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="netsim",
        description="Network simulator: OCS (TMF Open API style) and Openet bill-cycle APIs over HTTP.",
    )
    p.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--token-file", type=Path, metavar="FILE",
                   help=f"file holding the bearer token every request must carry (default: ${TOKEN_ENV})")
    p.add_argument("--token", help=argparse.SUPPRESS)  # refused: argv is world-readable (ps)
    p.add_argument("--drop-dir", type=Path, help="where to write Bill Cycle Change Response files")
    p.add_argument("--recipient", action="append", default=[], metavar="AGE1…",
                   help="age X25519 recipient of the drop files (repeatable; required with --drop-dir)")
    p.add_argument("--faults", default="", metavar="SPEC",
                   help="e.g. error=0.1,timeout=0.02,reset=0.01,reject=0.01,latency_ms=5,seed=1")
    p.add_argument("--drop-interval", type=float, default=1.0, metavar="SECONDS",
                   help="how often pending bill cycle records are written to a file (default 1.0)")
    p.add_argument("--timeout-hold", type=float, default=30.0, metavar="SECONDS",
                   help="how long a 'timeout' fault holds the connection before closing it (default 30)")
    p.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"],
                   help="event loop: uvloop when installed (auto, ~faster), else asyncio's")
    p.add_argument("--log-level", default="WARNING",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="DEBUG logs every request with its traceparent (slow); default WARNING")
    return p


def build_app(sim: Sim) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[SIM] = sim  # for embedding and debugging; the handlers hold it in closures
    add_api_routes(app, sim)
    add_control_routes(app, sim)
    return app


def read_token(args: argparse.Namespace, parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> str:
    """The bearer token, from ``--token-file`` or the environment: never from argv, which every
    user of the machine can read (``ps``, ``/proc/PID/cmdline``)."""
    if args.token is not None:
        parser.error(f"--token on the command line is visible to every user (ps); "
                     f"use --token-file FILE or the environment variable {TOKEN_ENV}")
    if args.token_file is not None:
        try:
            token = next(iter(args.token_file.read_text().splitlines()), "").strip()  # its first line
        except OSError as exc:
            parser.error(f"--token-file: cannot read {args.token_file}: {exc.strerror or exc}")
        if not token:
            parser.error(f"--token-file: {args.token_file} is empty")
        return token
    token = environ.get(TOKEN_ENV, "")
    if not token:
        parser.error(f"no token: give --token-file FILE or set {TOKEN_ENV}")
    return token


def make_sim(args: argparse.Namespace, parser: argparse.ArgumentParser, token: str) -> Sim:
    """Validate the options that argparse cannot (usage errors exit 2 with one clear line)."""
    try:
        faults = FaultSpec.parse(args.faults)
    except ValueError as exc:
        parser.error(f"--faults: {exc}")
    if args.drop_dir is None and args.recipient:
        parser.error("--recipient needs --drop-dir")
    if args.drop_dir is not None:
        if not args.recipient:
            parser.error("--drop-dir needs at least one --recipient (drop files are encrypted)")
        try:
            args.drop_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            parser.error(f"--drop-dir: {exc}")
    if args.drop_interval <= 0 or args.timeout_hold < 0:
        parser.error("--drop-interval must be > 0 and --timeout-hold >= 0")
    try:
        return Sim(token, faults,
                   {"drop_dir": args.drop_dir, "recipients": args.recipient, "interval": args.drop_interval},
                   timeout_hold=args.timeout_hold)
    except pyrage.RecipientError as exc:
        parser.error(f"--recipient: {exc}")


async def serve(sim: Sim, host: str, port: int) -> None:
    app = build_app(sim)
    # access_log=None: no per-request log line (the benchmark path); shutdown_timeout small
    # so connections held by 'timeout' faults do not delay a stop.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=2048)
    await site.start()
    bound = runner.addresses[0][1]
    shown = f"[{host}]" if ":" in host else host
    print(f"netsim listening on http://{shown}:{bound}", flush=True)
    log.info("faults: %s; drop dir: %s", sim.faults.spec.to_spec() or "none", sim.bcc.drop_dir)

    # The heap only grows during a run (120k keys, answers, subscribers), so the default
    # cyclic-GC schedule rescans it ever more often for nothing: freeze what start-up made and
    # collect rarely. Measured on 120k commands: +16% commands per CPU-second.
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    periodic = asyncio.create_task(sim.bcc.run_periodic()) if sim.bcc.enabled else None
    try:
        await stop.wait()
    finally:
        if periodic is not None:
            periodic.cancel()
            await asyncio.gather(periodic, return_exceptions=True)
        await runner.cleanup()  # stop accepting, let in-flight requests finish (1 s)
        # The state outlives the server: whatever was accepted goes into a last file.
        if sim.bcc.enabled:
            try:
                names = await sim.bcc.flush()
                if names:
                    log.info("final flush wrote %s", ", ".join(names))
            except Exception:  # noqa: BLE001 - already logged by the writer
                log.error("final flush failed; %d records not written", len(sim.state.pending_bcc))


def loop_factory(choice: str, parser: argparse.ArgumentParser) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop is optional (not a dependency): used when installed, because the event loop and
    transports are a large share of netsim's cost per request. ``--loop asyncio`` opts out."""
    if choice == "asyncio":
        return None
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        if choice == "uvloop":
            parser.error("--loop uvloop: uvloop is not installed")
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    """``environ``: where ``NETSIM_TOKEN`` is read (default: this process's environment)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        sim = make_sim(args, parser, read_token(args, parser, os.environ if environ is None else environ))
        factory = loop_factory(args.loop, parser)
    except SystemExit as exc:  # usage error (2) or --help (0): a code, not an exception
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(serve(sim, args.host, args.port))
    except OSError as exc:  # e.g. the port is taken
        print(f"netsim: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
