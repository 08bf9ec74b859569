"""The engine's daemons (DOMAIN.md), declared once.

Each row of :data:`DAEMONS` says what a daemon is called (its config name and the
Type/Category/Activity the dashboard and ``cmpctl daemons list`` show), what it does (its kind,
and per kind: the inbound interface types and the jobs they trigger, the network target and its
endpoint section, or which file requests it writes) and how fast it polls by default. Everything
else derives from this table: the ``[daemons.<name>]`` config sections, the home's
``inbound/<name>/`` and ``outbound/<name>/`` folders, the actor names, the daemon a probe names
for a target, the Extract daemons' routing, and the actors ``start_engine`` creates.

A new daemon of an existing kind is one row here. A new kind also needs its actor class in
``actors/engine.py`` (``ACTOR_CLASSES``) and its place in the engine.

A leaf module: it imports nothing from the engine, so config, loading, extract and probes can
all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

#: Requests to a target ``FILE:<partner>`` are written to files by the Extract daemons.
FILE_TARGET_PREFIX = "FILE:"


class DaemonKind(StrEnum):
    """What a daemon does; the value is its Type as DOMAIN.md and the ``daemons`` table name it."""

    LOAD = "Load"  # polls inbound/<name>/, loads generic files, triggers jobs
    TRANSMISSION = "Transmission"  # sends the requests of a network target over HTTP
    EXTRACT = "Extract"  # writes the requests of FILE:<partner> targets to outbound/<name>/


@dataclass(frozen=True)
class Inbound:
    """An interface type a Load daemon takes, and the jobs a committed batch of it triggers."""

    interface_type: str
    triggers: tuple[str, ...]


@dataclass(frozen=True)
class Daemon:
    config_name: str  # [daemons.<config_name>] in cmp.toml; its inbound/outbound folder
    kind: DaemonKind
    category: str
    activity: str  # as DOMAIN.md writes it; the actor name drops the spaces
    poll_seconds: float  # default of daemons.<config_name>.poll_seconds
    inbound: tuple[Inbound, ...] = ()  # Load: the interface types it takes
    target: str = ""  # Transmission: the network target it serves (requests' target)
    endpoint: str = ""  # Transmission: its endpoint section, [network.<endpoint>]
    writes: str = ""  # Extract: the record type (interfaceType) of its files
    #: Extract: the commands of FILE: requests it writes; empty: every command that no other
    #: Extract daemon names
    commands: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Each kind's own fields are required of it and refused of the others.
        for field_name, kinds, required in (("inbound", {DaemonKind.LOAD}, True),
                                            ("target", {DaemonKind.TRANSMISSION}, True),
                                            ("endpoint", {DaemonKind.TRANSMISSION}, True),
                                            ("writes", {DaemonKind.EXTRACT}, True),
                                            ("commands", {DaemonKind.EXTRACT}, False)):
            given = bool(getattr(self, field_name))
            if given and self.kind not in kinds:
                raise ValueError(f"daemon {self.config_name}: {field_name} is not for {self.kind.value} daemons")
            if required and not given and self.kind in kinds:
                raise ValueError(f"daemon {self.config_name}: {self.kind.value} daemons need {field_name}")

    @property
    def daemon_type(self) -> str:
        return self.kind.value

    @property
    def actor_name(self) -> str:
        """``Load/Provisioning/FromGenericFormat``: the Ray actor's name and the ``daemons`` row's."""
        return f"{self.daemon_type}/{self.category}/{self.activity.replace(' ', '')}"

    @property
    def identity(self) -> dict[str, str]:
        """How the daemon is named in its ``daemons`` row (the heartbeat's identifying columns)."""
        return {"name": self.actor_name, "daemon_type": self.daemon_type, "category": self.category,
                "activity": self.activity}

    @property
    def triggers(self) -> dict[str, tuple[str, ...]]:
        """Load: interface type -> the jobs a committed batch of it triggers."""
        return {i.interface_type: i.triggers for i in self.inbound}

    @property
    def config_section(self) -> str:
        return f"daemons.{self.config_name}"


LOAD, TRANSMISSION, EXTRACT = DaemonKind.LOAD, DaemonKind.TRANSMISSION, DaemonKind.EXTRACT

DAEMONS: tuple[Daemon, ...] = (
    Daemon("load_provisioning", LOAD, "Provisioning", "From Generic Format", poll_seconds=2.0,
           inbound=(Inbound("Order", triggers=("provisioning",)),
                    Inbound("Response", triggers=("response_handling",)))),
    Daemon("load_bill_cycle", LOAD, "Provisioning", "From Generic Format (Bill Cycle Change)", poll_seconds=2.0,
           inbound=(Inbound("Bill Cycle Change Response", triggers=("reconciliation",)),)),
    Daemon("ocs_adaptor", TRANSMISSION, "Provisioning", "OCS adaptor", poll_seconds=0.5,
           target="OCS", endpoint="ocs"),
    # The Openet Bill Cycle adaptor: the same daemon over the same queue, for target OPENET.
    Daemon("openet_adaptor", TRANSMISSION, "Provisioning", "Openet Bill Cycle adaptor", poll_seconds=1.0,
           target="OPENET", endpoint="openet"),
    Daemon("extract_provisioning", EXTRACT, "Provisioning", "To Generic Format", poll_seconds=10.0,
           writes="Request"),
    Daemon("extract_bill_cycle", EXTRACT, "Provisioning", "To Generic Format (Bill Cycle Change)", poll_seconds=10.0,
           writes="Bill Cycle Change Request", commands=("BILL_CYCLE_CHANGE",)),
)

_BY_NAME = {d.config_name: d for d in DAEMONS}


def _check(daemons: tuple[Daemon, ...]) -> None:
    """The table's own consistency: names, inbound types and targets each belong to one daemon."""
    for what, keys in (("config name", [d.config_name for d in daemons]),
                       ("actor name", [d.actor_name for d in daemons]),
                       ("inbound interface type", [i.interface_type for d in daemons for i in d.inbound]),
                       ("network target", [d.target for d in daemons if d.target]),
                       ("endpoint section", [d.endpoint for d in daemons if d.endpoint]),
                       ("extract command", [c for d in daemons for c in d.commands])):
        if len(set(keys)) != len(keys):
            raise ValueError(f"engine/daemons.py: a {what} is declared twice: {sorted(keys)}")
    if sum(1 for d in daemons if d.kind is EXTRACT and not d.commands) > 1:
        raise ValueError("engine/daemons.py: at most one Extract daemon takes the commands no other names")


_check(DAEMONS)


def daemon(config_name: str) -> Daemon:
    """The daemon of a config name; KeyError naming the known ones if there is none."""
    try:
        return _BY_NAME[config_name]
    except KeyError:
        raise KeyError(f"no daemon {config_name!r} (known: {', '.join(_BY_NAME)})") from None


def of_kind(kind: DaemonKind) -> tuple[Daemon, ...]:
    return tuple(d for d in DAEMONS if d.kind is kind)


def load_daemon_for(interface_type: str) -> Daemon | None:
    """The Load daemon that takes files of ``interface_type``, if any."""
    return next((d for d in of_kind(LOAD) if interface_type in d.triggers), None)


def extract_daemon_for(command: str) -> Daemon | None:
    """The Extract daemon that writes a ``FILE:`` request of ``command``: the one naming the
    command, else the one taking every command no other names."""
    extract = of_kind(EXTRACT)
    named = next((d for d in extract if command in d.commands), None)
    return named or next((d for d in extract if not d.commands), None)


def serving_daemon(target: str, command: str) -> Daemon | None:
    """The daemon that sends a request of ``command`` to ``target``: its network target's
    Transmission daemon, or for a ``FILE:`` target the Extract daemon of its command."""
    if target.startswith(FILE_TARGET_PREFIX):
        return extract_daemon_for(command)
    return next((d for d in of_kind(TRANSMISSION) if d.target == target), None)


def target_subject(target: str, command: str = "") -> str:
    """How a probe names a target's daemon: ``Transmission/Provisioning/OCSadaptor (OCS)``,
    ``Extract/Provisioning/ToGenericFormat(BillCycleChange) (FILE:bureau)``; else the target."""
    served_by = serving_daemon(target, command)
    return f"{served_by.actor_name} ({target})" if served_by else target


__all__ = ["DAEMONS", "Daemon", "DaemonKind", "EXTRACT", "FILE_TARGET_PREFIX", "Inbound", "LOAD", "TRANSMISSION",
           "daemon", "extract_daemon_for", "load_daemon_for", "of_kind", "serving_daemon", "target_subject"]
