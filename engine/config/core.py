"""The sections of how the engine runs: Ray, shutdown, loading, telemetry and keys."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RayConfig:
    address: str = ""  # empty: start and own a local Ray; else e.g. "ray://head:10001" or "auto"
    namespace: str = "cmp"  # Ray namespace of the engine's actors
    dashboard_host: str = "127.0.0.1"  # where a local head serves the dashboard
    dashboard_port: int = 8265  # dashboard port of a local head
    num_cpus: int = 0  # 0: all cores of this machine (local Ray only)
    home_shared: bool = False  # true: every node mounts the home at the same path (load shards then spread over the nodes)


@dataclass(frozen=True)
class ShutdownConfig:
    """Deadlines of `cmpctl down`'s steps: what has not stopped by then is killed, so down always ends."""

    supervisor_seconds: float = 30.0  # the Supervisor stops watching (so it restarts nothing)
    daemons_seconds: float = 120.0  # daemons, scheduler and probes finish the work in hand, all at once
    store_seconds: float = 180.0  # claims released, then the Store lets a running job end and checkpoints
    ray_head_seconds: float = 2.0  # then what is left of a local head is killed (on SIGTERM alone its raylet took ~10 s)

    def __post_init__(self) -> None:
        for name in ("supervisor_seconds", "daemons_seconds", "store_seconds", "ray_head_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")


@dataclass(frozen=True)
class LoadConfig:
    shard_bytes: int = 64 * 1024 * 1024  # files above this are split into shards
    max_error_ratio: float = 0.10  # reject the whole file above this share of bad records
    max_line_bytes: int = 16 * 1024 * 1024  # a longer line is an invalid record
    max_depth: int = 64  # a record nested deeper (objects and arrays) is an invalid record, found before parsing
    workers: int = 0  # parallel shard workers; 0: one per CPU of the cluster


TELEMETRY_EXPORTERS = ("file", "otlp", "console", "none")
OTLP_PROTOCOLS = ("http/protobuf", "grpc")


@dataclass(frozen=True)
class TelemetryConfig:
    exporter: str = "file"  # file | otlp | console | none
    otlp_endpoint: str = ""  # otlp: e.g. "http://collector:4318" (http/protobuf) or "collector:4317" (grpc)
    otlp_protocol: str = "http/protobuf"  # http/protobuf | grpc
    service_name: str = "cmp-provisioning"  # service.name of every span
    retention_days: int = 14  # file: span files older than this many days are deleted (0: keep all)


@dataclass(frozen=True)
class KeysConfig:
    identity_file: str = "keys/identity.txt"  # relative to home
    recipients: tuple[str, ...] = ()  # extra recipients of outbound files (partners)


__all__ = ["KeysConfig", "LoadConfig", "OTLP_PROTOCOLS", "RayConfig", "ShutdownConfig", "TELEMETRY_EXPORTERS",
           "TelemetryConfig"]
