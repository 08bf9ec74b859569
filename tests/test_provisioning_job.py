"""The provisioning job on a real DuckDB file: records, workflow, network requests, rules, re-runs.

Batches are made without the load pipeline: orders are built as Python dicts, typed with the
Order record's Arrow schema, and inserted into ``stage_orders`` with a ``batches`` row.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pyarrow as pa
import pytest

from engine.errors import NotFound, StoreBusy, UsageError
from engine.generic.record_types import ORDER_SCHEMA
from engine.store import database
from jobs import provisioning_rules
from engine.jobs import run_job
from jobs.provisioning import PROVISIONING
from jobs.provisioning_create import ACTIONS, ATTRIBUTE_KEYS, reserve
from jobs.provisioning_rules import Rule

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc)
UNL = float("inf")
DOMAIN_TABLES = ("customers", "accounts", "agreements", "subscriptions", "allowances", "spend_caps", "services",
                 "workflow_events", "actioned_items", "network_requests", "network_request_history")  # fmt: skip


# -- building batches -----------------------------------------------------------------------------


def allowance(type_: str, amount: float, unit: str, recurring: bool = True) -> dict:
    return {"type": type_, "amount": amount, "unit": unit, "recurring": recurring}


def sub(msisdn: str, pay_mode: str = "POSTPAID", *, ref: str = "S1", tariff: str = "PAYM24-100GB",
        allowances: list | None = None, cap: dict | None | str = "default", services: list | None = None,
        activation: str = "IMMEDIATE", activation_date: date | None = None) -> dict:  # fmt: skip
    if cap == "default":
        cap = {"kind": "VALUE", "scope": "FULL", "amount": 25.0} if pay_mode == "POSTPAID" else None
    return {
        "subscriptionRef": ref, "payMode": pay_mode, "msisdn": msisdn, "tariffCode": tariff,
        "activation": activation, "activationDate": activation_date,
        "allowances": allowances if allowances is not None else [allowance("DATA", 5, "GB")],
        "spendCap": cap, "services": services or [],
    }  # fmt: skip


def order(ref: str, *subs: dict, currency: str = "GBP", org: bool = False, frequency: str = "MONTHLY",
          day: int | None = 15, length: int | None = None) -> dict:  # fmt: skip
    customer = (
        {"type": "ORGANISATION", "title": None, "firstName": None, "lastName": None, "dateOfBirth": None,
         "organisationName": "Kestrel Logistics Ltd", "registrationNumber": "SC123456", "email": "ops@kestrel.example"}
        if org else
        {"type": "INDIVIDUAL", "title": "Ms", "firstName": "Ada", "lastName": "Byron",
         "dateOfBirth": date(1990, 12, 10), "organisationName": None, "registrationNumber": None,
         "email": "ada@example.org"}
    )  # fmt: skip
    return {
        "orderRef": ref, "customer": customer, "account": {"paymentType": "DIRECT_DEBIT", "currency": currency},
        "agreement": {"billFrequency": frequency, "billCycleDay": day, "cycleLengthDays": length},
        "subscriptions": list(subs),
    }  # fmt: skip


def add_batch(con, orders: list[dict], *, batch_type: str = "Order", trigger: bool = True) -> int:
    """A committed batch: batches row, (optionally) its PENDING trigger, and its stage_orders rows."""
    batch_id = con.execute("SELECT nextval('seq_batch')").fetchone()[0]
    con.execute(
        "INSERT INTO batches (batch_id, category, batch_type, direction, stage, records, valid_records) "
        "VALUES (?, 'Provisioning', ?, 'Inbound', 'LOADED', ?, ?)",
        [batch_id, batch_type, len(orders), len(orders)],
    )
    if trigger:
        con.execute("INSERT INTO batch_triggers (batch_id, job) VALUES (?, 'provisioning')", [batch_id])
    if orders:
        table = pa.Table.from_pylist(orders, schema=ORDER_SCHEMA)
        # shard 0 counts the header as line 1, so the records are lines 2, 3, …
        table = table.append_column("line_no", pa.array(range(2, len(orders) + 2), pa.int64()))
        con.register("new_orders", table)
        con.execute(
            "INSERT INTO stage_orders BY NAME SELECT ?::BIGINT AS batch_id, 0::INTEGER AS shard_no, * FROM new_orders",
            [batch_id],
        )
        con.unregister("new_orders")
    return batch_id


def provision(con, batch_id, now: datetime = NOW) -> dict:
    return run_job(con, PROVISIONING, {"batch": str(batch_id)}, now=now)


def counts(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in DOMAIN_TABLES}


def rows(con, sql: str, params=()) -> list[dict]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def requests_of(con, subscription_id: str) -> list[dict]:
    found = rows(con, "SELECT * FROM network_requests WHERE subscription_id = ? ORDER BY sequence", [subscription_id])
    for r in found:
        r["attributes"] = json.loads(r["attributes"])
    return found


def sub_id(con, msisdn: str) -> str:
    return con.execute("SELECT subscription_id FROM subscriptions WHERE msisdn = ?", [msisdn]).fetchone()[0]


def errors_of(con, batch_id: int) -> dict[int, list[str]]:
    return dict(con.execute(
        "SELECT line_no, reasons FROM batch_errors WHERE batch_id = ? AND source = 'provisioning' ORDER BY line_no",
        [batch_id],
    ).fetchall())  # fmt: skip


@pytest.fixture
def con(tmp_path):
    connection = database.connect(tmp_path / "cmp.duckdb")
    yield connection
    connection.close()


# -- creation -----------------------------------------------------------------------------------------


FULL_ORDER = order(
    "ORD-1",
    sub("447700900123", "POSTPAID", ref="SUB-A",
        allowances=[allowance("DATA", 100, "GB"), allowance("VOICE", UNL, "MIN"), allowance("CASH", 10, "GBP", False),
                    allowance("TEXT", 2.5, "SMS")],
        cap={"kind": "VALUE", "scope": "FULL", "amount": 25.5},
        services=[{"type": "SOFTWARE_CAPABILITY", "code": "VOLTE"}, {"type": "INSURANCE", "code": "DEVICE-GOLD"},
                  {"type": "SOFTWARE_CAPABILITY", "code": "WIFI_CALLING"}, {"type": "INSURANCE", "code": "SCREEN"}]),
)  # fmt: skip


def test_full_order_creates_every_record(con):
    batch = add_batch(con, [FULL_ORDER])
    run = provision(con, batch)

    assert (run["status"], run["records_read"], run["records_ok"], run["records_error"]) == ("SUCCEEDED", 1, 1, 0)
    assert run["batch_id"] == batch
    assert run["result"] == {"subscriptions": 1, "requests": 11, "already_provisioned": 0, "errors_by_rule": {}}
    assert counts(con) == {"customers": 1, "accounts": 1, "agreements": 1, "subscriptions": 1, "allowances": 4,
                           "spend_caps": 1, "services": 4, "workflow_events": 1, "actioned_items": 11,
                           "network_requests": 11, "network_request_history": 11}  # fmt: skip

    # ids come from one reserved block per sequence, in line order: the first batch starts at 1
    (cus,) = rows(con, "SELECT * FROM customers")
    assert (cus["customer_id"], cus["order_ref"], cus["batch_id"]) == ("CUS-1", "ORD-1", batch)
    assert (cus["customer_type"], cus["title"], cus["first_name"], cus["last_name"], cus["date_of_birth"],
            cus["email"]) == ("INDIVIDUAL", "Ms", "Ada", "Byron", date(1990, 12, 10), "ada@example.org")  # fmt: skip
    (acc,) = rows(con, "SELECT * FROM accounts")
    assert (acc["account_id"], acc["customer_id"], acc["payment_type"], acc["currency"]) == (
        "ACC-1", "CUS-1", "DIRECT_DEBIT", "GBP")
    (agr,) = rows(con, "SELECT * FROM agreements")
    assert (agr["agreement_id"], agr["account_id"], agr["bill_frequency"], agr["bill_cycle_day"],
            agr["cycle_length_days"], agr["auto_created"]) == ("AGR-1", "ACC-1", "MONTHLY", 15, None, True)
    (s,) = rows(con, "SELECT * FROM subscriptions")
    sid = s["subscription_id"]
    assert sid == "SUB-1"
    assert (s["customer_id"], s["account_id"], s["agreement_id"], s["subscription_ref"], s["order_ref"],
            s["pay_mode"], s["msisdn"], s["tariff_code"], s["activation"], s["activation_date"], s["status"]) == (
        cus["customer_id"], acc["account_id"], agr["agreement_id"], "SUB-A", "ORD-1", "POSTPAID", "447700900123",
        "PAYM24-100GB", "IMMEDIATE", None, "PENDING")  # fmt: skip

    alws = rows(con, "SELECT * FROM allowances ORDER BY allowance_id")
    assert [(a["allowance_id"], a["allowance_type"], a["amount"], a["unlimited"], a["unit"], a["recurring"],
             a["ocs_id"], a["subscription_id"]) for a in alws] == [
        ("ALW-1", "DATA", 100, False, "GB", True, "DATA-100GB", sid),
        ("ALW-2", "VOICE", None, True, "MIN", True, "VOICE-UNLIMITED", sid),
        ("ALW-3", "CASH", 10, False, "GBP", False, "CASH-10GBP", sid),
        ("ALW-4", "TEXT", 2.5, False, "SMS", True, "TEXT-2.5SMS", sid),
    ]  # fmt: skip
    (cap,) = rows(con, "SELECT * FROM spend_caps")
    assert (cap["subscription_id"], cap["kind"], cap["scope"], float(cap["amount"]), cap["unit"], cap["enabled"],
            cap["ocs_id"], cap["spend_cap_id"]) == (sid, "VALUE", "FULL", 25.5, "GBP", True, "CAP-VALUE-FULL", "CAP-1")
    svcs = rows(con, "SELECT * FROM services ORDER BY service_id")
    assert [(v["service_id"], v["service_type"], v["code"], v["status"]) for v in svcs] == [
        ("SVC-1", "SOFTWARE_CAPABILITY", "VOLTE", "PENDING"), ("SVC-2", "INSURANCE", "DEVICE-GOLD", "PENDING"),
        ("SVC-3", "SOFTWARE_CAPABILITY", "WIFI_CALLING", "PENDING"), ("SVC-4", "INSURANCE", "SCREEN", "PENDING")]

    (ev,) = rows(con, "SELECT * FROM workflow_events")
    assert ev["event_id"] == 1
    assert (ev["event_type"], ev["subscription_id"], ev["agreement_id"], ev["batch_id"], ev["execution_id"],
            ev["status"]) == ("NEW_CONNECTION", sid, agr["agreement_id"], batch, run["execution_id"], "OPEN")
    items = rows(con, "SELECT * FROM actioned_items ORDER BY sequence")
    assert [(i["sequence"], i["action"]) for i in items] == [
        (10, "CREATE_SUBSCRIBER"), (20, "ADD_ALLOWANCE"), (30, "ADD_ALLOWANCE"), (40, "ADD_ALLOWANCE"),
        (50, "ADD_ALLOWANCE"), (60, "SET_SPEND_CAP"), (70, "ADD_CAPABILITY"), (80, "ADD_CAPABILITY"),
        (90, "ACTIVATE"), (100, "ADD_INSURANCE"), (110, "ADD_INSURANCE")]  # fmt: skip
    assert {i["event_id"] for i in items} == {ev["event_id"]} == {1}
    assert {i["status"] for i in items} == {"SENT_TO_NETWORK"}
    assert [i["action_item_number"] for i in items] == list(range(1, 12))

    reqs = requests_of(con, sid)
    by_item = {i["action_item_number"]: i for i in items}
    for r in reqs:
        item = by_item[r["action_item_number"]]
        assert (r["sequence"], r["command"]) == (item["sequence"], item["action"])
        assert list(r["attributes"]) == list(ATTRIBUTE_KEYS[r["command"]])
    assert [r["request_id"] for r in reqs] == list(range(1, 12))
    assert {r["status"] for r in reqs} == {"UN"}
    assert [r["target"] for r in reqs] == ["OCS"] * 9 + ["FILE:insurance"] * 2
    assert list(dict.fromkeys(r["command"] for r in reqs)) == list(ACTIONS)
    assert all(r["not_before"] is None for r in reqs)
    alw_ids = {a["ocs_id"]: a["allowance_id"] for a in alws}
    svc_ids = {v["code"]: v["service_id"] for v in svcs}
    assert [r["attributes"] for r in reqs] == [
        {"subscriptionId": sid, "msisdn": "447700900123", "tariffCode": "PAYM24-100GB", "payMode": "POSTPAID",
         "billCycleDay": 15, "accountId": acc["account_id"], "agreementId": agr["agreement_id"]},
        {"subscriptionId": sid, "allowanceId": alw_ids["DATA-100GB"], "ocsId": "DATA-100GB", "type": "DATA",
         "amount": 100, "unit": "GB", "recurring": True},
        {"subscriptionId": sid, "allowanceId": alw_ids["VOICE-UNLIMITED"], "ocsId": "VOICE-UNLIMITED", "type": "VOICE",
         "amount": "UNLIMITED", "unit": "MIN", "recurring": True},
        {"subscriptionId": sid, "allowanceId": alw_ids["CASH-10GBP"], "ocsId": "CASH-10GBP", "type": "CASH",
         "amount": 10, "unit": "GBP", "recurring": False},
        {"subscriptionId": sid, "allowanceId": alw_ids["TEXT-2.5SMS"], "ocsId": "TEXT-2.5SMS", "type": "TEXT",
         "amount": 2.5, "unit": "SMS", "recurring": True},
        {"subscriptionId": sid, "spendCapId": cap["spend_cap_id"], "ocsId": "CAP-VALUE-FULL", "kind": "VALUE",
         "scope": "FULL", "amount": 25.5, "unit": "GBP"},
        {"subscriptionId": sid, "serviceId": svc_ids["VOLTE"], "code": "VOLTE"},
        {"subscriptionId": sid, "serviceId": svc_ids["WIFI_CALLING"], "code": "WIFI_CALLING"},
        {"subscriptionId": sid, "activationDate": None},
        {"subscriptionId": sid, "serviceId": svc_ids["DEVICE-GOLD"], "code": "DEVICE-GOLD", "msisdn": "447700900123",
         "accountId": acc["account_id"]},
        {"subscriptionId": sid, "serviceId": svc_ids["SCREEN"], "code": "SCREEN", "msisdn": "447700900123",
         "accountId": acc["account_id"]},
    ]  # fmt: skip

    hist = rows(con, "SELECT * FROM network_request_history ORDER BY request_id")
    assert [h["request_id"] for h in hist] == sorted(r["request_id"] for r in reqs)
    assert {(h["seq"], h["status"], h["actor"], h["note"]) for h in hist} == {
        (1, "UN", "provisioning", f"created by execution {run['execution_id']}")}

    (b,) = rows(con, "SELECT * FROM batches WHERE batch_id = ?", [batch])
    assert b["stage"] == "PROCESSED"
    assert rows(con, "SELECT status, execution_id FROM batch_triggers WHERE batch_id = ?", [batch]) == [
        {"status": "DONE", "execution_id": run["execution_id"]}]


def test_several_subscriptions_caps_and_delayed_activation(con):
    orders = [
        order("ORD-ORG", org=True, currency="EUR", frequency="EVERY_N_DAYS", day=None, length=28, *[
            sub("353870000001", "PREPAID", ref="A", allowances=[allowance("DATA", 1, "GB", False),
                                                               allowance("CASH", 5, "EUR", False)],
                cap={"kind": "VOLUME", "scope": "PARTIAL", "amount": 2048},
                activation="DELAYED", activation_date=date(2026, 12, 3)),
            sub("353870000002", "PREPAID", ref="B", allowances=[], cap=None) | {"allowances": None, "services": None},
            sub("353870000003", "PREPAID", ref="C", cap={"kind": "DURATION", "scope": "FULL", "amount": 600},
                services=[{"type": "INSURANCE", "code": "DEVICE-SILVER"}]),
            sub("353870000004", "POSTPAID", ref="D", cap={"kind": "VALUE", "scope": "FULL", "amount": 40},
                activation="DELAYED", activation_date=NOW.date()),  # today is not in the past
        ]),
    ]  # fmt: skip
    batch = add_batch(con, orders)
    run = provision(con, batch)
    assert (run["records_read"], run["records_ok"], run["records_error"]) == (1, 1, 0)
    assert run["result"]["subscriptions"] == 4
    assert run["result"]["requests"] == 5 + 2 + 5 + 4

    (cus,) = rows(con, "SELECT * FROM customers")
    assert (cus["customer_type"], cus["organisation_name"], cus["registration_number"], cus["first_name"]) == (
        "ORGANISATION", "Kestrel Logistics Ltd", "SC123456", None)
    (agr,) = rows(con, "SELECT * FROM agreements")
    assert (agr["bill_frequency"], agr["bill_cycle_day"], agr["cycle_length_days"]) == ("EVERY_N_DAYS", None, 28)
    subs = {r["subscription_ref"]: r for r in rows(con, "SELECT * FROM subscriptions")}
    assert {ref: s["subscription_id"] for ref, s in subs.items()} == {"A": "SUB-1", "B": "SUB-2", "C": "SUB-3",
                                                                      "D": "SUB-4"}  # fmt: skip
    assert {s["agreement_id"] for s in subs.values()} == {"AGR-1"}
    assert subs["A"]["activation_date"] == date(2026, 12, 3)
    caps = {c["spend_cap_id"]: (c["subscription_id"], c["kind"], c["scope"], c["unit"], c["ocs_id"])
            for c in rows(con, "SELECT * FROM spend_caps")}
    assert caps == {
        "CAP-1": ("SUB-1", "VOLUME", "PARTIAL", "MB", "CAP-VOLUME-PARTIAL"),
        "CAP-2": ("SUB-3", "DURATION", "FULL", "MIN", "CAP-DURATION-FULL"),
        "CAP-3": ("SUB-4", "VALUE", "FULL", "EUR", "CAP-VALUE-FULL"),
    }  # fmt: skip
    assert rows(con, "SELECT allowance_id, subscription_id FROM allowances ORDER BY allowance_id") == [
        {"allowance_id": "ALW-1", "subscription_id": "SUB-1"}, {"allowance_id": "ALW-2", "subscription_id": "SUB-1"},
        {"allowance_id": "ALW-3", "subscription_id": "SUB-3"}, {"allowance_id": "ALW-4", "subscription_id": "SUB-4"}]
    assert rows(con, "SELECT subscription_id, list(request_id ORDER BY sequence) AS ids FROM network_requests "
                     "GROUP BY ALL ORDER BY 1") == [
        {"subscription_id": "SUB-1", "ids": [1, 2, 3, 4, 5]}, {"subscription_id": "SUB-2", "ids": [6, 7]},
        {"subscription_id": "SUB-3", "ids": [8, 9, 10, 11, 12]}, {"subscription_id": "SUB-4", "ids": [13, 14, 15, 16]}]
    assert rows(con, "SELECT event_id, list(action_item_number ORDER BY sequence) AS items FROM actioned_items "
                     "GROUP BY ALL ORDER BY 1") == [
        {"event_id": 1, "items": [1, 2, 3, 4, 5]}, {"event_id": 2, "items": [6, 7]},
        {"event_id": 3, "items": [8, 9, 10, 11, 12]}, {"event_id": 4, "items": [13, 14, 15, 16]}]  # fmt: skip
    assert rows(con, "SELECT event_id, subscription_id, agreement_id FROM workflow_events ORDER BY 1") == [
        {"event_id": n, "subscription_id": f"SUB-{n}", "agreement_id": "AGR-1"} for n in range(1, 5)]

    a = requests_of(con, subs["A"]["subscription_id"])
    assert [(r["sequence"], r["command"]) for r in a] == [
        (10, "CREATE_SUBSCRIBER"), (20, "ADD_ALLOWANCE"), (30, "ADD_ALLOWANCE"), (40, "SET_SPEND_CAP"), (50, "ACTIVATE")]
    assert a[0]["attributes"]["billCycleDay"] is None and a[0]["attributes"]["payMode"] == "PREPAID"
    assert a[2]["attributes"]["ocsId"] == "CASH-5EUR"
    assert a[3]["attributes"] | {"spendCapId": None} == {
        "subscriptionId": subs["A"]["subscription_id"], "spendCapId": None, "ocsId": "CAP-VOLUME-PARTIAL",
        "kind": "VOLUME", "scope": "PARTIAL", "amount": 2048, "unit": "MB"}  # fmt: skip
    assert a[4]["attributes"] == {"subscriptionId": subs["A"]["subscription_id"], "activationDate": "2026-12-03"}
    assert a[4]["not_before"] == datetime(2026, 12, 3, tzinfo=timezone.utc)
    assert all(r["not_before"] is None for r in a[:4])

    b = requests_of(con, subs["B"]["subscription_id"])
    assert [(r["sequence"], r["command"], r["target"]) for r in b] == [
        (10, "CREATE_SUBSCRIBER", "OCS"), (20, "ACTIVATE", "OCS")]
    c = requests_of(con, subs["C"]["subscription_id"])
    assert [(r["sequence"], r["command"], r["target"]) for r in c] == [
        (10, "CREATE_SUBSCRIBER", "OCS"), (20, "ADD_ALLOWANCE", "OCS"), (30, "SET_SPEND_CAP", "OCS"),
        (40, "ACTIVATE", "OCS"), (50, "ADD_INSURANCE", "FILE:insurance")]  # fmt: skip
    d = requests_of(con, subs["D"]["subscription_id"])
    assert d[-1]["command"] == "ACTIVATE" and d[-1]["attributes"]["activationDate"] == "2026-11-25"
    assert d[-1]["not_before"] == datetime(2026, 11, 25, tzinfo=timezone.utc)


# -- business rules -----------------------------------------------------------------------------------


def test_every_rule_rejects_the_whole_order_and_the_rest_proceed(con):
    # an earlier batch leaves one live subscription and one ceased one
    first = add_batch(con, [order("ORD-OLD", sub("447700900001", ref="L")),
                            order("ORD-GONE", sub("447700900002", ref="G"))])  # fmt: skip
    provision(con, first)
    live = sub_id(con, "447700900001")
    con.execute("UPDATE subscriptions SET status = 'CEASED' WHERE msisdn = '447700900002'")

    orders = [
        order("ORD-OK", sub("447700900010", services=[{"type": "SOFTWARE_CAPABILITY", "code": "VOLTE"}])),  # line 2
        order("ORD-LIVE", sub("447700900011"), sub("447700900001", ref="S2")),  # line 3
        order("ORD-REUSE-CEASED", sub("447700900002")),  # line 4: a ceased msisdn may be reused
        order("ORD-NOCAP", sub("447700900012", "POSTPAID", cap=None)),  # line 5
        order("ORD-VOLCAP", sub("447700900013", "POSTPAID", cap={"kind": "VOLUME", "scope": "FULL", "amount": 5})),
        order("ORD-PAST", sub("447700900014", activation="DELAYED", activation_date=date(2026, 11, 24))),  # line 7
        order("ORD-CASH", sub("447700900015", allowances=[allowance("DATA", UNL, "GB"), allowance("CASH", 5, "EUR")])),
        order("ORD-DUP", sub("447700900010", ref="X")),  # line 9: repeats line 2
        order("ORD-MANY", sub("447700900016", "PREPAID"),  # line 10: several reasons, in order
              sub("447700900016", "POSTPAID", ref="S2", cap=None, activation="DELAYED", activation_date=date(2020, 1, 1),
                  allowances=[allowance("CASH", 1, "USD"), allowance("CASH", 2, "GBP"), allowance("CASH", 3, "EUR")])),
    ]  # fmt: skip
    batch = add_batch(con, orders)
    before = counts(con)
    run = provision(con, batch)

    assert (run["records_read"], run["records_ok"], run["records_error"]) == (9, 2, 7)
    assert run["result"]["errors_by_rule"] == {
        "msisdn_in_use": 1, "msisdn_repeated": 2, "postpaid_without_value_cap": 3, "activation_date_in_past": 2,
        "cash_currency_mismatch": 2}  # fmt: skip
    assert errors_of(con, batch) == {
        3: [f"subscriptions[1].msisdn: 447700900001 is already in use by live subscription {live}"],
        5: ["subscriptions[0].spendCap: a POSTPAID subscription needs an enabled VALUE/FULL spend cap, it has none"],
        6: ["subscriptions[0].spendCap: a POSTPAID subscription needs an enabled VALUE/FULL spend cap, "
            "it has VOLUME/FULL"],
        7: ["subscriptions[0].activationDate: 2026-11-24 is in the past (today is 2026-11-25)"],
        8: ["subscriptions[0].allowances[1].unit: a CASH allowance in EUR is not in the account currency GBP"],
        9: ["subscriptions[0].msisdn: 447700900010 repeats line 2 (subscriptions[0]) of this batch"],
        10: ["subscriptions[1].msisdn: 447700900016 repeats subscriptions[0] of the same order",
             "subscriptions[1].spendCap: a POSTPAID subscription needs an enabled VALUE/FULL spend cap, it has none",
             "subscriptions[1].activationDate: 2020-01-01 is in the past (today is 2026-11-25)",
             "subscriptions[1].allowances[0].unit: a CASH allowance in USD is not in the account currency GBP",
             "subscriptions[1].allowances[2].unit: a CASH allowance in EUR is not in the account currency GBP"],
    }  # fmt: skip
    errs = rows(con, "SELECT * FROM batch_errors WHERE batch_id = ? ORDER BY line_no", [batch])
    assert {(e["source"], e["shard_no"]) for e in errs} == {("provisioning", 0)}
    assert [e["record_key"] for e in errs] == ["ORD-LIVE", "ORD-NOCAP", "ORD-VOLCAP", "ORD-PAST", "ORD-CASH",
                                                "ORD-DUP", "ORD-MANY"]  # fmt: skip
    raw = json.loads(errs[4]["raw"])
    assert raw["orderRef"] == "ORD-CASH" and raw["customer"]["dateOfBirth"] == "1990-12-10"
    assert raw["subscriptions"][0]["allowances"] == [
        {"type": "DATA", "amount": "UNLIMITED", "unit": "GB", "recurring": True},
        {"type": "CASH", "amount": 5.0, "unit": "EUR", "recurring": True}]  # fmt: skip

    # only ORD-OK and ORD-REUSE-CEASED were provisioned, with nothing of the rejected orders
    assert sorted(r[0] for r in con.execute("SELECT order_ref FROM customers WHERE batch_id = ?", [batch]).fetchall()) == [
        "ORD-OK", "ORD-REUSE-CEASED"]
    after = counts(con)
    assert {t: after[t] - before[t] for t in DOMAIN_TABLES} == {
        "customers": 2, "accounts": 2, "agreements": 2, "subscriptions": 2, "allowances": 2, "spend_caps": 2,
        "services": 1, "workflow_events": 2, "actioned_items": 9, "network_requests": 9,
        "network_request_history": 9}  # fmt: skip
    assert con.execute("SELECT count(*) FROM subscriptions WHERE msisdn = '447700900011'").fetchone()[0] == 0
    # the job's temp tables, the rules' violations included, end with it (nobody reads them after)
    assert con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall() == []


def test_a_second_batch_with_an_msisdn_now_live_is_rejected(con):
    provision(con, add_batch(con, [order("ORD-1", sub("447700900123"))]))
    live = sub_id(con, "447700900123")
    second = add_batch(con, [order("ORD-2", sub("447700900123")), order("ORD-3", sub("447700900124"))])
    run = provision(con, second)
    assert (run["records_read"], run["records_ok"], run["records_error"]) == (2, 1, 1)
    assert errors_of(con, second) == {
        2: [f"subscriptions[0].msisdn: 447700900123 is already in use by live subscription {live}"]}
    assert con.execute("SELECT count(*) FROM subscriptions WHERE msisdn = '447700900123'").fetchone()[0] == 1


def test_a_rule_is_added_by_adding_to_the_tuple(con, monkeypatch):
    extra = Rule("no_trial_tariff", "subscription", "tariff_code LIKE 'TRIAL%'",
                 "path || '.tariffCode: ' || tariff_code || ' is withdrawn'")  # fmt: skip
    monkeypatch.setattr(provisioning_rules, "RULES", (*provisioning_rules.RULES, extra))
    batch = add_batch(con, [order("ORD-1", sub("447700900001", tariff="TRIAL-1")), order("ORD-2", sub("447700900002"))])
    run = provision(con, batch)
    assert (run["records_ok"], run["records_error"]) == (1, 1)
    assert run["result"]["errors_by_rule"] == {"no_trial_tariff": 1}
    assert errors_of(con, batch) == {2: ["subscriptions[0].tariffCode: TRIAL-1 is withdrawn"]}
    with pytest.raises(ValueError, match="unknown scope"):
        Rule("bad", "customer", "true", "'x'")
    with pytest.raises(ValueError, match="lower_snake_case"):
        Rule("it's bad", "subscription", "true", "'x'")


# -- idempotency and re-runs ----------------------------------------------------------------------------


def test_running_twice_creates_nothing_new(con):
    orders = [FULL_ORDER, order("ORD-2", sub("447700900200"), sub("447700900201", "PREPAID", ref="S2")),
              order("ORD-BAD", sub("447700900202", cap=None))]  # fmt: skip
    batch = add_batch(con, orders)
    first = provision(con, batch)
    assert (first["records_read"], first["records_ok"], first["records_error"]) == (3, 2, 1)
    snapshot = counts(con)
    errors = errors_of(con, batch)
    ids = con.execute("SELECT (SELECT list(request_id ORDER BY request_id) FROM network_requests), "
                      "(SELECT list(subscription_id ORDER BY subscription_id) FROM subscriptions)").fetchone()

    second = provision(con, batch)
    assert (second["status"], second["records_read"], second["records_ok"], second["records_error"]) == (
        "SUCCEEDED", 3, 0, 1)
    assert second["result"] == {"subscriptions": 0, "requests": 0, "already_provisioned": 2,
                                "errors_by_rule": {"postpaid_without_value_cap": 1}}  # fmt: skip
    assert counts(con) == snapshot
    assert errors_of(con, batch) == errors  # replaced, not doubled
    assert con.execute("SELECT (SELECT list(request_id ORDER BY request_id) FROM network_requests), "
                       "(SELECT list(subscription_id ORDER BY subscription_id) FROM subscriptions)").fetchone() == ids
    assert rows(con, "SELECT status, execution_id FROM batch_triggers WHERE batch_id = ?", [batch]) == [
        {"status": "DONE", "execution_id": second["execution_id"]}]
    assert rows(con, "SELECT execution_id, status, records_ok FROM job_executions ORDER BY execution_id") == [
        {"execution_id": first["execution_id"], "status": "SUCCEEDED", "records_ok": 2},
        {"execution_id": second["execution_id"], "status": "SUCCEEDED", "records_ok": 0}]  # fmt: skip


def test_a_rerun_provisions_an_order_whose_msisdn_was_freed(con):
    provision(con, add_batch(con, [order("ORD-1", sub("447700900300"))]))
    batch = add_batch(con, [order("ORD-2", sub("447700900300"))])
    assert provision(con, batch)["records_error"] == 1
    con.execute("UPDATE subscriptions SET status = 'CEASED' WHERE order_ref = 'ORD-1'")
    run = provision(con, batch)
    assert (run["records_ok"], run["records_error"]) == (1, 0)
    assert errors_of(con, batch) == {}
    assert con.execute("SELECT status FROM subscriptions WHERE order_ref = 'ORD-2'").fetchall() == [("PENDING",)]


# -- the batch parameter ----------------------------------------------------------------------------------


def test_batch_trigger_is_inserted_when_missing_and_empty_batch_is_fine(con):
    batch = add_batch(con, [], trigger=False)
    run = provision(con, batch)
    assert (run["records_read"], run["records_ok"], run["records_error"]) == (0, 0, 0)
    assert rows(con, "SELECT job, status, execution_id FROM batch_triggers WHERE batch_id = ?", [batch]) == [
        {"job": "provisioning", "status": "DONE", "execution_id": run["execution_id"]}]
    assert con.execute("SELECT stage FROM batches WHERE batch_id = ?", [batch]).fetchone() == ("PROCESSED",)


def test_a_missing_or_wrong_batch_is_refused(con):
    with pytest.raises(NotFound, match="no batch 999"):
        provision(con, 999)
    response = add_batch(con, [], batch_type="Response")
    with pytest.raises(UsageError, match="'Response' batch"):
        provision(con, response)
    with pytest.raises(UsageError, match="batch id"):
        run_job(con, PROVISIONING, {"batch": "latest"})
    with pytest.raises(UsageError, match="needs --param batch"):
        run_job(con, PROVISIONING, {})
    failed = rows(con, "SELECT status, error FROM job_executions ORDER BY execution_id")
    assert [f["status"] for f in failed] == ["FAILED", "FAILED", "FAILED"]
    assert "no batch 999" in failed[0]["error"]
    assert con.execute("SELECT stage FROM batches WHERE batch_id = ?", [response]).fetchone() == ("LOADED",)
    assert counts(con)["customers"] == 0


# -- id blocks ------------------------------------------------------------------------------------------


def test_ids_are_reserved_as_contiguous_blocks(con):
    con.execute("SELECT nextval('seq_request')")  # someone else drew 1 earlier
    assert reserve(con, "seq_request", 5) == 2
    assert con.execute("SELECT nextval('seq_request')").fetchone() == (7,)
    assert reserve(con, "seq_request", 0) == 0


def test_a_block_interleaved_with_another_session_is_drawn_again():
    class Draws:
        """What the draws of 10 values return (min, max) when another session draws meanwhile."""

        def __init__(self, *results: tuple[int, int]) -> None:
            self.results, self.calls = list(results), 0

        def execute(self, sql: str, params: list):
            assert "nextval('seq_request')" in sql and params == [10]
            self.calls += 1
            result = self.results.pop(0)
            return SimpleNamespace(fetchone=lambda: result)

    draws = Draws((100, 110), (200, 210), (300, 309))
    assert reserve(draws, "seq_request", 10) == 300
    assert draws.calls == 3
    with pytest.raises(StoreBusy, match="contiguous values of seq_request"):
        reserve(Draws(*[(1, 11)] * 5), "seq_request", 10)
