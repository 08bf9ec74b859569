"""The whole configuration: every section, the home, the paths inside it, cross-section checks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from engine.config.core import (OTLP_PROTOCOLS, TELEMETRY_EXPORTERS, KeysConfig, LoadConfig, RayConfig, ShutdownConfig,
                                TelemetryConfig)
from engine.config.daemons import DaemonsConfig, NetworkConfig
from engine.config.extract import BillCycleConfig, ExtractConfig
from engine.config.probes import NotifyConfig, ProbeConfig, builtin_probes
from engine.config.schedules import ScheduleConfig, SchedulerConfig, builtin_schedules
from engine.errors import ConfigError

CONFIG_FILE = "cmp.toml"


@dataclass(frozen=True)
class Config:
    home: Path = Path("~/.cmp").expanduser()  # load_config sets the real one; never a literal "~" folder
    ray: RayConfig = RayConfig()
    shutdown: ShutdownConfig = ShutdownConfig()  # deadlines of `cmpctl down`
    network: NetworkConfig = NetworkConfig()
    daemons: DaemonsConfig = DaemonsConfig()
    load: LoadConfig = LoadConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    keys: KeysConfig = KeysConfig()
    extract: ExtractConfig = ExtractConfig()
    bill_cycle: BillCycleConfig = BillCycleConfig()
    probes: dict[str, ProbeConfig] = dataclasses.field(default_factory=builtin_probes)  # checks run on a schedule (engine/probes)
    notify: NotifyConfig = NotifyConfig()  # how alerts reach their recipients (engine/notify)
    scheduler: SchedulerConfig = SchedulerConfig()
    schedules: dict[str, ScheduleConfig] = dataclasses.field(default_factory=builtin_schedules)  # cron schedules of jobs, by name

    # Paths inside the home (CLI.md).
    @property
    def db_path(self) -> Path:
        return self.home / "data" / "cmp.duckdb"

    @property
    def identity_path(self) -> Path:
        return self.home / self.keys.identity_file

    def inbound_dir(self, daemon: str) -> Path:
        return self.home / "inbound" / daemon

    def outbound_dir(self, daemon: str) -> Path:
        return self.home / "outbound" / daemon

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @property
    def quarantine_dir(self) -> Path:
        return self.home / "quarantine"

    @property
    def traces_dir(self) -> Path:
        return self.home / "traces"

    def __post_init__(self) -> None:
        if self.telemetry.exporter not in TELEMETRY_EXPORTERS:
            raise ConfigError(
                f"telemetry.exporter must be file, otlp, console or none, got {self.telemetry.exporter!r}"
            )
        if self.telemetry.otlp_protocol not in OTLP_PROTOCOLS:
            raise ConfigError(
                f"telemetry.otlp_protocol must be http/protobuf or grpc, got {self.telemetry.otlp_protocol!r}"
            )
        if not 0.0 <= self.load.max_error_ratio <= 1.0:
            raise ConfigError("load.max_error_ratio must be between 0 and 1")
        if self.load.shard_bytes < 64 * 1024:
            raise ConfigError("load.shard_bytes must be at least 65536 (one age chunk)")


__all__ = ["CONFIG_FILE", "Config"]
