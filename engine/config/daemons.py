"""``[daemons.<name>]`` and ``[network.<endpoint>]``: one section per row of the daemon table.

The daemons are declared once, in engine/daemons.py; the classes of these two sections are made
from that table (a new daemon brings its section with it), with the class defaults below.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from engine.config.values import Secret
from engine.daemons import DAEMONS, TRANSMISSION, of_kind
from engine.errors import ConfigError


@dataclass(frozen=True)
class EndpointConfig:
    url: str = ""  # the API base, e.g. netsim's "http://127.0.0.1:8700"; empty: no adaptor for this target
    token: Secret = Secret("")  # bearer token; never printed
    timeout_seconds: float = 10.0  # per HTTP call
    max_in_flight: int = 64  # concurrent commands in flight against this target
    rate_per_second: float = 0.0  # 0: unlimited
    max_retries: int = 5  # NE retries before NF
    backoff_base_seconds: float = 0.5  # first retry delay of a transient fault (doubles, with jitter)
    backoff_max_seconds: float = 60.0  # longest retry delay
    lease_seconds: float = 60.0  # a claim older than this goes back to work


@dataclass(frozen=True)
class DaemonConfig:
    enabled: bool = True  # false: the daemon is not started
    poll_seconds: float = 2.0  # seconds between polls of its folder or queue


#: Config names of the daemons (engine/daemons.py).
DAEMON_NAMES: tuple[str, ...] = tuple(d.config_name for d in DAEMONS)


class SectionPerName:
    """Base of a section made with one sub-section per name (a daemon, an endpoint)."""

    SECTION = ""  # its key in cmp.toml

    def get(self, name: str) -> Any:
        names = [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        if name not in names:
            raise ConfigError(f"no section [{self.SECTION}.{name}]", hint=f"known: {', '.join(names)}")
        return getattr(self, name)


def _section_per_name(cls_name: str, section: str, defaults: Mapping[str, Any]) -> type:
    """A frozen section class with one field per name, each defaulting to its given section."""
    fields = [(name, type(value), dataclasses.field(default=value)) for name, value in defaults.items()]
    cls = dataclasses.make_dataclass(cls_name, fields, bases=(SectionPerName,), frozen=True,
                                     namespace={"SECTION": section})
    cls.__module__ = __name__  # where pickle finds it (make_dataclass takes module= from Python 3.12)
    return cls


# What a type checker sees of the classes made below.
if TYPE_CHECKING:
    class DaemonsConfig(SectionPerName):
        def __init__(self, **daemons: DaemonConfig) -> None: ...
        def __getattr__(self, config_name: str) -> DaemonConfig: ...
        def get(self, config_name: str) -> DaemonConfig: ...

    class NetworkConfig(SectionPerName):
        def __init__(self, **endpoints: EndpointConfig) -> None: ...
        def __getattr__(self, endpoint: str) -> EndpointConfig: ...
        def get(self, endpoint: str) -> EndpointConfig: ...
else:
    DaemonsConfig = _section_per_name(
        "DaemonsConfig", "daemons", {d.config_name: DaemonConfig(poll_seconds=d.poll_seconds) for d in DAEMONS})
    NetworkConfig = _section_per_name("NetworkConfig", "network", {d.endpoint: EndpointConfig() for d in of_kind(TRANSMISSION)})


__all__ = ["DAEMON_NAMES", "DaemonConfig", "DaemonsConfig", "EndpointConfig", "NetworkConfig", "SectionPerName"]
