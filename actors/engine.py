"""Starting and finding the engine's actors in the ``cmp`` namespace.

Every actor is named, detached and restartable, so the engine outlives the CLI that
started it; ``get_if_exists`` makes starting idempotent (a second ``up`` finds the first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ray
from ray.actor import ActorHandle

from actors import names
from actors.clients import StoreClient, actor, daemon_client
from actors.coordinator import LoadCoordinator
from actors.extract_daemon import ExtractDaemonActor
from actors.load_daemon import LoadDaemonActor
from actors.placement import pinned, this_node
from actors.store import StoreActor
from actors.scheduler import SchedulerActor
from actors.transmission_daemon import TransmissionDaemonActor
from engine import telemetry
from engine.config import Config
from engine.daemons import DAEMONS, EXTRACT, LOAD, TRANSMISSION, Daemon, DaemonKind
from engine.errors import StoreBusy

#: The actor class of each kind of daemon; the daemons themselves are the rows of engine/daemons.py.
#: (Any: a class made by @ray.remote has no static type that knows .options.)
ACTOR_CLASSES: dict[DaemonKind, Any] = {LOAD: LoadDaemonActor, TRANSMISSION: TransmissionDaemonActor,
                                        EXTRACT: ExtractDaemonActor}


@dataclass
class EngineHandles:
    store: ActorHandle
    coordinator: ActorHandle
    daemons: dict[str, ActorHandle] = field(default_factory=dict)
    scheduler: ActorHandle | None = None  # None when [scheduler] enabled = false
    probes: ActorHandle | None = None  # None when every probe is disabled

    @property
    def store_client(self) -> StoreClient:
        return StoreClient(self.store)


def _opts(name: str, config: Config, node: str) -> dict:
    return dict(name=name, namespace=config.ray.namespace, lifetime="detached", get_if_exists=True,
                scheduling_strategy=pinned(node))


def start_engine(config: Config, *, autostart_daemons: bool = True, home_node: str | None = None) -> EngineHandles:
    """Create (or find) the Store, the load coordinator and every enabled daemon, all on
    ``home_node`` (default: this process's node), the machine whose disk holds the home."""
    node = home_node or this_node()
    store = StoreActor.options(**_opts(names.STORE, config, node)).remote(str(config.db_path),
                                                                   telemetry.Settings.from_config(config))
    StoreClient(store).pid()  # wait until the database is open and migrated
    coordinator = LoadCoordinator.options(**_opts(names.COORDINATOR, config, node)).remote(config, store)
    handles = EngineHandles(store, coordinator)
    for spec in DAEMONS:
        args = _actor_args(spec, config, store, coordinator, autostart_daemons)
        if args is not None:
            actor_class = ACTOR_CLASSES[spec.kind]
            handles.daemons[spec.config_name] = actor_class.options(**_opts(spec.actor_name, config, node)).remote(*args)
    for config_name, handle in handles.daemons.items():
        daemon_client(handle, timeout=None, actor=config_name).state()
    if config.scheduler.enabled:
        handles.scheduler = SchedulerActor.options(**_opts(names.SCHEDULER, config, node)).remote(
            config, store, autostart_daemons)
        daemon_client(handles.scheduler, timeout=None, actor=names.SCHEDULER).state()
    if any(p.enabled for p in config.probes.values()):
        from actors.probes import ProbesActor

        handles.probes = ProbesActor.options(**_opts(names.PROBES, config, node)).remote(config, store, autostart_daemons)
        daemon_client(handles.probes, timeout=None, actor=names.PROBES).state()
    return handles


def _actor_args(spec: Daemon, config: Config, store: object, coordinator: object, autostart: bool) -> tuple | None:
    """The arguments the actor of ``spec`` is made with; None: it does not run (switched off,
    or a Transmission daemon whose endpoint has no url)."""
    if not config.daemons.get(spec.config_name).enabled:
        return None
    if spec.kind is TRANSMISSION:
        endpoint = config.network.get(spec.endpoint)
        return (spec, config, store, spec.target, endpoint) if endpoint.url else None
    if spec.kind is LOAD:
        return (spec, config, store, coordinator, autostart)
    return (spec, config, store, autostart)


def find_engine(config: Config) -> EngineHandles:
    ns = config.ray.namespace
    handles = EngineHandles(actor(names.STORE, ns), actor(names.COORDINATOR, ns))
    for spec in DAEMONS:
        try:
            handles.daemons[spec.config_name] = ray.get_actor(spec.actor_name, namespace=ns)
        except ValueError:
            pass  # disabled
    try:
        handles.scheduler = ray.get_actor(names.SCHEDULER, namespace=ns)
    except ValueError:
        pass  # disabled
    try:
        handles.probes = ray.get_actor(names.PROBES, namespace=ns)
    except ValueError:
        pass  # every probe disabled
    return handles


def stop_engine(config: Config) -> list[str]:
    """Stop every engine actor (actors/shutdown.py: in order, each step with a deadline); the
    names stopped or killed. Raises StoreBusy when the Store had to be killed: its database was
    not checkpointed (DuckDB replays the log at the next open, but the caller should know)."""
    from actors.shutdown import drain_engine

    report = drain_engine(config)
    store = [k for k in report.killed if k.startswith(f"{names.STORE}:")]
    if store:
        raise StoreBusy(f"{store[0]} (the database was not checkpointed)", hint="see the Store's log")
    return report.names
