"""Deliberately bad order records: each kind made by mutating a good record, with the field
(or phrase) the validator's reason for it must name."""

from __future__ import annotations

import json

from engine.synth.catalog import compact_json as _j

#: bad kind -> the field path (or phrase) a reason for it must name
BAD_KINDS: dict[str, str] = {
    "bad_msisdn": ".msisdn",
    "missing_last_name": "customer.lastName",
    "postpaid_without_cap": ".spendCap",
    "unknown_field": ".simType",
    "misspelt_field": "orderref",
    "wrong_type": "agreement.billCycleDay",
    "bad_enum": ".payMode",
    "invalid_json": "invalid JSON",
    "negative_amount": ".spendCap.amount",
    "duplicate_order_ref": "orderRef",
    "empty_line": "empty line",
    "delayed_without_date": ".activationDate",
    "bad_date": "customer.dateOfBirth",
    "too_many_decimals": ".spendCap.amount",
    "wrong_unit": ".unit",
    "not_object": "JSON object",
    "non_utf8": "UTF-8",
    "every_n_days_without_length": "agreement.cycleLengthDays",
    "organisation_without_registration": "customer.registrationNumber",
    "no_subscriptions": "subscriptions",
    "bad_email": "customer.email",
    "unlimited_cash": ".amount",
    "string_amount": ".amount",
    "multi_error": ".msisdn",
}


def mutate(kind: str, good: str, last_good_ref: str | None) -> bytes:
    """A bad line of `kind` made from a good record line."""
    if kind == "empty_line":
        return b""
    if kind == "invalid_json":
        return good[: len(good) // 2].encode()
    if kind == "non_utf8":
        return good.replace('"orderRef":"', '"orderRef":"\udcff', 1).encode("utf-8", "surrogateescape")
    rec = json.loads(good)
    cust, sub = rec["customer"], rec["subscriptions"][0]
    if kind in ("bad_msisdn", "multi_error"):
        sub["msisdn"] = "44A" + sub["msisdn"][3:]
    if kind in ("missing_last_name", "multi_error"):
        cust.update(type="INDIVIDUAL", firstName=cust["firstName"] or "Ada")
        cust.pop("lastName")
    if kind == "postpaid_without_cap":
        sub.update(payMode="POSTPAID", spendCap=None)
    if kind in ("unknown_field", "multi_error"):
        sub["simType"] = "NANO"
    if kind == "misspelt_field":
        rec = {("orderref" if k == "orderRef" else k): v for k, v in rec.items()}
    if kind == "wrong_type":
        rec["agreement"] = {"billFrequency": "MONTHLY", "billCycleDay": "15", "cycleLengthDays": None}
    if kind in ("bad_enum", "multi_error"):
        sub["payMode"] = "PREPAY"
    if kind == "negative_amount":
        sub.update(payMode="POSTPAID", spendCap={"kind": "VALUE", "scope": "FULL", "amount": -5})
    if kind == "too_many_decimals":
        sub.update(payMode="POSTPAID", spendCap={"kind": "VALUE", "scope": "FULL", "amount": 25.001})
    if kind == "duplicate_order_ref":
        rec["orderRef"] = last_good_ref
    if kind == "delayed_without_date":
        sub.update(activation="DELAYED", activationDate=None)
    if kind == "bad_date":
        cust["dateOfBirth"] = "1990-02-30"
    if kind == "wrong_unit":
        sub["allowances"] = [{"type": "VOICE", "amount": 100, "unit": "GB", "recurring": True}]
    if kind == "every_n_days_without_length":
        rec["agreement"] = {"billFrequency": "EVERY_N_DAYS", "billCycleDay": None, "cycleLengthDays": None}
    if kind == "organisation_without_registration":
        cust.update(type="ORGANISATION", organisationName="Albion Media Ltd", registrationNumber=None)
    if kind == "no_subscriptions":
        rec["subscriptions"] = []
    if kind == "bad_email":
        cust["email"] = "ada.example.org"
    if kind == "unlimited_cash":
        sub["allowances"] = [{"type": "CASH", "amount": "UNLIMITED", "unit": "GBP", "recurring": False}]
    if kind == "string_amount":
        sub["allowances"] = [{"type": "DATA", "amount": "100", "unit": "GB", "recurring": True}]
    if kind == "not_object":
        return _j([rec]).encode()
    return _j(rec).encode()
