"""The Supervisor: starts the engine's actors, watches them, restarts what died, reports state.

A detached actor named ``Supervisor`` in the engine's namespace. It knows no list of actors of
its own: it supervises whatever :func:`actors.engine.start_engine` returns (every actor handle
in the ``EngineHandles`` dataclass, directly or in a dict or list field), so actors added there
are supervised without a change here.

Two layers of restart, each for what the other cannot do:

* Ray's own: every engine actor is ``max_restarts=-1`` (Store, coordinator, daemons, and this
  Supervisor). That is safe because none keeps durable state in memory: a constructor re-runs
  against the database (the Store reopens the file, a Load daemon polls its folder again, a
  Transmission daemon gets a new worker name so its predecessor's leases expire and are re-sent
  with the same idempotency keys). A killed worker process is back in a second or two.
* The Supervisor's: an actor that is DEAD for good (``ray.kill(no_restart=True)``, a node lost
  with the restart budget spent) has freed its name, so re-running ``start_engine`` (idempotent:
  ``get_if_exists``) creates it again.

Every round pings every actor (``__ray_ready__``, with a timeout) and reads its GCS record
(state, pid, restart count); a daemon that is not answering gets RESTARTING or FAILED written to
the Store's ``daemons`` table, and its own state back once it answers again.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import ray
from ray.actor import ActorHandle
from ray.exceptions import RayError

from actors import names
from actors.clients import StoreClient, daemon_client, ping, typed
from actors.placement import pinned, this_node
from engine.config import Config
from engine.errors import EngineError, StoreBusy, TransientError

if TYPE_CHECKING:
    from actors.engine import EngineHandles

log = logging.getLogger(__name__)

NAME = names.SUPERVISOR


def members(handles: Any) -> dict[str, ActorHandle]:
    """``{role: handle}`` of every actor in an ``EngineHandles`` (fields, dicts and lists of them)."""
    found: dict[str, ActorHandle] = {}
    for f in dataclasses.fields(handles):
        value = getattr(handles, f.name)
        if isinstance(value, ActorHandle):
            found[f.name] = value
        elif isinstance(value, dict):
            found.update({str(k): v for k, v in value.items() if isinstance(v, ActorHandle)})
        elif isinstance(value, (list, tuple)):
            found.update({f"{f.name}[{i}]": v for i, v in enumerate(value) if isinstance(v, ActorHandle)})
    return found


def actor_record(handle: ActorHandle) -> dict[str, Any]:
    """The GCS's record of an actor: name, state, pid, node, restarts (no dashboard needed)."""
    from ray._private import state

    info = state.actors(actor_id=handle._ray_actor_id.hex()) or {}
    return {
        "actor_id": handle._ray_actor_id.hex(),
        "name": info.get("Name", ""),
        "gcs_state": info.get("State", "UNKNOWN"),  # ALIVE | RESTARTING | DEAD | PENDING_CREATION
        "pid": info.get("Pid", 0),
        "node_id": (info.get("Address") or {}).get("NodeID", ""),
        "restarts": info.get("NumRestarts", 0),
    }


@ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=4, num_cpus=0)
class Supervisor:
    """Runs in its own worker process; the watch loop is a thread of that process."""

    def __init__(self, config: Config, autostart_daemons: bool = True, interval: float = 2.0,
                 ping_timeout: float = 10.0, grace_rounds: int = 3, home_node: str | None = None):
        self._config = config
        self._home_node = home_node  # where the engine's actors go (actors/placement.py)
        self._autostart = autostart_daemons
        self._interval = interval
        self._ping_timeout = ping_timeout
        self._grace_rounds = grace_rounds  # unanswered rounds before a live actor is killed for Ray to restart
        self._handles: EngineHandles | None = None
        self._members: dict[str, dict[str, Any]] = {}  # role -> last report
        self._started = threading.Event()
        self._start_error: EngineError | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="Supervisor", daemon=True)
        self._thread.start()

    # -- called by cmpctl (each in this actor's process) ------------------------------------------

    def ready(self, timeout: float = 300.0) -> list[dict[str, Any]]:
        """Wait until the engine's actors are up (the first round); return the report."""
        if not self._started.wait(timeout):
            raise StoreBusy(f"the engine did not start in {timeout:.0f} s", hint="see the Ray dashboard's actor logs")
        if self._start_error:
            raise self._start_error
        return self.report()

    def report(self) -> list[dict[str, Any]]:
        """Each supervised actor: role, name, state (RUNNING/RESTARTING/UNRESPONSIVE/FAILED), pid, restarts."""
        with self._lock:
            return [dict(m) for m in self._members.values()]

    def stop_watching(self) -> None:
        """Stop restarting anything (``down`` calls this before it stops the actors)."""
        self._stop.set()
        self._thread.join(timeout=self._ping_timeout + 30)

    def pid(self) -> int:
        return os.getpid()

    # -- the watch loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        from actors.engine import start_engine

        while not self._stop.is_set() and self._handles is None:
            try:
                self._handles = start_engine(self._config, autostart_daemons=self._autostart, home_node=self._home_node)
            except EngineError as exc:
                self._start_error = exc
            except RayError as exc:  # an actor died while starting: try again next round
                log.warning("Supervisor: starting the engine failed: %s", exc)
            if self._handles is not None:
                self._start_error = None
                self._round()
                self._started.set()
            elif self._start_error is not None:
                self._started.set()  # a terminal start error (bad config): report it, keep trying
            self._stop.wait(self._interval)
        while not self._stop.wait(self._interval):
            try:
                self._round()
            except Exception:  # the watcher must outlive any one bad round
                log.exception("Supervisor: a watch round failed")

    def _round(self) -> None:
        """Ping everyone at once, read their GCS records, act on the dead and the silent."""
        from actors.engine import start_engine

        handles = members(self._handles)
        pings = ping(handles, self._ping_timeout)
        dead = False
        for role, handle in handles.items():
            status, error = pings[role]
            record = actor_record(handle)
            if record["gcs_state"] == "DEAD":
                status, dead = "FAILED", True
            elif status != "RUNNING" and record["gcs_state"] == "RESTARTING":
                status = "RESTARTING"
            self._note(role, handle, status, record, error)
        if dead and not self._stop.is_set():
            # Names of dead actors are free again: start_engine creates exactly those anew.
            self._handles = start_engine(self._config, autostart_daemons=self._autostart, home_node=self._home_node)

    def _note(self, role: str, handle: ActorHandle, status: str, record: dict, error: str | None) -> None:
        with self._lock:
            before = self._members.get(role, {})
        misses = before.get("misses", 0) + 1 if status == "UNRESPONSIVE" else 0
        if misses >= self._grace_rounds and record["gcs_state"] == "ALIVE":
            # Alive to Ray but deaf to us (hung process): kill it and let Ray restart it.
            log.warning("Supervisor: %s did not answer %d pings; restarting it", record["name"] or role, misses)
            ray.kill(handle, no_restart=False)
            status, misses = "RESTARTING", 0
        entry = {"role": role, **record, "state": status, "misses": misses, "last_error": error,
                 "checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "recovered": before.get("recovered", 0)}
        if before and before.get("state") != "RUNNING" and status == "RUNNING":
            entry["recovered"] += 1
        if before and record["restarts"] > before.get("restarts", 0):
            log.warning("Supervisor: %s was restarted by Ray (restart %d)", record["name"] or role, record["restarts"])
        with self._lock:
            self._members[role] = entry
        self._record_daemon(role, handle, entry, before)

    def _record_daemon(self, role: str, handle: ActorHandle, entry: dict, before: dict) -> None:
        """Keep the daemons table honest about a daemon that cannot write its own state."""
        try:
            spec = names.daemon(role)
        except KeyError:
            return  # not a daemon (Store, coordinator, …)
        state, note = entry["state"], entry["last_error"]
        if state == "RUNNING":
            if before.get("state", "RUNNING") == "RUNNING" and entry["restarts"] == before.get("restarts", 0):
                return  # healthy and unchanged: the daemon's own heartbeats speak for it
            try:  # back: write the state it reports itself (it may have been stopped by hand)
                state = daemon_client(handle, timeout=self._ping_timeout, actor=spec.actor_name).state()["state"]
            except (EngineError, RayError, AttributeError):
                return
            note = None
        elif state == "UNRESPONSIVE":
            return  # still alive to Ray; only a hang that outlasts the grace rounds counts
        store = self._handles.store if self._handles is not None else None
        if store is None:
            return
        try:
            StoreClient(store, timeout=self._ping_timeout).daemon_heartbeat(
                **spec.identity, state=state, polled=False,
                last_error=note or (f"restarted by Ray (restart {entry['restarts']})" if entry["restarts"] else None))
        except (EngineError, RayError) as exc:  # the Store itself may be the one restarting
            log.warning("Supervisor: cannot record %s as %s: %s", spec.actor_name, state, exc)


# -- the facade cmpctl uses (runs in the CLI's driver process) ----------------------------------


def start_supervisor(config: Config, *, autostart_daemons: bool = True, timeout: float = 300.0,
                     interval: float = 2.0) -> list[dict[str, Any]]:
    """Create (or find) the Supervisor and wait until it has the engine up; return its report.

    The Supervisor and every engine actor go on this process's node: the one with the home."""
    node = this_node()
    sup = Supervisor.options(name=NAME, namespace=config.ray.namespace, lifetime="detached",
                             get_if_exists=True, scheduling_strategy=pinned(node)).remote(
        config, autostart_daemons, interval, home_node=node)
    client = typed(sup, Supervisor, timeout=timeout + 30, actor=NAME)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.ready(max(1.0, deadline - time.monotonic()))
        except TransientError:  # the Supervisor (or an actor it waited on) was restarting
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def supervisor_report(config: Config, timeout: float = 30.0) -> list[dict[str, Any]] | None:
    """The running Supervisor's report, or None when there is none."""
    try:
        sup = ray.get_actor(NAME, namespace=config.ray.namespace)
    except ValueError:
        return None
    return typed(sup, Supervisor, timeout=timeout, actor=NAME).report()
