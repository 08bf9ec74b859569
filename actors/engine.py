"""Starting and finding the engine's actors in the ``cmp`` namespace.

Every actor is named, detached and restartable, so the engine outlives the CLI that
started it; ``get_if_exists`` makes starting idempotent (a second ``up`` finds the first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ray
from ray.actor import ActorHandle

from actors import names
from actors.clients import ActorClient, StoreClient, actor, daemon_client
from actors.coordinator import LoadCoordinator
from actors.extract_daemon import ExtractDaemonActor
from actors.load_daemon import LoadDaemonActor
from actors.placement import pinned, this_node
from actors.store import StoreActor
from actors.scheduler import SchedulerActor
from actors.transmission_daemon import TransmissionDaemonActor
from engine import telemetry
from engine.config import Config
from engine.errors import EngineError

LOAD_DAEMONS = ("load_provisioning", "load_bill_cycle")
EXTRACT_DAEMONS = ("extract_provisioning", "extract_bill_cycle")
DAEMON_ACTORS = (*LOAD_DAEMONS, "ocs_adaptor", "openet_adaptor", *EXTRACT_DAEMONS)


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
    for config_name in LOAD_DAEMONS:
        if not config.daemons.get(config_name).enabled:
            continue
        spec = names.daemon(config_name)
        handles.daemons[config_name] = LoadDaemonActor.options(**_opts(spec.actor_name, config, node)).remote(
            spec, config, store, coordinator, autostart_daemons
        )
    ocs = names.daemon("ocs_adaptor")
    if config.daemons.ocs_adaptor.enabled and config.network.ocs.url:
        handles.daemons["ocs_adaptor"] = TransmissionDaemonActor.options(**_opts(ocs.actor_name, config, node)).remote(
            ocs, config, store, "OCS", config.network.ocs)
    # The Openet Bill Cycle adaptor: the same daemon over the same queue, for target OPENET.
    openet = names.daemon("openet_adaptor")
    if config.daemons.openet_adaptor.enabled and config.network.openet.url:
        handles.daemons["openet_adaptor"] = TransmissionDaemonActor.options(
            **_opts(openet.actor_name, config, node)).remote(openet, config, store, "OPENET", config.network.openet)
    for config_name in EXTRACT_DAEMONS:
        if config.daemons.get(config_name).enabled:
            spec = names.daemon(config_name)
            handles.daemons[config_name] = ExtractDaemonActor.options(**_opts(spec.actor_name, config, node)).remote(
                spec, config, store, autostart_daemons)
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


def find_engine(config: Config) -> EngineHandles:
    ns = config.ray.namespace
    handles = EngineHandles(actor(names.STORE, ns), actor(names.COORDINATOR, ns))
    for config_name in DAEMON_ACTORS:
        try:
            handles.daemons[config_name] = ray.get_actor(names.daemon(config_name).actor_name, namespace=ns)
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
    """Stop the scheduler and probes (no new work), then the daemons (each finishes the file or
    request in hand), then the coordinator and the Store (it lets a running job finish)."""
    ns = config.ray.namespace
    stopped = [name for name in (names.SCHEDULER, names.PROBES) if _stop(name, ns, "stop", 120)]
    stopped += [name for name in (names.daemon(c).actor_name for c in DAEMON_ACTORS) if _stop(name, ns, "stop", 600)]
    stopped += [name for name in (names.COORDINATOR,) if _stop(name, ns, None, 0)]
    stopped += [name for name in (names.STORE,) if _stop(name, ns, "close", 900, quiet=False)]
    wait_until_gone(stopped, ns)
    return stopped


def _stop(name: str, namespace: str, method: str | None, timeout: float, *, quiet: bool = True) -> bool:
    """Ask the named actor to ``method`` (if any), then kill it for good; False if not running.

    ``quiet``: an actor that cannot answer is killed all the same; the Store's shutdown error is
    raised instead (its database may need attention)."""
    try:
        handle = ray.get_actor(name, namespace=namespace)
    except ValueError:
        return False
    try:
        if method:
            getattr(ActorClient(handle, timeout=timeout, actor=name), method)()
    except EngineError:
        if not quiet:
            raise
    finally:
        ray.kill(handle, no_restart=True)
    return True


def wait_until_gone(actor_names: list[str], namespace: str, timeout: float = 30.0) -> None:
    """ray.kill is asynchronous: wait until the names are free for a new engine."""
    import time

    deadline = time.monotonic() + timeout
    for name in actor_names:
        while time.monotonic() < deadline:
            try:
                ray.get_actor(name, namespace=namespace)
            except ValueError:
                break
            time.sleep(0.1)
