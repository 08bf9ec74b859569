"""Synthetic Bill Cycle Change Response files: per subscription, its new OCS instances."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

import numpy as np

from engine.generic.header import FileHeader, format_rfc3339
from engine.synth.catalog import DEFAULT_CREATED_AT
from engine.synth.catalog import compact_json as _j

class BillCycleSubscription(NamedTuple):
    """One subscription whose bill cycle changed, as the OCS answers for it."""

    action_item_number: int
    subscription_id: str
    msisdn: str
    allowances: tuple[tuple[str, float | str, str], ...]  #: (ocsId, amount or "UNLIMITED", unit)
    spend_cap: tuple[str, float, str] | None = None  #: (ocsId, amount, currency)


def generate_bill_cycle_responses(
    subscriptions: Iterable[BillCycleSubscription | tuple],
    *,
    effective: datetime,
    seed: int = 0,
    identifier: str | None = None,
    created_at: datetime = DEFAULT_CREATED_AT,
) -> tuple[FileHeader, list[bytes]]:
    """A Bill Cycle Change Response file: per subscription its new OCS instances
    (one ALLOWANCE per allowance, one SPEND_CAP for the cap), effective from `effective`."""
    rng = np.random.default_rng(seed)
    when = format_rfc3339(effective)
    lines = []
    for sub in subscriptions:
        sub = BillCycleSubscription(*sub)
        instances = [
            {"ocsId": ocs_id, "ocsInstanceId": f"inst-{rng.integers(1 << 48):012x}", "kind": "ALLOWANCE",
             "amount": amount, "unit": unit, "effectiveDateTime": when, "expiryDateTime": None}
            for ocs_id, amount, unit in sub.allowances
        ]  # fmt: skip
        if sub.spend_cap is not None:
            ocs_id, amount, currency = sub.spend_cap
            instances.append(
                {"ocsId": ocs_id, "ocsInstanceId": f"inst-{rng.integers(1 << 48):012x}", "kind": "SPEND_CAP",
                 "amount": amount, "unit": currency, "effectiveDateTime": when, "expiryDateTime": None}
            )  # fmt: skip
        record = {
            "actionItemNumber": sub.action_item_number,
            "subscriptionId": sub.subscription_id,
            "msisdn": sub.msisdn,
            "ocsInstances": instances,
            "sharedGroup": None,
        }
        lines.append(_j(record).encode() + b"\n")
    header = FileHeader(
        interface_type="Bill Cycle Change Response",
        identifier=identifier or f"synth-bcc-{seed}",
        created_at=created_at,
        record_count=len(lines),
        time_field="loadDateTime",
    )
    return header, lines
