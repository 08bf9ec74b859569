"""The simulated OCS: business rules for every command, in memory.

Concurrency: every command runs to completion under ``self.lock`` without awaiting, so two
requests can never interleave inside one command (check-then-create of a subscriber or a
bucket is atomic). The lock is a real threading lock, not just the event loop's implicit one,
because the drop-file writer thread takes the pending bill-cycle records from here.

Refusals are :class:`netsim.body.BusinessError`; :meth:`NetworkState.run` turns them into
answers and counts them by category (``conflicts``, ``out_of_order``, ``rejects``, ``invalid``).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from typing import Any, Callable

from netsim import body as b
from netsim.body import BusinessError
from netsim.model import (
    ACCOUNT_PATH,
    CREATE_CHARACTERISTICS,
    SERVICE_PATH,
    SERVICE_CHARACTERISTICS,
    Bucket,
    SpendCap,
    Subscriber,
)

Result = tuple[int, Any]
# The accepted fields of each body shape (API.md); anything else is a 400.
_CREATE = b.fields("id", "state", "name", "serviceCharacteristic")
_CHARACTERISTIC = b.fields("name", "value", "valueType")
_PATCH = b.fields("state", "startDate", "serviceCharacteristic")
_TOPUP = b.fields("product", "ocsId", "allowanceType", "amount", "recurring", "commandRef")
_PRODUCT_REF = b.fields("id", "href", "name")
_QUANTITY = b.fields("amount", "units")
_SPEND_CAP = b.fields("product", "ocsId", "kind", "scope", "creditLimit", "commandRef")
_MONEY = b.fields("amount", "unit")
_BCC = b.fields("actionItemNumber", "subscriptionId", "msisdn", "oldBillCycleDay", "newBillCycleDay",
                "effectiveDateTime", "sharedGroups")
_SHARED_GROUP = b.fields("sharedGroupId", "ocsSharedGroupId")
_CATEGORY_COUNTER = {"conflict": "conflicts", "reject": "rejects", "out_of_order": "out_of_order",
                     "invalid": "invalid"}

COUNTERS = ("applied", "conflicts", "out_of_order", "rejects", "invalid", "bcc_changes",
            "bcc_records_discarded", "spend_cap_updates")


class NetworkState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Instance ids carry a per-process prefix so ids from two netsim runs never collide.
        self._run = os.urandom(3).hex()
        self.bcc_sink = False  # True when a drop dir is configured: keep records for files
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.subscribers: dict[str, Subscriber] = {}
            self.msisdns: dict[str, str] = {}
            self.accounts: dict[str, list[str]] = {}
            # Business identities, to catch the same command sent twice under different keys.
            self.bucket_refs: set[tuple[str, str, str]] = set()
            self.cap_refs: set[tuple[str, str, str]] = set()
            self.bcc_seen: set[tuple[str, int]] = set()
            self.pending_bcc: list[dict[str, Any]] = []
            self.counters = dict.fromkeys(COUNTERS, 0)
            self.allowances = self.allowance_instances = 0
            self.spend_caps = self.spend_cap_instances = 0
            self.services = 0
            self._seq = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{self._run}{next(self._seq):08x}"

    # ------------------------------------------------------------------ running commands
    def run(self, op: Callable[..., Result], *args: Any) -> Result:
        """Execute one command atomically; refusals become (status, {"code", "reason"})."""
        with self.lock:
            try:
                status, answer = op(*args)
            except BusinessError as err:
                self.counters[_CATEGORY_COUNTER[err.category]] += 1
                return err.status, err.body()
            self.counters["applied"] += 1
            return status, answer

    def _subscriber(self, sid: str) -> Subscriber:
        sub = self.subscribers.get(sid)
        if sub is None:
            # The engine must create a subscriber before anything else is done to it; a
            # command for an unknown one means commands were sent out of order.
            raise BusinessError("out_of_order", "UNKNOWN_SERVICE", f"service {sid!r} does not exist")
        return sub

    # ------------------------------------------------------------------ TMF640 service
    def create_service(self, body: Any) -> Result:
        body = b.require_object(body, "body", _CREATE)
        sid = b.ident(body.get("id"), "id")
        if body.get("state", "inactive") != "inactive":
            raise b.invalid("state: a service is created inactive; activate it with PATCH")
        chars = body.get("serviceCharacteristic")
        if not isinstance(chars, list):
            raise b.invalid("serviceCharacteristic: expected a list of {name, value}")
        values: dict[str, Any] = {}
        for i, char in enumerate(chars):
            char = b.require_object(char, f"serviceCharacteristic[{i}]", _CHARACTERISTIC)
            name = char.get("name")
            if name not in CREATE_CHARACTERISTICS:
                raise b.invalid(f"serviceCharacteristic[{i}]: unknown name {name!r}")
            if name in values:
                raise b.invalid(f"serviceCharacteristic: {name!r} given twice")
            values[name] = char.get("value")
        missing = [n for n in CREATE_CHARACTERISTICS if n not in values]
        if missing:
            raise b.invalid(f"serviceCharacteristic: missing {', '.join(missing)}")
        msisdn = b.msisdn(values["msisdn"], "msisdn")
        sub = Subscriber(
            id=sid,
            msisdn=msisdn,
            tariff_code=b.text(values["tariffCode"], "tariffCode", max_len=64),  # type: ignore[arg-type]
            pay_mode=b.one_of(values["payMode"], "payMode", ("PREPAID", "POSTPAID")),
            bill_cycle_day=b.integer(values["billCycleDay"], "billCycleDay", 1, 31, nullable=True),
            account_id=b.ident(values["accountId"], "accountId"),
            agreement_id=b.ident(values["agreementId"], "agreementId"),
            created=b.format_time(time.time()),
        )
        if sid in self.subscribers:
            raise BusinessError("conflict", "SERVICE_EXISTS", f"service {sid!r} already exists")
        if msisdn in self.msisdns:
            raise BusinessError("conflict", "MSISDN_IN_USE",
                                f"msisdn {msisdn} is already used by service {self.msisdns[msisdn]!r}")
        self.subscribers[sid] = sub
        self.msisdns[msisdn] = sid
        self.accounts.setdefault(sub.account_id, []).append(sid)
        # Same shape as Subscriber.service_view, built inline: creates are a quarter of all
        # commands, and a new service has no added services and no start date to look at.
        return 201, {"id": sid, "href": f"{SERVICE_PATH}/{sid}", "@type": "Service", "state": "inactive",
                     "startDate": None, "serviceCharacteristic": sub.characteristics()}

    def patch_service(self, sid: str, body: Any) -> Result:
        body = b.require_object(body, "body", _PATCH)
        if not any(k in body for k in ("state", "startDate", "serviceCharacteristic")):
            raise b.invalid("body: nothing to change (give state and/or serviceCharacteristic)")
        activate = "state" in body
        if activate and body["state"] != "active":
            raise b.invalid("state: the only supported transition is to \"active\"")
        start_text, start_ts = None, 0.0
        if body.get("startDate") is not None:
            if not activate:
                raise b.invalid("startDate: only with state \"active\" (a delayed activation)")
            start_text, start_ts = b.rfc3339(body["startDate"], "startDate")
        added: list[dict[str, str]] = []
        for i, char in enumerate(body.get("serviceCharacteristic") or []):
            char = b.require_object(char, f"serviceCharacteristic[{i}]", _CHARACTERISTIC)
            kind = SERVICE_CHARACTERISTICS.get(char.get("name"))  # type: ignore[arg-type]
            if kind is None:
                raise b.invalid(f"serviceCharacteristic[{i}]: name must be one of "
                                f"{', '.join(SERVICE_CHARACTERISTICS)}")
            code = b.text(char.get("value"), f"serviceCharacteristic[{i}].value", max_len=32)
            added.append({"type": kind, "code": code})  # type: ignore[dict-item]
        sub = self._subscriber(sid)
        for i, cap in enumerate(added):
            if cap in sub.capabilities or cap in added[:i]:
                raise BusinessError("conflict", "SERVICE_EXISTS_ON_SUBSCRIBER",
                                    f"{cap['type']} {cap['code']} is already on service {sid!r}")
        if activate and sub.state == "active":
            raise BusinessError("conflict", "ALREADY_ACTIVE", f"service {sid!r} is already active")
        sub.capabilities.extend(added)
        self.services += len(added)
        if activate:
            sub.state, sub.start_date, sub.start_ts = "active", start_text, start_ts
        return 200, sub.service_view(time.time())

    def service_view(self, sid: str) -> dict[str, Any] | None:
        with self.lock:
            sub = self.subscribers.get(sid)
            return sub.service_view(time.time()) if sub else None

    # ------------------------------------------------------------------ TMF654 buckets
    def topup(self, body: Any) -> Result:
        body = b.require_object(body, "body", _TOPUP)
        product = b.require_object(body.get("product"), "product", _PRODUCT_REF)
        pid = b.ident(product.get("id"), "product.id")
        ocs_id = b.text(body.get("ocsId"), "ocsId", max_len=64)
        allowance_type = body.get("allowanceType")
        if allowance_type is not None:
            b.one_of(allowance_type, "allowanceType", ("VOICE", "TEXT", "DATA", "CASH"))
        amount = b.require_object(body.get("amount"), "amount", _QUANTITY)
        value = b.positive_number(amount.get("amount"), "amount.amount", unlimited_ok=True)
        units = b.text(amount.get("units"), "amount.units", max_len=16)
        recurring = b.boolean(body.get("recurring", False), "recurring")
        ref = b.text(body.get("commandRef"), "commandRef")
        sub = self._subscriber(pid)
        ident = (pid, ocs_id, ref)
        if ident in self.bucket_refs:
            raise BusinessError("conflict", "BUCKET_EXISTS",
                                f"{ocs_id} with commandRef {ref!r} was already added to {pid!r}")
        bucket = Bucket(self.new_id("inst"), pid, ocs_id, allowance_type, value, units,  # type: ignore[arg-type]
                        recurring, ref, b.format_time(time.time()))  # type: ignore[arg-type]
        self.bucket_refs.add(ident)  # type: ignore[arg-type]
        sub.buckets.append(bucket)
        self.allowances += 1
        self.allowance_instances += 1
        return 201, {"id": self.new_id("topup"), "@type": "TopupBalance", "status": "completed",
                     "product": {"id": pid}, "commandRef": ref, "bucket": bucket.view()}

    def list_buckets(self, pid: str) -> list[dict[str, Any]]:
        with self.lock:
            sub = self.subscribers.get(pid)
            return [bk.view() for bk in sub.buckets] if sub else []

    # ------------------------------------------------------------------ TMF666 spend caps
    def set_spend_cap(self, account_id: str, body: Any) -> Result:
        body = b.require_object(body, "body", _SPEND_CAP)
        product = b.require_object(body.get("product"), "product", _PRODUCT_REF)
        pid = b.ident(product.get("id"), "product.id")
        ocs_id = b.text(body.get("ocsId"), "ocsId", max_len=64)
        kind = b.one_of(body.get("kind"), "kind", ("VALUE", "VOLUME", "DURATION"))
        scope = b.one_of(body.get("scope"), "scope", ("FULL", "PARTIAL"))
        limit = b.require_object(body.get("creditLimit"), "creditLimit", _MONEY)
        amount = b.positive_number(limit.get("amount"), "creditLimit.amount")
        unit = b.text(limit.get("unit"), "creditLimit.unit", max_len=16)
        ref = b.text(body.get("commandRef"), "commandRef")
        sub = self._subscriber(pid)
        if sub.account_id != account_id:
            raise BusinessError("reject", "ACCOUNT_MISMATCH",
                                f"service {pid!r} belongs to billing account {sub.account_id!r}, not {account_id!r}")
        ident = (pid, ocs_id, ref)
        if ident in self.cap_refs:
            raise BusinessError("conflict", "SPEND_CAP_EXISTS",
                                f"spend cap {ocs_id} with commandRef {ref!r} was already set on {pid!r}")
        self.cap_refs.add(ident)  # type: ignore[arg-type]
        live = next((c for c in sub.caps if c.ocs_id == ocs_id and c.end is None), None)
        if live is not None:
            # Setting a cap that exists changes it in place: same instance, new limit.
            live.kind, live.scope, live.amount, live.unit, live.command_ref = kind, scope, amount, unit, ref  # type: ignore[assignment]
            self.counters["spend_cap_updates"] += 1
            cap = live
        else:
            cap = SpendCap(self.new_id("inst"), pid, account_id, ocs_id, kind, scope, amount,  # type: ignore[arg-type]
                           unit, ref, b.format_time(time.time()))  # type: ignore[arg-type]
            sub.caps.append(cap)
            self.spend_caps += 1
            self.spend_cap_instances += 1
        return 200, {"id": account_id, "href": f"{ACCOUNT_PATH}/{account_id}",
                     "@type": "BillingAccount", "spendCap": cap.view()}

    def get_account(self, account_id: str) -> dict[str, Any] | None:
        with self.lock:
            sids = self.accounts.get(account_id)
            if not sids:
                return None
            caps = [c.view() for sid in sids for c in self.subscribers[sid].caps]
            return {"id": account_id, "href": f"{ACCOUNT_PATH}/{account_id}", "@type": "BillingAccount",
                    "product": [{"id": sid} for sid in sids], "spendCaps": caps}

    # ------------------------------------------------------------------ Openet bill cycle
    def bill_cycle_change(self, body: Any) -> Result:
        body = b.require_object(body, "body", _BCC)
        ain = b.integer(body.get("actionItemNumber"), "actionItemNumber", 0, 2**63 - 1)
        sid = b.ident(body.get("subscriptionId"), "subscriptionId")
        msisdn = b.msisdn(body.get("msisdn"), "msisdn")
        old_day = b.integer(body.get("oldBillCycleDay"), "oldBillCycleDay", 1, 31, nullable=True)
        new_day = b.integer(body.get("newBillCycleDay"), "newBillCycleDay", 1, 31)
        effective, _ = b.rfc3339(body.get("effectiveDateTime"), "effectiveDateTime")
        groups = body.get("sharedGroups", [])
        if not isinstance(groups, list):
            raise b.invalid("sharedGroups: expected a list")
        for i, group in enumerate(groups):
            b.require_object(group, f"sharedGroups[{i}]", _SHARED_GROUP)
        if (sid, ain) in self.bcc_seen:
            raise BusinessError("conflict", "BILL_CYCLE_CHANGE_EXISTS",
                                f"action item {ain} for {sid!r} was already executed")
        sub = self._subscriber(sid)
        if sub.msisdn != msisdn:
            raise BusinessError("reject", "MSISDN_MISMATCH", f"service {sid!r} has msisdn {sub.msisdn}")
        if sub.pay_mode != "POSTPAID":
            raise BusinessError("reject", "NOT_POSTPAID", "only POSTPAID subscriptions change bill cycle")
        if sub.bill_cycle_day is not None and old_day != sub.bill_cycle_day:
            raise BusinessError("reject", "BILL_CYCLE_MISMATCH",
                                f"service {sid!r} is on bill cycle day {sub.bill_cycle_day}, not {old_day}")
        self.bcc_seen.add((sid, ain))  # type: ignore[arg-type]
        instances: list[dict[str, Any]] = []
        # The OCS creates NEW instances starting with the new cycle and end-dates the old ones.
        for old in [bk for bk in sub.buckets if bk.end is None]:
            old.end = effective
            new = Bucket(self.new_id("inst"), sid, old.ocs_id, old.allowance_type, old.amount,
                         old.units, old.recurring, old.command_ref, effective, supersedes=old.id)
            sub.buckets.append(new)
            self.allowance_instances += 1
            instances.append({"ocsId": new.ocs_id, "ocsInstanceId": new.id, "kind": "ALLOWANCE",
                              "amount": new.amount, "unit": new.units,
                              "effectiveDateTime": effective, "expiryDateTime": None})
        for old_cap in [c for c in sub.caps if c.end is None]:
            old_cap.end = effective
            cap = SpendCap(self.new_id("inst"), sid, old_cap.account_id, old_cap.ocs_id, old_cap.kind,
                           old_cap.scope, old_cap.amount, old_cap.unit, old_cap.command_ref, effective,
                           supersedes=old_cap.id)
            sub.caps.append(cap)
            self.spend_cap_instances += 1
            instances.append({"ocsId": cap.ocs_id, "ocsInstanceId": cap.id, "kind": "SPEND_CAP",
                              "amount": cap.amount, "unit": cap.unit,
                              "effectiveDateTime": effective, "expiryDateTime": None})
        sub.bill_cycle_day = new_day
        change_id = self.new_id("bcc")
        sub.bill_cycle_changes.append({"id": change_id, "actionItemNumber": ain, "oldBillCycleDay": old_day,
                                       "newBillCycleDay": new_day, "effectiveDateTime": effective,
                                       "sharedGroups": groups})
        self.counters["bcc_changes"] += 1
        record = {"actionItemNumber": ain, "subscriptionId": sid, "msisdn": msisdn,
                  "ocsInstances": instances, "sharedGroup": None}
        if self.bcc_sink:
            self.pending_bcc.append(record)
        else:
            self.counters["bcc_records_discarded"] += 1
        return 202, {"id": change_id, "status": "accepted", "actionItemNumber": ain,
                     "subscriptionId": sid, "effectiveDateTime": effective,
                     "instanceCount": len(instances)}

    def take_pending(self) -> list[dict[str, Any]]:
        """Hand the pending bill-cycle records to the file writer (swap, so it is O(1))."""
        with self.lock:
            records, self.pending_bcc = self.pending_bcc, []
            return records

    # ------------------------------------------------------------------ inspection
    def subscriber_view(self, sid: str) -> dict[str, Any] | None:
        with self.lock:
            sub = self.subscribers.get(sid)
            return sub.full_view(time.time()) if sub else None

    def stats(self) -> dict[str, Any]:
        now = time.time()
        with self.lock:
            active = scheduled = 0
            for sub in self.subscribers.values():
                if sub.state == "active":
                    if sub.start_ts > now:
                        scheduled += 1
                    else:
                        active += 1
            return {
                "subscribers": len(self.subscribers),
                "active_subscribers": active,
                "scheduled_activations": scheduled,
                "allowances": self.allowances,
                "allowance_instances": self.allowance_instances,
                "spend_caps": self.spend_caps,
                "spend_cap_instances": self.spend_cap_instances,
                "services": self.services,
                "bcc_records_pending": len(self.pending_bcc),
                **self.counters,
            }
