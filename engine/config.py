"""Typed engine configuration: ``cmp.toml`` < ``CMP_<SECTION>__<KEY>`` env < CLI flags.

One frozen tree of dataclasses, loaded once and passed explicitly (module globals do not
cross Ray worker processes). Unknown keys are rejected with the source that named them, and
secrets live in :class:`Secret`, whose repr never shows the value.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from engine.errors import ConfigError

CONFIG_FILE = "cmp.toml"
ENV_PREFIX = "CMP_"


@dataclass(frozen=True)
class Secret:
    """A value that must not appear in logs, reprs or ``--json`` dumps."""

    value: str = ""

    def reveal(self) -> str:
        return self.value

    def __bool__(self) -> bool:
        return bool(self.value)

    def __repr__(self) -> str:
        return "Secret('***')" if self.value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True)
class RayConfig:
    address: str = ""  # empty: start and own a local Ray
    namespace: str = "cmp"  # Ray namespace of the engine's actors
    dashboard_host: str = "127.0.0.1"  # where a local head serves the dashboard
    dashboard_port: int = 8265  # dashboard port of a local head
    num_cpus: int = 0  # 0: all cores of this machine (local Ray only)
    home_shared: bool = False  # true: every node mounts the home at the same path (load shards then spread over the nodes)


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
class NetworkConfig:
    ocs: EndpointConfig = EndpointConfig()
    openet: EndpointConfig = EndpointConfig()


@dataclass(frozen=True)
class DaemonConfig:
    enabled: bool = True  # false: the daemon is not started
    poll_seconds: float = 2.0  # seconds between polls of its folder or queue


#: Config names of the daemons of DOMAIN.md; the registry in actors/ maps them to classes.
DAEMON_NAMES: tuple[str, ...] = (
    "load_provisioning",
    "load_bill_cycle",
    "ocs_adaptor",
    "openet_adaptor",
    "extract_provisioning",
    "extract_bill_cycle",
)


@dataclass(frozen=True)
class DaemonsConfig:
    load_provisioning: DaemonConfig = DaemonConfig()
    load_bill_cycle: DaemonConfig = DaemonConfig()
    ocs_adaptor: DaemonConfig = DaemonConfig(poll_seconds=0.5)
    openet_adaptor: DaemonConfig = DaemonConfig(poll_seconds=1.0)
    extract_provisioning: DaemonConfig = DaemonConfig(poll_seconds=10.0)
    extract_bill_cycle: DaemonConfig = DaemonConfig(poll_seconds=10.0)

    def get(self, name: str) -> DaemonConfig:
        if name not in DAEMON_NAMES:
            raise ConfigError(f"unknown daemon {name!r}", hint=f"known: {', '.join(DAEMON_NAMES)}")
        return getattr(self, name)


@dataclass(frozen=True)
class LoadConfig:
    shard_bytes: int = 64 * 1024 * 1024  # files above this are split into shards
    max_error_ratio: float = 0.10  # reject the whole file above this share of bad records
    max_line_bytes: int = 16 * 1024 * 1024  # a longer line is an invalid record
    max_depth: int = 64  # a record nested deeper (objects and arrays) is an invalid record, found before parsing
    workers: int = 0  # parallel shard workers; 0: one per CPU of the cluster


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


PROBE_TYPES = ("Normal", "Punctual", "Completed", "SQL")
#: Built-in probe kinds (engine/probes/kinds.py) by the probe type they belong to.
PROBE_KINDS = {
    "Normal": ("job_error_ratio", "adaptor_error_ratio", "load_error_ratio"),
    "Punctual": ("schedule_slots", "requests_waiting", "batches_waiting", "early_or_frequent_runs"),
    "Completed": ("job_zero_runs", "extract_zero_files"),
    "SQL": (),
}
RECIPIENT_SCHEMES = ("log", "webhook", "email", "file")


@dataclass(frozen=True)
class ProbeConfig:
    """One ``[probes.<name>]`` table: what to measure, when, against what, and whom to tell."""

    type: str = "SQL"  # Normal | Punctual | Completed | SQL
    kind: str = ""  # a built-in kind of the type (PROBE_KINDS); SQL probes give ``query``
    query: str = ""  # SQL: one read-only SELECT returning one number
    stage: str = "Provisioning"  # the probe's Stage / Category (DOMAIN.md §5), shown in lists and alerts
    category: str = "Provisioning"  # see stage
    subject: str = ""  # the job, schedule, daemon or target measured; empty: each one found
    warning: float | None = None  # thresholds (unset by default); at least one is required
    severe: float | None = None  # the worse threshold: outcome severe
    compare: str = "above"  # above: breached when value > threshold; below: when value < threshold
    window_seconds: float = 3600.0  # what is measured: the last this many seconds
    min_volume: int = 20  # Normal: fewer records than this in the window never alert
    max_wait_seconds: float = 600.0  # Punctual: grace of a slot / longest allowed wait
    max_runs: int = 0  # Punctual early_or_frequent_runs: most runs allowed in the window (0: no limit)
    interval_seconds: float = 60.0  # how often it runs, unless ``cron`` is given
    cron: str = ""  # e.g. "*/5 * * * *" (UTC)
    for_seconds: float = 0.0  # breached this long (pending) before the alert fires
    keep_firing_for_seconds: float = 0.0  # back to normal this long before the alert resolves
    recipients: tuple[str, ...] = ("log:",)  # log: | webhook:URL | email:ADDRESS | file:PATH
    enabled: bool = True  # false: not run (a built-in probe is switched off this way)

    def __post_init__(self) -> None:
        for name in ("warning", "severe"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, float):
                if isinstance(value, bool):
                    raise ValueError(f"{name} must be a number, got a boolean")
                object.__setattr__(self, name, float(value))
        if self.type not in PROBE_TYPES:
            raise ValueError(f"type must be one of {', '.join(PROBE_TYPES)}, got {self.type!r}")
        if self.type == "SQL":
            if not self.query.strip():
                raise ValueError("an SQL probe needs query = \"SELECT …\"")
        elif self.kind not in PROBE_KINDS[self.type]:
            raise ValueError(f"kind of a {self.type} probe must be one of {', '.join(PROBE_KINDS[self.type])}, "
                             f"got {self.kind!r}")
        if self.warning is None and self.severe is None:
            raise ValueError("give a threshold: warning and/or severe")
        if self.compare not in ("above", "below"):
            raise ValueError(f"compare must be above or below, got {self.compare!r}")
        if self.interval_seconds <= 0 and not self.cron:
            raise ValueError("interval_seconds must be positive (or give cron)")
        if min(self.window_seconds, self.for_seconds, self.keep_firing_for_seconds, self.max_wait_seconds) < 0:
            raise ValueError("window, for, keep_firing_for and max_wait seconds cannot be negative")
        for recipient in self.recipients:
            scheme, sep, target = recipient.partition(":")
            if not sep or scheme not in RECIPIENT_SCHEMES or (scheme != "log" and not target):
                raise ValueError(f"recipient {recipient!r} must be log:, webhook:URL, email:ADDRESS or file:PATH")


def _builtin_probes() -> dict[str, ProbeConfig]:
    from engine.probes.builtin import builtin_probes  # lazy: that module builds ProbeConfigs

    return builtin_probes()


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"  # the SMTP server of email: recipients
    port: int = 25  # 587 with starttls = true, typically
    sender: str = "cmp-provisioning@localhost"  # the From address
    starttls: bool = False  # upgrade the connection with STARTTLS before any login
    user: str = ""  # empty: no login
    password: Secret = Secret("")  # the login's password; kept out of logs
    timeout_seconds: float = 10.0  # connect and each SMTP command


@dataclass(frozen=True)
class NotifyConfig:
    webhook_timeout_seconds: float = 5.0  # a slower webhook is recorded as a failed delivery
    file_dir: str = "alerts"  # relative file: recipients are written here (relative to home)
    smtp: SmtpConfig = SmtpConfig()


CATCH_UP_POLICIES = ("skip", "once", "all")


@dataclass(frozen=True)
class ScheduleConfig:
    """One ``[schedules.<name>]`` table: run ``job`` at every slot of ``cron`` (engine/schedule)."""

    job: str = ""  # the registered job to run (`cmpctl jobs list`)
    cron: str = ""  # five fields, read in ``timezone`` (DST-correct)
    params: dict[str, str] = dataclasses.field(default_factory=dict)  # a table, or "k=v,k=v" from env
    timezone: str = ""  # empty: [scheduler] timezone
    catch_up: str = "once"  # slots missed while the engine was down: skip | once | all
    catch_up_cap: int = 10  # catch_up = "all": at most this many missed slots run
    grace_seconds: float = 60.0  # not started this long after its slot: late
    max_duration_seconds: float = 0.0  # running longer than this: overran (0: no limit)
    enabled: bool = True  # false: no slots are planned (waiting ones become missed)

    def __post_init__(self) -> None:
        if not self.job:
            raise ValueError("job is required (a name from `cmpctl jobs list`)")
        from engine.schedule.cron import check_cron, check_timezone  # lazy: croniter

        check_cron(self.cron)
        if self.timezone:
            check_timezone(self.timezone)
        if self.catch_up not in CATCH_UP_POLICIES:
            raise ValueError(f"catch_up must be skip, once or all, got {self.catch_up!r}")
        if self.catch_up_cap < 0 or self.grace_seconds < 0 or self.max_duration_seconds < 0:
            raise ValueError("catch_up_cap, grace_seconds and max_duration_seconds cannot be negative")


def _builtin_schedules() -> dict[str, ScheduleConfig]:
    # The provisioning job every minute is the safety net behind the load daemons' triggers:
    # scheduled without a batch, it provisions every committed batch still waiting for it.
    return {
        "provisioning": ScheduleConfig(job="provisioning", cron="* * * * *", catch_up="once",
                                       grace_seconds=30.0, max_duration_seconds=900.0),
        "reconciliation": ScheduleConfig(job="reconciliation", cron="0 3 * * *", catch_up="once",
                                         grace_seconds=900.0, max_duration_seconds=7200.0),
    }


@dataclass(frozen=True)
class SchedulerConfig:
    timezone: str = "Europe/London"  # cron schedules are read in this zone unless they name one
    tick_seconds: float = 5.0  # how often the Scheduler actor looks at the clock
    enabled: bool = True  # false: no Scheduler actor

    def __post_init__(self) -> None:
        from engine.schedule.cron import check_timezone

        check_timezone(self.timezone)
        if self.tick_seconds <= 0:
            raise ValueError("tick_seconds must be positive")


@dataclass(frozen=True)
class BillCycleConfig:
    #: also send every bill cycle change by file, as a ``FILE:<partner>`` request that the
    #: Extract / To Generic Format (Bill Cycle Change) daemon writes out; empty: Openet only
    file_partner: str = ""  # non-empty: bill cycle changes also go to this file partner (FILE:<partner>)

    def __post_init__(self) -> None:
        if self.file_partner and not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", self.file_partner):
            raise ConfigError(f"bill_cycle.file_partner must be 1-32 of A-Z a-z 0-9 . _ -, got {self.file_partner!r}",
                              hint='e.g. file_partner = "billing-bureau", or "" for none')


@dataclass(frozen=True)
class PartnerConfig:
    """One ``[extract.partners.<name>]`` table: a partner reached by file (``FILE:<name>``)."""

    format: str = ""  # "": the generic file only; "csv": also a CSV conversion (README "Extract daemons")
    recipients: tuple[str, ...] = ()  # the partner's age1… recipients (besides the home's own)
    #: CSV column -> source, in order, for Request files: a record field ("requestId"),
    #: "commandAttributes.<name>", or a 'constant' in single quotes
    columns: dict[str, str] = dataclasses.field(default_factory=dict)  # CSV column = source (see Extract daemons below)
    bill_cycle_columns: dict[str, str] = dataclasses.field(default_factory=dict)  # same, for Bill Cycle Change Requests
    delimiter: str = ","  # CSV delimiter

    def __post_init__(self) -> None:
        if self.format not in ("", "csv"):
            raise ValueError(f'format must be "csv" or "" (generic file only), got {self.format!r}')


@dataclass(frozen=True)
class ExtractConfig:
    max_records_per_file: int = 100_000  # a partner's requests beyond this go in the next file
    partners: dict[str, PartnerConfig] = dataclasses.field(default_factory=dict)  # the file partners (e.g. insurance), by name

    def __post_init__(self) -> None:
        if self.max_records_per_file < 1:
            raise ValueError("max_records_per_file must be at least 1")


@dataclass(frozen=True)
class Config:
    home: Path = Path("~/.cmp").expanduser()  # load_config sets the real one; never a literal "~" folder
    ray: RayConfig = RayConfig()
    network: NetworkConfig = NetworkConfig()
    daemons: DaemonsConfig = DaemonsConfig()
    load: LoadConfig = LoadConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    keys: KeysConfig = KeysConfig()
    extract: ExtractConfig = ExtractConfig()
    bill_cycle: BillCycleConfig = BillCycleConfig()
    probes: dict[str, ProbeConfig] = dataclasses.field(default_factory=_builtin_probes)  # checks run on a schedule (engine/probes)
    notify: NotifyConfig = NotifyConfig()  # how alerts reach their recipients (engine/notify)
    scheduler: SchedulerConfig = SchedulerConfig()
    schedules: dict[str, ScheduleConfig] = dataclasses.field(default_factory=_builtin_schedules)  # cron schedules of jobs, by name

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
        if self.telemetry.exporter not in ("file", "otlp", "console", "none"):
            raise ConfigError(
                f"telemetry.exporter must be file, otlp, console or none, got {self.telemetry.exporter!r}"
            )
        if self.telemetry.otlp_protocol not in ("http/protobuf", "grpc"):
            raise ConfigError(
                f"telemetry.otlp_protocol must be http/protobuf or grpc, got {self.telemetry.otlp_protocol!r}"
            )
        if not 0.0 <= self.load.max_error_ratio <= 1.0:
            raise ConfigError("load.max_error_ratio must be between 0 and 1")
        if self.load.shard_bytes < 64 * 1024:
            raise ConfigError("load.shard_bytes must be at least 65536 (one age chunk)")


# --- loading -------------------------------------------------------------------------------


def default_home() -> Path:
    return Path(os.environ.get("CMP_HOME") or "~/.cmp").expanduser()


def load_config(
    home: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the config of ``home``: its ``cmp.toml``, then ``CMP_*__*`` env, then ``overrides``.

    ``overrides`` maps dotted keys (``"load.shard_bytes"``) to values, as CLI flags give them.
    """
    home_path = Path(home).expanduser() if home else default_home()
    tree: dict[str, Any] = {}
    toml_path = home_path / CONFIG_FILE
    if toml_path.exists():
        try:
            with toml_path.open("rb") as fh:
                tree = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", file=str(toml_path)) from None
    _check_keys(tree, Config, str(toml_path), prefix="")
    for dotted, value in _env_items(os.environ if env is None else env):
        _set_dotted(tree, dotted, value, source=f"environment variable {_env_name(dotted)}")
    for dotted, value in (overrides or {}).items():
        _set_dotted(tree, dotted, value, source=f"flag for {dotted}")
    tree.pop("home", None)
    return _build(Config, {**tree, "home": home_path.resolve()}, source="config")


def _env_name(dotted: str) -> str:
    return ENV_PREFIX + "__".join(p.upper() for p in dotted.split("."))


def _env_items(env: Mapping[str, str]):
    # Only CMP_<SECTION>__<KEY> names are config; CMP_HOME and friends are not.
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            yield ".".join(p.lower() for p in name[len(ENV_PREFIX) :].split("__")), value


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any, *, source: str) -> None:
    parts = dotted.split(".")
    cls: Any = Config
    node = tree
    for i, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields or part == "home":
            raise ConfigError(f"unknown config key {dotted!r} (from {source}){_suggest(part, fields)}")
        ftype = _field_types(cls)[part]
        if i == len(parts) - 1:
            if _is_section(ftype) or _table_map(ftype):
                raise ConfigError(f"{dotted!r} is a section, not a key (from {source})")
            node[part] = value
        elif _table_map(ftype):
            # [schedules.<name>] and the like: the next part is the entry's name, any string.
            if i + 2 >= len(parts):
                raise ConfigError(f"{dotted!r} names an entry, not a key (from {source})")
            name = parts[i + 1]
            node = node.setdefault(part, {}).setdefault(name, {})
            _set_dotted_in(node, parts[i + 2 :], _table_map(ftype), value, dotted, source)
            return
        else:
            if not _is_section(ftype):
                raise ConfigError(f"unknown config key {dotted!r} (from {source})")
            node = node.setdefault(part, {})
            cls = ftype


def _set_dotted_in(node: dict[str, Any], parts: list[str], cls: Any, value: Any, dotted: str, source: str) -> None:
    """The rest of a dotted key inside one entry of a named table (a plain section class)."""
    for i, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            raise ConfigError(f"unknown config key {dotted!r} (from {source}){_suggest(part, fields)}")
        ftype = _field_types(cls)[part]
        if i == len(parts) - 1:
            node[part] = value
            return
        if not _is_section(ftype):
            raise ConfigError(f"unknown config key {dotted!r} (from {source})")
        node = node.setdefault(part, {})
        cls = ftype


def _check_keys(tree: Mapping[str, Any], cls: Any, source: str, prefix: str) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    types_ = _field_types(cls)
    for key, value in tree.items():
        if key not in fields or (cls is Config and key == "home"):
            raise ConfigError(f"unknown config key {prefix + key!r}{_suggest(key, fields)}", file=source)
        if _is_section(types_[key]):
            if not isinstance(value, dict):
                raise ConfigError(f"{prefix + key!r} must be a table [{prefix + key}]", file=source)
            _check_keys(value, types_[key], source, prefix + key + ".")
        elif entry_cls := _table_map(types_[key]):
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise ConfigError(f"{prefix + key!r} must hold named tables [{prefix + key}.<name>]", file=source)
            for name, entry in value.items():
                _check_keys(entry, entry_cls, source, f"{prefix}{key}.{name}.")


def _suggest(key: str, known) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _is_section(tp: Any) -> bool:
    return dataclasses.is_dataclass(tp) and tp is not Secret


def _table_map(tp: Any) -> Any:
    """The entry class of a ``dict[str, Section]`` field (named tables such as
    ``[schedules.provisioning]``), else None.

    Such a field takes its built-in entries from its ``default_factory``; a table in the config
    with a built-in's name overrides only the keys it gives, other names add entries, and an
    entry can be switched off with ``enabled = false`` where its class has that key.
    """
    if typing.get_origin(tp) is dict:
        key, value = typing.get_args(tp)
        if key is str and _is_section(value):
            return value
    return None


def _field_types(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: Any, data: Mapping[str, Any], source: str) -> Any:
    kwargs = {}
    types_ = _field_types(cls)
    for f in dataclasses.fields(cls):
        if f.name in data:
            if entry_cls := _table_map(types_[f.name]):
                kwargs[f.name] = _build_table_map(f, entry_cls, data[f.name], f"{source}.{f.name}")
            else:
                kwargs[f.name] = _coerce(types_[f.name], data[f.name], f"{source}.{f.name}")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _build_table_map(f: dataclasses.Field, entry_cls: Any, given: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Built-in entries overlaid with the given tables, key by key (see :func:`_table_map`)."""
    builtins = f.default_factory() if f.default_factory is not dataclasses.MISSING else {}
    out = dict(builtins)
    for name, entry in given.items():
        base = to_dict(builtins[name], reveal=True) if name in builtins else {}
        out[name] = _build(entry_cls, _merge(base, entry), f"{source}.{name}")
    return out


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "kb": 10**3, "kib": 2**10, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}


def parse_size(text: str) -> int:
    """``"64MiB"`` → 67108864. Plain integers are bytes."""
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 65536, 64MiB, 1GB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower() if m.group(2) else None])


def _coerce(tp: Any, value: Any, where: str) -> Any:
    key = where.removeprefix("config.")
    if _is_section(tp):
        return _build(tp, value, where)
    try:
        if tp is Secret:
            return value if isinstance(value, Secret) else Secret(str(value))
        if tp is Path:
            return Path(value).expanduser()
        if tp is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"expected true or false, got {value!r}")
        if tp is int:
            if isinstance(value, bool):
                raise ValueError("expected an integer, got a boolean")
            if isinstance(value, int):
                return value
            return parse_size(value) if key.endswith("_bytes") else int(str(value).strip())
        if tp is float:
            if isinstance(value, bool):
                raise ValueError("expected a number, got a boolean")
            return float(value)
        if tp is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError(f"expected a string, got {type(value).__name__}")
            return str(value)
        origin = typing.get_origin(tp)
        if origin is dict:  # a plain mapping of strings, e.g. a CSV column mapping
            if not isinstance(value, Mapping):
                raise ValueError(f"expected a table of names to values, got {type(value).__name__}")
            return {str(k): str(v) for k, v in value.items()}
        if origin is tuple:
            items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
            return tuple(str(v) for v in items)
        if origin is dict:
            # [schedules.<name>.params]: a table, or "k=v,k=v" from an environment variable.
            if isinstance(value, str):
                pairs = [p.partition("=") for p in value.split(",") if p.strip()]
                if any(not sep for _, sep, _ in pairs):
                    raise ValueError(f"expected key=value pairs separated by commas, got {value!r}")
                value = {k.strip(): v.strip() for k, _, v in pairs}
            if not isinstance(value, dict):
                raise ValueError(f"expected a table, got {type(value).__name__}")
            return {str(k): str(v) for k, v in value.items()}
        if origin in (types.UnionType, typing.Union):
            return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad value for {key}: {exc}") from None
    raise ConfigError(f"unsupported config type for {key}: {tp!r}")


def to_dict(config: Config, *, reveal: bool = False) -> dict[str, Any]:
    """The config as plain data (secrets redacted unless ``reveal``), e.g. for ``--json``."""

    def conv(obj: Any) -> Any:
        if isinstance(obj, Secret):
            return obj.reveal() if reveal else ("***" if obj else "")
        if dataclasses.is_dataclass(obj):
            return {f.name: conv(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        if isinstance(obj, Path):
            return str(obj)
        if isinstance(obj, tuple):
            return [conv(v) for v in obj]
        if isinstance(obj, dict):
            return {k: conv(v) for k, v in obj.items()}
        return obj

    return conv(config)


DEFAULT_TOML = """\
# cmp-provisioning engine configuration. Every key is optional; values shown are defaults.
# Override any key with an environment variable CMP_<SECTION>__<KEY> (e.g. CMP_LOAD__SHARD_BYTES)
# or a command-line flag. Unknown keys are rejected.

[ray]
address = ""            # empty: start and own a local Ray; else e.g. "ray://head:10001" or "auto"
namespace = "cmp"
dashboard_host = "127.0.0.1"
dashboard_port = 8265
home_shared = false     # true when every node mounts this home at the same path (NFS): load shards spread

[network.ocs]
url = ""                # e.g. "http://127.0.0.1:8700" (netsim) or the OCS's TMF API base
token = ""              # bearer token; kept out of logs
max_in_flight = 64
max_retries = 5

[network.openet]
url = ""
token = ""

[load]
shard_bytes = "64MiB"   # files above this are decrypted and parsed in parallel shards
max_error_ratio = 0.10  # reject a whole file whose share of bad records is above this

[telemetry]
exporter = "file"       # file (traces/*.jsonl) | otlp | console | none
otlp_endpoint = ""      # otlp: e.g. "http://collector:4318" (http/protobuf) or "collector:4317" (grpc)
otlp_protocol = "http/protobuf"
service_name = "cmp-provisioning"
retention_days = 14     # file: traces/spans-<day>-<pid>.jsonl older than this are deleted (0: keep all)

# Partners reached by file (requests with target FILE:<name>): the Extract daemons write their
# requests as encrypted generic files into outbound/<daemon>/, plus a CSV conversion.
[extract.partners.insurance]
format = "csv"
recipients = []         # the insurer's age1… recipients (the home's own is always added)
columns = { policy_ref = "requestId", action_item = "actionItemNumber", subscription = "subscriptionId", account = "accountId", msisdn = "commandAttributes.msisdn", product = "commandAttributes.code", operation = "command" }

# Bill cycle changes (cmpctl jobs run bill-cycle-change) go to Openet; name a partner to also
# send them by file (FILE:<partner> requests, written by the Bill Cycle Change Extract daemon):
# [bill_cycle]
# file_partner = "billing-bureau"

[scheduler]
timezone = "Europe/London"  # cron schedules are read in this zone unless one names its own

# Built-in schedules: provisioning every minute (safety net) and reconciliation daily at 03:00.
# Override any key of one, or add your own [schedules.<name>] tables, e.g.:
# [schedules.provisioning]
# cron = "* * * * *"
# catch_up = "once"       # after downtime: skip | once | all (all: at most catch_up_cap runs)
# grace_seconds = 30      # not started this long after its slot: late
# max_duration_seconds = 900

# Built-in probes: provisioning_errors, adaptor_errors, reconciliation_discrepancies (Normal),
# provisioning_slots, requests_waiting (Punctual), extract_files (Completed). Override any key
# of one (enabled = false switches it off), or add your own; recipients: log:, webhook:URL,
# email:ADDRESS, file:PATH.
# [probes.adaptor_errors]
# recipients = ["log:", "webhook:http://alerts.example.com/hook", "email:ops@example.com"]
# [probes.stuck_batches]
# type = "Punctual"
# kind = "batches_waiting"
# max_wait_seconds = 600
# warning = 0
# [probes.unconnected]
# type = "SQL"
# query = "SELECT count(*) FROM subscriptions WHERE status = 'PENDING' AND created_at < now() - INTERVAL 1 DAY"
# warning = 0
# severe = 100

[notify.smtp]
host = "127.0.0.1"      # the SMTP server of email: recipients
port = 25
sender = "cmp-provisioning@localhost"
starttls = false
user = ""               # with password = "…" (kept out of logs) for a login
"""


__all__ = [
    "BillCycleConfig",
    "Config",
    "DaemonConfig",
    "DaemonsConfig",
    "DAEMON_NAMES",
    "EndpointConfig",
    "KeysConfig",
    "ExtractConfig",
    "PartnerConfig",
    "LoadConfig",
    "NetworkConfig",
    "RayConfig",
    "Secret",
    "TelemetryConfig",
    "ScheduleConfig",
    "SchedulerConfig",
    "NotifyConfig",
    "ProbeConfig",
    "SmtpConfig",
    "DEFAULT_TOML",
    "default_home",
    "load_config",
    "parse_size",
    "to_dict",
]
