"""The Openet Bill Cycle adaptor's command: BILL_CYCLE_CHANGE on target ``OPENET``.

Everything else is the shared transmission machinery, unchanged: the same queue (chains per
subscription and target in sequence order, leases), the same :class:`~engine.transmission.
adaptor.Adaptor` (Idempotency-Key = the request id, retries of NE with backoff under the same
key and bytes, history rows for every step) and the same answer mapping. This module, like
:mod:`~engine.transmission.ocs` for the OCS, declares the two things those read, and
:mod:`~engine.transmission.builtins` lists them with the other built-ins:

- :data:`OPENET_COMMANDS`: how a BILL_CYCLE_CHANGE request becomes
  ``POST /openet/v1/billCycleChanges`` (netsim/API.md §5). The request's attributes ARE the
  body: a FORMATS.md "Bill Cycle Change Request" record, written by the bill-cycle-change job
  (jobs/bill_cycle_create.py); the builder checks it and serialises it once, so a retry resends
  the same bytes. Openet answers 202: it executed the change (the subscriber is on the new day
  at once) and only *reports* the new instances later, by file, so the command is declared
  with ``accepted_completes``: 202 → NC, with the change id (``bcc-…``) as the reference.
- :data:`OPENET_EFFECTS`: on NC the generic effects make the actioned item and event COMPLETE;
  ``bill_cycle_changes`` stays REQUESTED until the Bill Cycle Change Response file is loaded
  (the reconciliation job's business). On a terminal failure (NR/NF/PE) of the Openet request
  the item and event go ERROR with the reason (generic) and the change is marked FAILED, so
  nothing waits for a response that will never come; a resubmit (or an operator's close) puts
  it back to REQUESTED.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.transmission.commands import CommandSpec, attribute_error, encode, require_text
from engine.transmission.effects import CommandEffect
from engine.transmission.model import HttpCall, RequestRow

OPENET = "OPENET"
BILL_CYCLE_CHANGE = "BILL_CYCLE_CHANGE"
BCC_PATH = "/openet/v1/billCycleChanges"

#: the keys of a Bill Cycle Change Request record, in FORMATS.md order (= the attributes)
RECORD_KEYS = ("actionItemNumber", "subscriptionId", "msisdn", "oldBillCycleDay", "newBillCycleDay",
               "effectiveDateTime", "sharedGroups")


def _day(attrs: dict[str, Any], row: RequestRow, name: str) -> int:
    value = attrs.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 31:
        raise attribute_error(row, name, f"must be a whole number 1-31, got {value!r}")
    return value


def build_bill_cycle_change(command: str, attrs: dict[str, Any], row: RequestRow) -> HttpCall:
    unknown = sorted(set(attrs) - set(RECORD_KEYS))
    if unknown:
        raise attribute_error(row, unknown[0], "is not a field of a Bill Cycle Change Request record")
    ain = attrs.get("actionItemNumber")
    if isinstance(ain, bool) or not isinstance(ain, int) or not 1 <= ain <= 2**53 - 1:
        raise attribute_error(row, "actionItemNumber", f"must be a whole number >= 1, got {ain!r}")
    msisdn = require_text(attrs, row, "msisdn", max_len=15)
    if not msisdn.isdigit() or not 8 <= len(msisdn) <= 15:
        raise attribute_error(row, "msisdn", f"must be 8-15 digits, got {msisdn!r}")
    when = require_text(attrs, row, "effectiveDateTime", max_len=40)
    try:
        parsed = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in when:
        raise attribute_error(row, "effectiveDateTime",
                              f"must be an RFC 3339 date-time with Z or an offset, got {when!r}")
    groups = attrs.get("sharedGroups", [])
    if not isinstance(groups, list):
        raise attribute_error(row, "sharedGroups", f"must be a list, got {groups!r}")
    for i, group in enumerate(groups):
        if not isinstance(group, dict) or set(group) != {"sharedGroupId", "ocsSharedGroupId"}:
            raise attribute_error(row, f"sharedGroups[{i}]",
                                  f"must be {{sharedGroupId, ocsSharedGroupId}}, got {group!r}")
        for key in ("sharedGroupId", "ocsSharedGroupId"):
            require_text(group, row, key, max_len=64)
    body = {
        "actionItemNumber": ain,
        "subscriptionId": require_text(attrs, row, "subscriptionId"),
        "msisdn": msisdn,
        "oldBillCycleDay": _day(attrs, row, "oldBillCycleDay"),
        "newBillCycleDay": _day(attrs, row, "newBillCycleDay"),
        "effectiveDateTime": when,
        "sharedGroups": groups,
    }
    return HttpCall("POST", BCC_PATH, encode(body))


OPENET_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(OPENET, BILL_CYCLE_CHANGE, build_bill_cycle_change, ("id",), accepted_completes=True),
)


# ``{keyed}`` compares the BIGINT key with the attribute's text: cast it once, in the join.
_CHANGE = "t.action_item_number = TRY_CAST(d.effect_key AS BIGINT)"
BILL_CYCLE_EFFECT = CommandEffect(
    BILL_CYCLE_CHANGE, "bill_cycle_changes", "action_item_number", "actionItemNumber",
    on_failure=f"""
    UPDATE bill_cycle_changes t SET status = 'FAILED' FROM _tx_done d
    WHERE {{keyed}} AND d.command = '{BILL_CYCLE_CHANGE}' AND d.target = '{OPENET}'
      AND d.status IN ('NR', 'NF', 'PE') AND {_CHANGE} AND t.status = 'REQUESTED'
    """,
    on_resubmit=f"""
    UPDATE bill_cycle_changes t SET status = 'REQUESTED' FROM _tx_done d
    WHERE {{keyed}} AND d.command = '{BILL_CYCLE_CHANGE}' AND d.target = '{OPENET}'
      AND {_CHANGE} AND t.status = 'FAILED'
    """,
)

OPENET_EFFECTS: tuple[CommandEffect, ...] = (BILL_CYCLE_EFFECT,)

__all__ = ["BCC_PATH", "BILL_CYCLE_CHANGE", "BILL_CYCLE_EFFECT", "OPENET", "OPENET_COMMANDS", "OPENET_EFFECTS",
           "RECORD_KEYS", "build_bill_cycle_change"]
