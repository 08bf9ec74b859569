"""The OCS adaptor's commands (TMF640 / TMF654 / TMF666, netsim/API.md §2-4) and their effects.

Target ``OCS``: CREATE_SUBSCRIBER, ADD_ALLOWANCE, SET_SPEND_CAP, ADD_CAPABILITY and ACTIVATE,
each a builder ``(command, attributes, request row) -> HttpCall`` with the path of the OCS's
reference in its answer (:data:`OCS_COMMANDS`), and what three of them change when they finish
(:data:`OCS_EFFECTS`): the OCS instance ids of allowances and spend caps, a capability's service.
Nothing here registers itself: :mod:`engine.transmission.builtins` lists these with the other
built-ins (Openet's, the insurance effect) wherever a registry is made.
"""

from __future__ import annotations

from typing import Any

from engine.transmission.commands import (
    CommandSpec, attribute_error, encode, path_id, require_amount, require_choice, require_text,
)  # fmt: skip
from engine.transmission.effects import CommandEffect, service_effect
from engine.transmission.model import HttpCall, RequestRow

OCS = "OCS"
SERVICE_PATH = "/tmf-api/serviceActivationAndConfiguration/v4/service"
TOPUP_PATH = "/tmf-api/prepayBalanceManagement/v4/topupBalance"
ACCOUNT_PATH = "/tmf-api/accountManagement/v4/billingAccount"


def command_ref(row: RequestRow) -> str:
    """The client reference of a bucket or cap: the request, not the attempt (API.md §3)."""
    return f"NRL-{row.request_id}"


def build_create_subscriber(command: str, attrs: dict[str, Any], row: RequestRow) -> HttpCall:
    sid = require_text(attrs, row, "subscriptionId")
    msisdn = require_text(attrs, row, "msisdn", max_len=15)
    if not msisdn.isdigit() or not 8 <= len(msisdn) <= 15:
        raise attribute_error(row, "msisdn", f"must be 8-15 digits, got {msisdn!r}")
    if "billCycleDay" not in attrs:
        raise attribute_error(row, "billCycleDay", "is missing (null for EVERY_N_DAYS agreements)")
    day = attrs["billCycleDay"]
    if day is not None and (isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31):
        raise attribute_error(row, "billCycleDay", f"must be 1-31 or null, got {day!r}")
    chars = [
        ("msisdn", msisdn),
        ("tariffCode", require_text(attrs, row, "tariffCode", max_len=64)),
        ("payMode", require_choice(attrs, row, "payMode", ("PREPAID", "POSTPAID"))),
        ("billCycleDay", day),
        ("accountId", require_text(attrs, row, "accountId")),
        ("agreementId", require_text(attrs, row, "agreementId")),
    ]
    body = {"id": sid, "serviceCharacteristic": [{"name": n, "value": v} for n, v in chars]}
    return HttpCall("POST", SERVICE_PATH, encode(body))


def build_add_allowance(command: str, attrs: dict[str, Any], row: RequestRow) -> HttpCall:
    recurring = attrs.get("recurring", False)
    if recurring is None:
        recurring = False
    if not isinstance(recurring, bool):
        raise attribute_error(row, "recurring", f"must be true or false, got {recurring!r}")
    kind = attrs.get("type")
    if kind is not None:
        kind = require_choice(attrs, row, "type", ("VOICE", "TEXT", "DATA", "CASH"))
    body = {
        "product": {"id": require_text(attrs, row, "subscriptionId")},
        "ocsId": require_text(attrs, row, "ocsId", max_len=64),
        "allowanceType": kind,
        "amount": {"amount": require_amount(attrs, row, "amount", unlimited_ok=True),
                   "units": require_text(attrs, row, "unit", max_len=16)},
        "recurring": recurring,
        "commandRef": command_ref(row),
    }
    return HttpCall("POST", TOPUP_PATH, encode(body))


def build_set_spend_cap(command: str, attrs: dict[str, Any], row: RequestRow) -> HttpCall:
    if not row.account_id:
        raise attribute_error(row, "accountId",
                              "is unknown: the subscription has no account (the spend-cap path needs it)")
    body = {
        "product": {"id": require_text(attrs, row, "subscriptionId")},
        "ocsId": require_text(attrs, row, "ocsId", max_len=64),
        "kind": require_choice(attrs, row, "kind", ("VALUE", "VOLUME", "DURATION")),
        "scope": require_choice(attrs, row, "scope", ("FULL", "PARTIAL")),
        "creditLimit": {"amount": require_amount(attrs, row, "amount", unlimited_ok=False),
                        "unit": require_text(attrs, row, "unit", max_len=16)},
        "commandRef": command_ref(row),
    }
    return HttpCall("PATCH", f"{ACCOUNT_PATH}/{path_id(row.account_id)}", encode(body))


def build_add_capability(command: str, attrs: dict[str, Any], row: RequestRow) -> HttpCall:
    sid = require_text(attrs, row, "subscriptionId")
    body = {"serviceCharacteristic": [{"name": "capability", "value": require_text(attrs, row, "code", max_len=32)}]}
    return HttpCall("PATCH", f"{SERVICE_PATH}/{path_id(sid)}", encode(body))


def build_activate(command: str, attrs: dict[str, Any], row: RequestRow) -> HttpCall:
    from datetime import date

    sid = require_text(attrs, row, "subscriptionId")
    body: dict[str, Any] = {"state": "active"}
    when = attrs.get("activationDate")
    if when is not None:
        try:
            day = date.fromisoformat(when) if isinstance(when, str) and len(when) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise attribute_error(row, "activationDate", f"must be YYYY-MM-DD or null, got {when!r}")
        body["startDate"] = f"{day.isoformat()}T00:00:00Z"  # a delayed activation (API.md §2)
    return HttpCall("PATCH", f"{SERVICE_PATH}/{path_id(sid)}", encode(body))


OCS_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(OCS, "CREATE_SUBSCRIBER", build_create_subscriber, ("id",)),
    CommandSpec(OCS, "ADD_ALLOWANCE", build_add_allowance, ("bucket", "id")),
    CommandSpec(OCS, "SET_SPEND_CAP", build_set_spend_cap, ("spendCap", "id")),
    CommandSpec(OCS, "ADD_CAPABILITY", build_add_capability, ("id",)),
    CommandSpec(OCS, "ACTIVATE", build_activate, ("id",)),
)


def _instance(command: str, table: str, key_column: str, key_attribute: str) -> CommandEffect:
    """On NC the allowance or spend cap row takes the OCS instance id the answer carried."""
    return CommandEffect(command, table, key_column, key_attribute, on_complete=f"""
    UPDATE {table} t SET ocs_instance_id = d.external_ref FROM _tx_done d
    WHERE {{keyed}} AND d.command = '{command}' AND d.status = 'NC' AND t.{key_column} = d.effect_key
      AND d.external_ref IS NOT NULL
    """)


OCS_EFFECTS: tuple[CommandEffect, ...] = (
    _instance("ADD_ALLOWANCE", "allowances", "allowance_id", "allowanceId"),
    _instance("SET_SPEND_CAP", "spend_caps", "spend_cap_id", "spendCapId"),
    service_effect("ADD_CAPABILITY"),
)

__all__ = ["ACCOUNT_PATH", "OCS", "OCS_COMMANDS", "OCS_EFFECTS", "SERVICE_PATH", "TOPUP_PATH", "build_activate",
           "build_add_allowance", "build_add_capability", "build_create_subscriber", "build_set_spend_cap",
           "command_ref"]
