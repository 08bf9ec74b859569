"""Where cmpctl's data comes from: the running engine, joined through Ray.

Every command reaches the engine through this module and nowhere else, so that the route can
change in one place. The console (issue 15) is to answer the read-only commands (status, lists,
shows) over HTTP JSON when the engine runs: ``reader`` and ``status_document`` are where they
switch to it; commands that change something keep ``store``, the Ray path.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cli.exits import debugging
from cli.options import home_config

if TYPE_CHECKING:
    from actors.clients import StoreClient
    from engine.config import Config
    from engine.runtime import RayRun
    from engine.store.readonly import TraceSubject


def runtime() -> ModuleType:
    """``engine.runtime``, the engine's one Ray module, with Ray's own log lines kept off stderr
    unless ``--debug`` (imported on first use: file commands never pay for importing Ray)."""
    from engine import runtime as ray_runtime

    _quiet_ray(not debugging())
    return ray_runtime


def _quiet_ray(quiet: bool) -> None:
    """Keep Ray's driver log lines off stderr (or let them through again).

    Every ray.init logs "Connecting to existing Ray cluster at address: …" and "Connected to Ray
    cluster. View the dashboard at …" at INFO on the "ray" logger, whose handler writes to
    stderr. ray.init sets that logger's level itself (its ``logging_level``, INFO by default)
    and the engine's actors and runtime call ray.init, so the threshold goes on the logger's
    handlers, which ray.init leaves alone: warnings and errors still show. (Ray installed the
    handler when engine.runtime imported it.)
    """
    import logging

    for handler in logging.getLogger("ray").handlers:
        handler.setLevel(logging.WARNING if quiet else logging.NOTSET)


def connect(home: Path | None, address: str | None = None) -> tuple[Config, RayRun]:
    """Join the running engine's Ray (EngineNotRunning, exit 3, when there is none)."""
    config = home_config(home)
    return config, runtime().connect(config, address)


def store_of(config: Config) -> StoreClient:
    """The Store of the engine this process has joined: the one place the CLI looks it up."""
    from actors.clients import StoreClient

    return StoreClient.lookup(config.ray.namespace)


def store(home: Path | None) -> StoreClient:
    """The running engine's Store, for commands that change something (exit 3 when none runs)."""
    config, _ = connect(home)
    return store_of(config)


def reader(home: Path | None) -> StoreClient:
    """The running engine's Store, for commands that only read. Today the same Store as
    ``store``; this is where read-only commands will move to the console's JSON endpoint."""
    return store(home)


def status_document(home: Path | None) -> dict[str, Any]:
    """``cmpctl status``: where Ray runs, the Supervisor and its actors, and the Store's snapshot
    (daemons, queue depths, running jobs, firing alerts)."""
    from actors.supervisor import supervisor_report

    config, run = connect(home)
    snapshot = store_of(config).status()
    actors = supervisor_report(config)
    return {"address": run.address, "dashboard": run.dashboard_url,
            "supervisor": "RUNNING" if actors is not None else "ABSENT", "actors": actors or [], **snapshot}


def trace_id(home: Path | None, subject: TraceSubject, ident: int) -> str | None:
    """The trace id recorded on a batch or job execution (None: it ran untraced): from the
    running engine's Store, else, when no engine answers, from the database file read-only."""
    from engine.errors import EngineNotRunning, StoreBusy
    from engine.store.readonly import recorded_trace_id

    try:
        engine = reader(home)
        doc = engine.show_batch(ident, errors=0) if subject == "batch" else engine.job_execution(ident)
    except (EngineNotRunning, StoreBusy):
        return recorded_trace_id(home_config(home).db_path, subject, ident)
    return doc.get("trace_id") or None
