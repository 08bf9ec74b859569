from __future__ import annotations

import io
import json
from collections import Counter
from datetime import datetime, timezone

from engine.generic.header import parse_header
from engine.generic.parse import parse_records
from engine.generic.reader import read_generic
from engine.synth import (
    BAD_KINDS,
    TARIFFS,
    BillCycleSubscription,
    default_start_msisdn,
    generate_bill_cycle_responses,
    generate_orders,
    iter_order_lines,
    write_orders,
)


def orders(count: int, **kw) -> list[dict]:
    return [json.loads(ol.line) for ol in iter_order_lines(count, **kw)]


def test_deterministic_by_seed():
    a = b"".join(generate_orders(500, seed=3, bad_share=0.05)[1])
    b = b"".join(generate_orders(500, seed=3, bad_share=0.05)[1])
    c = b"".join(generate_orders(500, seed=4, bad_share=0.05)[1])
    assert a == b and a != c


def test_good_records_are_valid_and_realistic():
    recs = orders(3000, seed=1)
    parsed = parse_records(b"".join(json.dumps(r).encode() + b"\n" for r in recs), "Order", 2, file="synth")
    assert parsed.errors == 0 and parsed.records == 3000
    kinds = Counter(r["customer"]["type"] for r in recs)
    assert 0.75 < kinds["INDIVIDUAL"] / 3000 < 0.85
    subs = [s for r in recs for s in r["subscriptions"]]
    assert all(1 <= len(r["subscriptions"]) <= 3 for r in recs if r["customer"]["type"] == "INDIVIDUAL")
    assert max(len(r["subscriptions"]) for r in recs if r["customer"]["type"] == "ORGANISATION") > 3
    assert all(s["spendCap"]["kind"] == "VALUE" and s["spendCap"]["scope"] == "FULL" for s in subs if s["payMode"] == "POSTPAID")
    assert 0.4 < sum(s["payMode"] == "POSTPAID" for s in subs) / len(subs) < 0.8
    delayed = [s for s in subs if s["activation"] == "DELAYED"]
    assert delayed and all(s["activationDate"] for s in delayed)
    codes = Counter(svc["code"] for s in subs for svc in s["services"] or [])
    assert {"VOLTE", "WIFI_CALLING", "ESIM", "DEVICE-GOLD"} <= set(codes)
    assert {s["tariffCode"] for s in subs} == set(TARIFFS)
    assert all(TARIFFS[s["tariffCode"]][0] == s["payMode"] for s in subs)  # PAYG prepaid, PAYM postpaid
    names = Counter(r["customer"]["lastName"] for r in recs if r["customer"]["lastName"])
    assert len(names) > 40 and any(not n.isascii() for n in names)
    assert len({r["customer"]["organisationName"] for r in recs if r["customer"]["organisationName"]}) > 100
    assert all("@" in r["customer"]["email"] and r["customer"]["email"].isascii() for r in recs)
    freq = Counter(r["agreement"]["billFrequency"] for r in recs)
    assert freq.most_common(1)[0][0] == "MONTHLY" and "EVERY_N_DAYS" in freq


def test_msisdns_unique_within_and_across_seeds():
    a = [s["msisdn"] for r in orders(2000, seed=1) for s in r["subscriptions"]]
    b = [s["msisdn"] for r in orders(2000, seed=2) for s in r["subscriptions"]]
    assert len(set(a)) == len(a) and len(set(b)) == len(b) and not set(a) & set(b)
    assert a[0] == str(default_start_msisdn(1)) and a[0].startswith("4477")
    c = [s["msisdn"] for r in orders(10, seed=1, start_msisdn=447700900000) for s in r["subscriptions"]]
    assert c[0] == "447700900000"
    refs = [r["orderRef"] for r in orders(2000, seed=1)]
    assert len(set(refs)) == len(refs)


def test_bad_share_cycles_through_every_kind_and_is_exact():
    lines = list(iter_order_lines(2400, seed=6, bad_share=0.01))
    kinds = [ol.bad_kind for ol in lines if ol.bad_kind]
    assert len(kinds) == 24 and set(kinds) == set(BAD_KINDS)
    assert all(ol.line.endswith(b"\n") for ol in lines)
    assert lines[0].bad_kind is None


def test_write_orders_writes_a_readable_file():
    sink = io.BytesIO()
    header = write_orders(sink, 1000, seed=5, bad_share=0.03, identifier="crm-20261125-0001")
    data = sink.getvalue()
    assert parse_header(data.split(b"\n", 1)[0], file="f") == header
    assert header.record_count == 1000 and header.identifier == "crm-20261125-0001"
    assert data.count(b"\n") == 1001
    hdr, blocks = read_generic(io.BytesIO(data), file="f", block_bytes=1 << 16)
    parts = list(blocks)
    assert sum(p.records for p in parts) == 1000 and 25 <= sum(p.errors for p in parts) <= 30


def test_bill_cycle_responses_are_valid():
    subs = [
        BillCycleSubscription(n, f"SUB-{n}", f"4477009{n:05d}", (("DATA-100GB", 100, "GB"), ("VOICE-UNL", "UNLIMITED", "MIN")),
                              ("CAP-VALUE", 25.5, "GBP") if n % 2 else None)
        for n in range(1, 101)
    ]  # fmt: skip
    header, lines = generate_bill_cycle_responses(subs, effective=datetime(2026, 12, 1, tzinfo=timezone.utc), seed=1)
    assert header.interface_type == "Bill Cycle Change Response" and header.record_count == 100
    parsed = parse_records(b"".join(lines), "Bill Cycle Change Response", 2, file="f")
    assert parsed.errors == 0 and parsed.records == 100
    first = json.loads(lines[0])
    assert [i["kind"] for i in first["ocsInstances"]] == ["ALLOWANCE", "ALLOWANCE", "SPEND_CAP"]
    assert first["ocsInstances"][1]["amount"] == "UNLIMITED" and first["ocsInstances"][2]["unit"] == "GBP"
    assert len({i["ocsInstanceId"] for line in lines for i in json.loads(line)["ocsInstances"]}) == 250
