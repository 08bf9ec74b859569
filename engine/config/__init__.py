"""Typed engine configuration: ``cmp.toml`` < ``CMP_<SECTION>__<KEY>`` env < CLI flags.

One frozen tree of dataclasses, loaded once and passed explicitly (module globals do not
cross Ray worker processes). Unknown keys are rejected with the source that named them, and
secrets live in :class:`Secret`, whose repr never shows the value.

The package, by concern:

- one module per family of sections: ``core`` (Ray, load, telemetry, keys), ``daemons``
  (``[daemons.<name>]`` and ``[network.<endpoint>]``, made from engine/daemons.py),
  ``extract`` (partners, bill cycle), ``probes`` (probes, notify), ``schedules``; ``root``
  holds :class:`Config` itself, the home's paths and the checks across sections;
- ``loader``: file < env < flags, unknown keys rejected with a suggestion;
- ``coerce``: values to their fields' types, sections and named tables built, ``to_dict``;
- ``introspect``: what the classes say about their keys (for the loader, the README reference
  in engine/config_reference.py and the template);
- ``template``: the ``cmp.toml`` that ``cmpctl init`` writes;
- ``values``: :class:`Secret` and sizes.

Import from here (``from engine.config import Config, load_config``): the modules are the
package's own layout.
"""

from __future__ import annotations

from typing import Any

from engine.config.coerce import to_dict
from engine.config.core import KeysConfig, LoadConfig, RayConfig, ShutdownConfig, TelemetryConfig
from engine.config.daemons import DAEMON_NAMES, DaemonConfig, DaemonsConfig, EndpointConfig, NetworkConfig
from engine.config.extract import BillCycleConfig, ExtractConfig, PartnerConfig
from engine.config.loader import ENV_PREFIX, default_home, load_config
from engine.config.probes import NotifyConfig, ProbeConfig, SmtpConfig, builtin_probes
from engine.config.root import CONFIG_FILE, Config
from engine.config.schedules import CATCH_UP_POLICIES, ScheduleConfig, SchedulerConfig, builtin_schedules
from engine.config.values import Secret, parse_size
from engine.errors import ConfigError


def __getattr__(name: str) -> Any:
    # DEFAULT_TOML, the cmp.toml template, is rendered from the classes on first use, not on
    # every import of the config (it reads their source: ~0.2 s).
    if name == "DEFAULT_TOML":
        from engine.config.template import render

        return render()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BillCycleConfig",
    "CATCH_UP_POLICIES",
    "CONFIG_FILE",
    "Config",
    "ConfigError",
    "DAEMON_NAMES",
    "DEFAULT_TOML",
    "DaemonConfig",
    "DaemonsConfig",
    "ENV_PREFIX",
    "EndpointConfig",
    "ExtractConfig",
    "KeysConfig",
    "LoadConfig",
    "NetworkConfig",
    "NotifyConfig",
    "PartnerConfig",
    "ProbeConfig",
    "RayConfig",
    "ShutdownConfig",
    "ScheduleConfig",
    "SchedulerConfig",
    "Secret",
    "SmtpConfig",
    "TelemetryConfig",
    "builtin_probes",
    "builtin_schedules",
    "default_home",
    "load_config",
    "parse_size",
    "to_dict",
]
