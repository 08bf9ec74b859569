"""The ``cmp.toml`` that ``cmpctl init`` writes, generated from the config classes.

Every key of every section is there with its default, commented out (``#key = value``, the way
postgresql.conf does it), with the comment on the field's line in engine/config/ as its
meaning: the file cannot drift from the code. What a class cannot say comes from the daemon
table (what each daemon does) or from :data:`NOTES`; the examples are typed config objects,
checked like any table. Prose lines start with ``# ``, commented-out config with ``#`` and the
key or ``[section]``, so uncommenting a line is removing one ``#``. Active: the keys of
:data:`ACTIVE_KEYS`, at their defaults, and the insurance partner that ``cmpctl init`` sets up.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import textwrap
from typing import Any, Iterator

from engine.config.extract import PartnerConfig
from engine.config.introspect import field_comments, field_default, field_types, is_section, table_map
from engine.config.probes import ProbeConfig
from engine.config.root import Config
from engine.config.schedules import ScheduleConfig
from engine.config.values import Secret, format_size
from engine.daemons import DAEMONS, EXTRACT, LOAD, TRANSMISSION
from engine.probes.kinds import PROBE_KINDS

WIDTH = 100  # prose is wrapped to this width

HEADER = """\
cmp-provisioning engine configuration, written by `cmpctl init`.
Every key is optional; the values shown are the defaults. The keys operators change first are
set; a commented-out line (#key = value) shows a default: to change it, remove the # before the
key and, if it has one, before its #[section] line (or add that section at the end of the file).
Override any key with an environment variable CMP_<SECTION>__<KEY> (e.g.
CMP_LOAD__SHARD_BYTES=32MiB) or a command-line flag. Unknown keys are rejected. README.md
("Configuration") has the reference of every key."""

#: Prose for a section or named table, by its dotted path, where its class does not say it.
NOTES: dict[str, str] = {
    "extract.partners": "Partners reached by file (requests with target FILE:<name>): the Extract daemons "
                        "write their requests as encrypted generic files into outbound/<daemon>/, plus a CSV "
                        "conversion for a partner with format = \"csv\" (README \"Extract daemons\").",
    "bill_cycle": "Bill cycle changes (cmpctl jobs run bill-cycle-change) go to Openet; name a partner to also "
                  "send them by file (FILE:<partner> requests, written by the Bill Cycle Change Extract daemon).",
    "probes": "Probes (engine/probes) measure on a schedule and alert their recipients: log:, webhook:URL, "
              "email:ADDRESS, file:PATH. The kinds of each type: "
              + "; ".join(f"{t}: {', '.join(kinds)}" for t, kinds in PROBE_KINDS.items() if kinds)
              + "; an SQL probe gives its query.",
    "schedules": "Cron schedules of jobs (engine/schedule): the provisioning job every minute is the safety "
                 "net behind the load daemons' triggers; reconciliation runs daily.",
}

#: The partner ``cmpctl init`` sets up (its recipients are for the operator to add).
INSURANCE = PartnerConfig(format="csv", columns={
    "policy_ref": "requestId", "action_item": "actionItemNumber", "subscription": "subscriptionId",
    "account": "accountId", "msisdn": "commandAttributes.msisdn", "product": "commandAttributes.code",
    "operation": "command"})

#: Active entries of named tables, by the table's dotted path.
ACTIVE: dict[str, dict[str, Any]] = {"extract.partners": {"insurance": INSURANCE}}

#: Keys written active, at their defaults: the ones an operator edits first, as `cmpctl init`
#: has always written them (scripts and tests edit e.g. ``dashboard_port = 8265`` in place).
#: Their sections are active tables; every other section is commented out, so that it can
#: also be appended to the file.
ACTIVE_KEYS = frozenset({
    "ray.address", "ray.namespace", "ray.dashboard_host", "ray.dashboard_port", "ray.home_shared",
    "network.ocs.url", "network.ocs.token", "network.ocs.max_in_flight", "network.ocs.max_retries",
    "network.openet.url", "network.openet.token",
    "load.shard_bytes", "load.max_error_ratio",
    "telemetry.exporter", "telemetry.otlp_endpoint", "telemetry.otlp_protocol", "telemetry.service_name",
    "telemetry.retention_days",
    "extract.partners.insurance.recipients",
    "scheduler.timezone",
    "notify.smtp.host", "notify.smtp.port", "notify.smtp.sender", "notify.smtp.starttls", "notify.smtp.user",
})

def examples() -> dict[str, dict[str, Any]]:
    """Commented-out examples of named tables: an override of a built-in shows the keys it changes."""
    return {
        "probes": {
            "adaptor_errors": dataclasses.replace(
                Config().probes["adaptor_errors"],
                recipients=("log:", "webhook:http://alerts.example.com/hook", "email:ops@example.com")),
            "stuck_batches": ProbeConfig(type="Punctual", kind="batches_waiting", max_wait_seconds=600, warning=0),
            "unconnected": ProbeConfig(
                type="SQL", warning=0, severe=100,
                query="SELECT count(*) FROM subscriptions WHERE status = 'PENDING' AND created_at < now() - INTERVAL 1 DAY"),
        },
        "schedules": {
            "provisioning": dataclasses.replace(Config().schedules["provisioning"], cron="*/2 * * * *"),
            "nightly_provisioning": ScheduleConfig(job="provisioning", cron="30 1 * * *", catch_up="skip"),
        },
    }


@functools.cache
def render() -> str:
    """The whole template (rendered on first use: reading the classes' source takes ~0.2 s)."""
    lines = _prose(HEADER)
    types_ = field_types(Config)
    for f in dataclasses.fields(Config):
        if f.name != "home":
            lines += _field(f.name, types_[f.name], field_default(f), field_comments(Config).get(f.name, ""))
    return "\n".join(lines).rstrip() + "\n"


def _field(path: str, tp: Any, default: Any, comment: str) -> list[str]:
    if is_section(tp):
        return _section(path, tp, default, comment)
    if entry := table_map(tp):
        return _named_tables(path, entry, default, comment)
    raise TypeError(f"{path}: not a section")  # Config holds sections only


def _section(path: str, cls: Any, instance: Any, comment: str) -> list[str]:
    """``[path]`` with its keys commented out at their defaults, then its sub-sections."""
    types_, notes = field_types(cls), field_comments(cls)
    keys = [f for f in dataclasses.fields(cls) if not (is_section(types_[f.name]) or table_map(types_[f.name]))]
    lines = []
    if keys:
        lines = [""] + _prose(NOTES.get(path) or _daemon_note(path) or comment or _doc(cls), sentence=True)
        active = {f.name for f in keys if f"{path}.{f.name}" in ACTIVE_KEYS}
        lines.append(f"[{path}]" if active else f"#[{path}]")
        lines += [_assignment(f.name, getattr(instance, f.name), notes.get(f.name, ""), commented=f.name not in active)
                  for f in keys]
    for f in dataclasses.fields(cls):
        if f not in keys:
            lines += _field(f"{path}.{f.name}", types_[f.name], getattr(instance, f.name), notes.get(f.name, ""))
    return lines


def _named_tables(path: str, entry_cls: Any, builtins: dict[str, Any], comment: str) -> list[str]:
    """Prose on ``[path.<name>]`` (its keys, its built-in entries), the active entries, and the
    examples commented out."""
    lines = [""] + _prose(NOTES.get(path) or comment, sentence=True)
    lines += _prose(f"{_doc(entry_cls) or f'A [{path}.<name>] table'}. Its keys, with their defaults:")
    types_, notes = field_types(entry_cls), field_comments(entry_cls)
    lines += ["#   " + _assignment(f.name, field_default(f), notes.get(f.name, ""), commented=False, width=29)
              for f in dataclasses.fields(entry_cls)]
    if builtins:
        switch_off = " (enabled = false switches one off)" if "enabled" in types_ else ""
        lines += _prose(f"Built in: {', '.join(builtins)}. A table with a built-in's name overrides only the keys "
                        f"it gives{switch_off}; other names add {path.rsplit('.', 1)[-1]}. The built-in ones:")
        for name, entry in builtins.items():
            keys = ", ".join(f"{k} = {_value(k, v)}".replace(" ", NBSP) for k, v in _changed(entry, None))
            lines += _prose(f"{name}: {keys}", indent="    ")
    for name, entry in ACTIVE.get(path, {}).items():
        lines.append(f"[{path}.{name}]")
        lines += [_assignment(f.name, getattr(entry, f.name), notes.get(f.name, ""),
                              commented=getattr(entry, f.name) == field_default(f)
                              and f"{path}.{name}.{f.name}" not in ACTIVE_KEYS)
                  for f in dataclasses.fields(entry_cls)]
    shown = examples().get(path, {})
    if shown:
        lines += _prose("For example:")
    for name, entry in shown.items():
        lines.append(f"#[{path}.{name}]")
        given = dict(_changed(entry, builtins.get(name)))
        if name not in builtins:  # a new entry names its first key (type, job) even at its default
            first = dataclasses.fields(entry_cls)[0].name
            given = {first: getattr(entry, first), **given}
        lines += [_assignment(k, v, "", commented=True) for k, v in given.items()]
    return lines


def _changed(entry: Any, base: Any) -> Iterator[tuple[str, Any]]:
    """The keys of ``entry`` that differ from ``base`` (an instance; None: the class defaults),
    unset ones (None) left out."""
    for f in dataclasses.fields(entry):
        value = getattr(entry, f.name)
        default = getattr(base, f.name) if base is not None else field_default(f)
        if value is not None and value != default:
            yield f.name, value


def _daemon_note(path: str) -> str:
    """What the daemon or endpoint of a ``[daemons.<name>]`` or ``[network.<endpoint>]`` section does."""
    for d in DAEMONS:
        if path == f"daemons.{d.config_name}":
            if d.kind is LOAD:
                return f"{d.actor_name}: loads {', '.join(d.triggers)} files dropped into inbound/{d.config_name}/"
            if d.kind is TRANSMISSION:
                return f"{d.actor_name}: sends the requests of target {d.target} ([network.{d.endpoint}]; " \
                       f"started when its url is set)"
            if d.kind is EXTRACT:
                return f"{d.actor_name}: writes the {d.writes} files of FILE:<partner> requests into " \
                       f"outbound/{d.config_name}/"
        if d.kind is TRANSMISSION and path == f"network.{d.endpoint}":
            return f"The network endpoint of target {d.target}, served by {d.actor_name}"
    return ""


def _doc(cls: Any) -> str:
    """The first paragraph of a config class's own docstring (not dataclass's generated one)."""
    doc = cls.__dict__.get("__doc__") or ""
    if not doc or doc.startswith(f"{cls.__name__}("):
        return ""
    return " ".join(doc.split("\n\n")[0].split()).replace("``", "").rstrip(".")


def _assignment(key: str, value: Any, comment: str, *, commented: bool, width: int = 32) -> str:
    text = f"{'#' if commented else ''}{key} = {_value(key, value)}" if value is not None else f"{key} (unset)"
    return f"{text:<{width}}  # {comment}" if comment else text


def _value(key: str, value: Any) -> str:
    """``value`` as TOML (sizes of ``*_bytes`` keys as e.g. "64MiB")."""
    if isinstance(value, Secret):
        return '""'  # a template never holds a secret
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and key.endswith("_bytes"):
        value = format_size(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_value("", v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_key(k)} = {_value('', v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string: JSON's escapes are TOML's


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


NBSP = "\u00a0"  # joins "key = value" so that wrapping never splits it


def _prose(text: str, indent: str = "", *, sentence: bool = False) -> list[str]:
    """``# ``-prefixed lines of ``text`` wrapped to WIDTH (``sentence``: a field's comment, its
    first letter made a capital)."""
    if sentence:
        text = text[:1].upper() + text[1:]
    return [f"# {line}".rstrip().replace(NBSP, " ") for para in text.splitlines()
            for line in textwrap.wrap(para, WIDTH - 2, initial_indent=indent, subsequent_indent=indent + "  ")
            or [""]] if text else []


__all__ = ["ACTIVE", "INSURANCE", "NOTES", "examples", "render"]
