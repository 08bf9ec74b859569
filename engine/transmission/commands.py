"""Network commands: how each (target, command) becomes an HTTP call, and how answers read.

A :class:`CommandRegistry` maps (target, command) to a :class:`CommandSpec`: a *builder*
``(command, attributes, request row) -> HttpCall`` and where the answer carries the network's
reference (``bucket.id``, ``spendCap.id``, …). Bodies are built once, deterministically
(sorted keys, compact separators), so a retry resends identical bytes under the same
Idempotency-Key, as netsim/API.md requires, and a rebuild after a crash gives the same bytes.

A builder that cannot build (attribute missing or invalid, unknown command) raises
:class:`~engine.errors.CommandBuildError`: the request ends PE with that reason.

The OCS commands are registered in :data:`COMMANDS` by :func:`register_ocs_commands`; the
Openet adaptor registers its BILL_CYCLE_CHANGE the same way, without touching them (a second
registration of a (target, command) raises).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from engine.errors import CommandBuildError
from engine.transmission.model import HttpCall, RequestRow

Builder = Callable[[str, dict[str, Any], RequestRow], HttpCall]


@dataclass(frozen=True)
class CommandSpec:
    target: str
    command: str
    build: Builder
    #: path of the network's reference in a 2xx answer, e.g. ("bucket", "id")
    ref_path: tuple[str, ...] = ("id",)
    #: a 202 means the network executed the command and only reports on it later (by file):
    #: NC, not NA (Openet's bill cycle change, engine/transmission/openet.py)
    accepted_completes: bool = False


class CommandRegistry:
    def __init__(self, specs: Iterable[CommandSpec] = ()) -> None:
        self._specs: dict[tuple[str, str], CommandSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: CommandSpec) -> CommandSpec:
        key = (spec.target, spec.command)
        if key in self._specs:
            raise ValueError(f"command {spec.command!r} of target {spec.target!r} is already registered")
        self._specs[key] = spec
        return spec

    def commands(self, target: str) -> list[str]:
        return sorted(c for t, c in self._specs if t == target)

    def spec(self, target: str, command: str) -> CommandSpec:
        try:
            return self._specs[(target, command)]
        except KeyError:
            known = ", ".join(self.commands(target)) or "none"
            raise CommandBuildError(f"unknown command {command!r} for target {target!r} (known: {known})",
                                    hint="fix the request or close it") from None

    def build(self, target: str, row: RequestRow) -> HttpCall:
        """The HTTP call of ``row``; CommandBuildError (→ PE) when it cannot be built."""
        spec = self.spec(target, row.command)
        try:
            return spec.build(row.command, row.attributes, row)
        except CommandBuildError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a builder's own slip
            raise CommandBuildError(f"{row.command}: cannot build the command: {exc!r}",
                                    record=str(row.request_id)) from None

    def accepted_completes(self, target: str, command: str) -> bool:
        spec = self._specs.get((target, command))
        return spec is not None and spec.accepted_completes

    def external_ref(self, target: str, command: str, answer: Any) -> str | None:
        node = answer
        for part in self.spec(target, command).ref_path:
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node if isinstance(node, str) else None


def encode(body: Any) -> bytes:
    """The one serialisation of request bodies: stable bytes for the same content."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


# -- attribute checks (what netsim would refuse with a 400 is caught here as PE, with the field) --

def _fail(row: RequestRow, field: str, problem: str) -> CommandBuildError:
    return CommandBuildError(f"{row.command} request {row.request_id}: attribute {field!r} {problem}",
                             record=str(row.request_id), field=field,
                             hint="fix the request's attributes, then resubmit it; or close it")


def _text(attrs: dict[str, Any], row: RequestRow, name: str, *, max_len: int = 128) -> str:
    value = attrs.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and name.endswith("Id"):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise _fail(row, name, "is missing" if value is None else f"must be a non-empty string, got {value!r}")
    if len(value) > max_len:
        raise _fail(row, name, f"is longer than {max_len} characters")
    return value


def _amount(attrs: dict[str, Any], row: RequestRow, name: str, *, unlimited_ok: bool) -> int | float | str:
    value = attrs.get(name)
    if unlimited_ok and value == "UNLIMITED":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value:
        allowed = 'a number > 0 or "UNLIMITED"' if unlimited_ok else "a number > 0"
        raise _fail(row, name, f"must be {allowed}, got {value!r}")
    return value


def _choice(attrs: dict[str, Any], row: RequestRow, name: str, choices: tuple[str, ...]) -> str:
    value = attrs.get(name)
    if value not in choices:
        raise _fail(row, name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _path_id(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


# -- the OCS (TMF640 / TMF654 / TMF666, netsim/API.md §2-4) -----------------------------------

OCS = "OCS"
SERVICE_PATH = "/tmf-api/serviceActivationAndConfiguration/v4/service"
TOPUP_PATH = "/tmf-api/prepayBalanceManagement/v4/topupBalance"
ACCOUNT_PATH = "/tmf-api/accountManagement/v4/billingAccount"


def command_ref(row: RequestRow) -> str:
    """The client reference of a bucket or cap: the request, not the attempt (API.md §3)."""
    return f"NRL-{row.request_id}"


def build_create_subscriber(command: str, attrs: dict[str, Any], row: RequestRow) -> HttpCall:
    sid = _text(attrs, row, "subscriptionId")
    msisdn = _text(attrs, row, "msisdn", max_len=15)
    if not msisdn.isdigit() or not 8 <= len(msisdn) <= 15:
        raise _fail(row, "msisdn", f"must be 8-15 digits, got {msisdn!r}")
    if "billCycleDay" not in attrs:
        raise _fail(row, "billCycleDay", "is missing (null for EVERY_N_DAYS agreements)")
    day = attrs["billCycleDay"]
    if day is not None and (isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31):
        raise _fail(row, "billCycleDay", f"must be 1-31 or null, got {day!r}")
    chars = [
        ("msisdn", msisdn),
        ("tariffCode", _text(attrs, row, "tariffCode", max_len=64)),
        ("payMode", _choice(attrs, row, "payMode", ("PREPAID", "POSTPAID"))),
        ("billCycleDay", day),
        ("accountId", _text(attrs, row, "accountId")),
        ("agreementId", _text(attrs, row, "agreementId")),
    ]
    body = {"id": sid, "serviceCharacteristic": [{"name": n, "value": v} for n, v in chars]}
    return HttpCall("POST", SERVICE_PATH, encode(body))


def build_add_allowance(command: str, attrs: dict[str, Any], row: RequestRow) -> HttpCall:
    recurring = attrs.get("recurring", False)
    if recurring is None:
        recurring = False
    if not isinstance(recurring, bool):
        raise _fail(row, "recurring", f"must be true or false, got {recurring!r}")
    kind = attrs.get("type")
    if kind is not None:
        kind = _choice(attrs, row, "type", ("VOICE", "TEXT", "DATA", "CASH"))
    body = {
        "product": {"id": _text(attrs, row, "subscriptionId")},
        "ocsId": _text(attrs, row, "ocsId", max_len=64),
        "allowanceType": kind,
        "amount": {"amount": _amount(attrs, row, "amount", unlimited_ok=True),
                   "units": _text(attrs, row, "unit", max_len=16)},
        "recurring": recurring,
        "commandRef": command_ref(row),
    }
    return HttpCall("POST", TOPUP_PATH, encode(body))


def build_set_spend_cap(command: str, attrs: dict[str, Any], row: RequestRow) -> HttpCall:
    if not row.account_id:
        raise _fail(row, "accountId", "is unknown: the subscription has no account (the spend-cap path needs it)")
    body = {
        "product": {"id": _text(attrs, row, "subscriptionId")},
        "ocsId": _text(attrs, row, "ocsId", max_len=64),
        "kind": _choice(attrs, row, "kind", ("VALUE", "VOLUME", "DURATION")),
        "scope": _choice(attrs, row, "scope", ("FULL", "PARTIAL")),
        "creditLimit": {"amount": _amount(attrs, row, "amount", unlimited_ok=False),
                        "unit": _text(attrs, row, "unit", max_len=16)},
        "commandRef": command_ref(row),
    }
    return HttpCall("PATCH", f"{ACCOUNT_PATH}/{_path_id(row.account_id)}", encode(body))


def build_add_capability(command: str, attrs: dict[str, Any], row: RequestRow) -> HttpCall:
    sid = _text(attrs, row, "subscriptionId")
    body = {"serviceCharacteristic": [{"name": "capability", "value": _text(attrs, row, "code", max_len=32)}]}
    return HttpCall("PATCH", f"{SERVICE_PATH}/{_path_id(sid)}", encode(body))


def build_activate(command: str, attrs: dict[str, Any], row: RequestRow) -> HttpCall:
    from datetime import date

    sid = _text(attrs, row, "subscriptionId")
    body: dict[str, Any] = {"state": "active"}
    when = attrs.get("activationDate")
    if when is not None:
        try:
            day = date.fromisoformat(when) if isinstance(when, str) and len(when) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise _fail(row, "activationDate", f"must be YYYY-MM-DD or null, got {when!r}")
        body["startDate"] = f"{day.isoformat()}T00:00:00Z"  # a delayed activation (API.md §2)
    return HttpCall("PATCH", f"{SERVICE_PATH}/{_path_id(sid)}", encode(body))


OCS_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(OCS, "CREATE_SUBSCRIBER", build_create_subscriber, ("id",)),
    CommandSpec(OCS, "ADD_ALLOWANCE", build_add_allowance, ("bucket", "id")),
    CommandSpec(OCS, "SET_SPEND_CAP", build_set_spend_cap, ("spendCap", "id")),
    CommandSpec(OCS, "ADD_CAPABILITY", build_add_capability, ("id",)),
    CommandSpec(OCS, "ACTIVATE", build_activate, ("id",)),
)


def register_ocs_commands(registry: CommandRegistry) -> None:
    for spec in OCS_COMMANDS:
        registry.register(spec)


#: the built-in registry every adaptor uses unless given another one
COMMANDS = CommandRegistry(OCS_COMMANDS)

# Registration hook: the Openet adaptor's commands join COMMANDS (and their effects the effects
# registry) in every process that imports this module. Last, as it imports this module's names.
from engine.transmission import openet as _openet  # noqa: E402,F401

__all__ = [
    "COMMANDS", "OCS", "OCS_COMMANDS", "Builder", "CommandRegistry", "CommandSpec", "command_ref", "encode",
    "register_ocs_commands",
]  # fmt: skip
