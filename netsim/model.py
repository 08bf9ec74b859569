"""The OCS's records: subscribers (TMF services), allowance buckets and spend caps.

Plain slotted dataclasses with a ``view()`` that renders the JSON the API answers with; the
rules that create and change them live in ``netsim.state``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SERVICE_PATH = "/tmf-api/serviceActivationAndConfiguration/v4/service"
ACCOUNT_PATH = "/tmf-api/accountManagement/v4/billingAccount"

# The characteristics a service is created with (all required).
CREATE_CHARACTERISTICS = ("msisdn", "tariffCode", "payMode", "billCycleDay", "accountId", "agreementId")
# Non-hardware services added later with PATCH: characteristic name -> service type.
SERVICE_CHARACTERISTICS = {"capability": "SOFTWARE_CAPABILITY", "insurance": "INSURANCE"}


@dataclass(slots=True)
class Bucket:
    """An allowance instance (TMF654 bucket) on one product (= subscription)."""

    id: str
    product_id: str
    ocs_id: str
    allowance_type: str | None
    amount: int | float | str  # a number, or "UNLIMITED"
    units: str
    recurring: bool
    command_ref: str
    start: str
    end: str | None = None
    supersedes: str | None = None  # the instance a bill cycle change replaced

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "@type": "Bucket",
            "product": {"id": self.product_id},
            "ocsId": self.ocs_id,
            "allowanceType": self.allowance_type,
            "remainingValue": {"amount": self.amount, "units": self.units},
            "recurring": self.recurring,
            "commandRef": self.command_ref,
            "validFor": {"startDateTime": self.start, "endDateTime": self.end},
            "supersedes": self.supersedes,
        }


@dataclass(slots=True)
class SpendCap:
    """A spend-cap instance, set through the subscriber's billing account (TMF666)."""

    id: str
    product_id: str
    account_id: str
    ocs_id: str
    kind: str  # VALUE | VOLUME | DURATION
    scope: str  # FULL | PARTIAL
    amount: int | float
    unit: str  # the currency for VALUE caps
    command_ref: str
    start: str
    end: str | None = None
    supersedes: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "@type": "SpendCap",
            "product": {"id": self.product_id},
            "billingAccount": {"id": self.account_id},
            "ocsId": self.ocs_id,
            "kind": self.kind,
            "scope": self.scope,
            "creditLimit": {"amount": self.amount, "unit": self.unit},
            "commandRef": self.command_ref,
            "validFor": {"startDateTime": self.start, "endDateTime": self.end},
            "supersedes": self.supersedes,
        }


@dataclass(slots=True)
class Subscriber:
    """A subscriber service (TMF640) and everything the OCS holds for it."""

    id: str
    msisdn: str
    tariff_code: str
    pay_mode: str
    bill_cycle_day: int | None
    account_id: str
    agreement_id: str
    created: str
    state: str = "inactive"  # inactive | active (see current_state for delayed activations)
    start_date: str | None = None
    start_ts: float = 0.0
    capabilities: list[dict[str, str]] = field(default_factory=list)
    buckets: list[Bucket] = field(default_factory=list)
    caps: list[SpendCap] = field(default_factory=list)
    bill_cycle_changes: list[dict[str, Any]] = field(default_factory=list)

    def current_state(self, now: float) -> str:
        """A delayed activation shows as ``reserved`` until its startDate has passed."""
        if self.state == "active" and self.start_ts > now:
            return "reserved"
        return self.state

    def characteristics(self) -> list[dict[str, Any]]:
        chars: list[dict[str, Any]] = [
            {"name": "msisdn", "value": self.msisdn},
            {"name": "tariffCode", "value": self.tariff_code},
            {"name": "payMode", "value": self.pay_mode},
            {"name": "billCycleDay", "value": self.bill_cycle_day},
            {"name": "accountId", "value": self.account_id},
            {"name": "agreementId", "value": self.agreement_id},
        ]
        names = {v: k for k, v in SERVICE_CHARACTERISTICS.items()}
        chars.extend({"name": names[c["type"]], "value": c["code"]} for c in self.capabilities)
        return chars

    def service_view(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "href": f"{SERVICE_PATH}/{self.id}",
            "@type": "Service",
            "state": self.current_state(now),
            "startDate": self.start_date,
            "serviceCharacteristic": self.characteristics(),
        }

    def full_view(self, now: float) -> dict[str, Any]:
        """Everything, for GET /_sim/subscribers/{id}."""
        return {
            "id": self.id,
            "state": self.current_state(now),
            "startDate": self.start_date,
            "createdDate": self.created,
            "msisdn": self.msisdn,
            "tariffCode": self.tariff_code,
            "payMode": self.pay_mode,
            "billCycleDay": self.bill_cycle_day,
            "accountId": self.account_id,
            "agreementId": self.agreement_id,
            "capabilities": list(self.capabilities),
            "buckets": [bk.view() for bk in self.buckets],
            "spendCaps": [cap.view() for cap in self.caps],
            "billCycleChanges": list(self.bill_cycle_changes),
        }
