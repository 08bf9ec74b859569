"""The bill-cycle-change job and the Openet Bill Cycle adaptor.

Rules on a real DuckDB file whose subscriptions the provisioning job created (postpaid only,
29-31 fallback, effective date, shared groups, the file route, idempotent re-runs, bad file
lines); then the whole path against a real netsim process: provisioning over the OCS adaptor,
the job, the Openet adaptor (NC with full history; a reject; transport faults retried under the
same key), netsim's subscriber on the new day, and netsim's Bill Cycle Change Response file
opened by the engine's age codec and generic reader.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine import age
from engine.config import EndpointConfig, Secret, load_config
from engine.errors import CommandBuildError, UsageError
from engine.generic.reader import read_generic
from engine.generic.record_types import SCHEMA_DIR
from engine.store import connect
from engine.transmission.adaptor import Adaptor
from engine.transmission.answers import interpret
from engine.transmission.builtins import builtin_commands
from engine.transmission.local import LocalQueue
from engine.transmission.model import RequestRow
from engine.jobs import run_job
from jobs.bill_cycle_change import BILL_CYCLE_CHANGE, JOB_NAME
from jobs.bill_cycle_rules import effective_date
from jobs.registry import default_registry
from netsim.testing import start_netsim
from tests.test_provisioning_job import add_batch, order, provision, rows, sub

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc)
RECORD_SCHEMA = Draft202012Validator(json.loads((SCHEMA_DIR / "bill-cycle-change-request.schema.json").read_text()))


@pytest.fixture
def con(tmp_path: Path):
    con = connect(tmp_path / "cmp.duckdb")
    yield con
    con.close()


# -- a small world made by the provisioning job ----------------------------------------------------

WORLD = {  # order ref -> (agreement day, frequency, [(msisdn, pay mode)])
    "ORD-MIXED": (15, "MONTHLY", [("447700900001", "POSTPAID"), ("447700900002", "POSTPAID"),
                                  ("447700900003", "PREPAID")]),
    "ORD-PREPAID": (15, "MONTHLY", [("447700900004", "PREPAID")]),
    "ORD-POST": (10, "QUARTERLY", [("447700900005", "POSTPAID")]),
    "ORD-NDAYS": (None, "EVERY_N_DAYS", [("447700900006", "POSTPAID")]),
    "ORD-PENDING": (15, "MONTHLY", [("447700900007", "POSTPAID")]),
}  # fmt: skip


def make_world(con, refs=tuple(WORLD), connect_all: bool = True) -> dict[str, str]:
    """Provision the orders; returns order ref -> agreement id. Unless told otherwise every
    subscription but ORD-PENDING's is then CONNECTED, as the OCS adaptor leaves it."""
    orders = []
    for ref in refs:
        day, frequency, subs = WORLD[ref]
        orders.append(order(ref, *[sub(m, mode, ref=f"S{i}") for i, (m, mode) in enumerate(subs)], day=day,
                            frequency=frequency, length=30 if frequency == "EVERY_N_DAYS" else None))
    assert provision(con, add_batch(con, orders))["status"] == "SUCCEEDED"
    if connect_all:
        con.execute("UPDATE subscriptions SET status = 'CONNECTED' WHERE order_ref <> 'ORD-PENDING'")
    return dict(con.execute("SELECT c.order_ref, s.agreement_id FROM subscriptions s JOIN customers c "
                            "USING (customer_id) GROUP BY ALL").fetchall())


def sid(con, msisdn: str) -> str:
    return con.execute("SELECT subscription_id FROM subscriptions WHERE msisdn = ?", [msisdn]).fetchone()[0]


def bcc(con, now: datetime = NOW, **params) -> dict:
    return run_job(con, BILL_CYCLE_CHANGE, {k: str(v) for k, v in params.items()}, now=now)


def requests(con, target: str | None = None) -> list[dict]:
    found = rows(con, "SELECT * FROM network_requests WHERE command = 'BILL_CYCLE_CHANGE' "
                      "AND (? IS NULL OR target = ?) ORDER BY request_id", [target, target])
    for r in found:
        r["attributes"] = json.loads(r["attributes"])
    return found


def table_counts(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (
        "workflow_events", "actioned_items", "bill_cycle_changes", "network_requests", "network_request_history")}


# -- the rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("today, day, expected", [
    (date(2026, 11, 25), 1, date(2026, 12, 1)),
    (date(2026, 11, 25), 25, date(2026, 12, 25)),  # never today: its 00:00 has passed
    (date(2026, 11, 25), 26, date(2026, 11, 26)),
    (date(2026, 11, 25), 31, date(2026, 11, 30)),  # November has 30 days
    (date(2026, 12, 31), 1, date(2027, 1, 1)),
    (date(2026, 12, 31), 31, date(2027, 1, 31)),
    (date(2027, 1, 31), 29, date(2027, 2, 28)),  # February, not a leap year
    (date(2027, 1, 31), 31, date(2027, 2, 28)),
    (date(2028, 1, 31), 29, date(2028, 2, 29)),  # a leap year
    (date(2028, 1, 31), 30, date(2028, 2, 29)),
    (date(2028, 2, 28), 30, date(2028, 2, 29)),
    (date(2027, 2, 28), 31, date(2027, 3, 31)),  # February's fallback (the 28th) is today
    (date(2027, 2, 27), 31, date(2027, 2, 28)),
])  # fmt: skip
def test_effective_date_is_the_next_cycle_start(today, day, expected):
    assert effective_date(today, day) == expected


def test_job_is_registered():
    assert default_registry().get(JOB_NAME) is BILL_CYCLE_CHANGE


def test_rules_postpaid_only_with_shared_groups(con):
    agr = make_world(con)
    s1, s2, s3 = sid(con, "447700900001"), sid(con, "447700900002"), sid(con, "447700900003")
    s5 = sid(con, "447700900005")
    con.execute("INSERT INTO shared_groups (shared_group_id, owner_subscription_id, ocs_shared_group_id) VALUES "
                f"('SG-2', '{s1}', 'OCS-SG-2'), ('SG-1', '{s1}', 'OCS-SG-1'), ('SG-9', '{s1}', NULL), "
                f"('SG-3', '{s3}', 'OCS-SG-3')")
    before = {r["subscription_id"]: r["seq"] for r in rows(
        con, "SELECT subscription_id, max(sequence) AS seq FROM network_requests GROUP BY 1")}
    ids = [agr["ORD-MIXED"], agr["ORD-PREPAID"], agr["ORD-POST"], agr["ORD-NDAYS"], agr["ORD-PENDING"],
           "AGR-404", agr["ORD-MIXED"], "bad id!"]
    result = bcc(con, agreement=",".join(ids), day=1)

    assert (result["status"], result["records_read"], result["records_ok"], result["records_error"]) == (
        "SUCCEEDED", 8, 2, 6)
    details = result["result"]
    assert details["errors_by_rule"] == {"bad_agreement": 1, "no_bill_cycle_day": 1, "not_connected": 1,
                                         "not_postpaid": 1, "repeated": 1, "unknown_agreement": 1}
    assert (details["subscriptions"], details["requests"], details["prepaid_left_out"]) == (3, 3, 1)
    reasons = {e["where"]: (e["field"], e["reason"]) for e in details["errors"]}
    assert reasons == {
        "agreement #2": ("agreement", f"agreement {agr['ORD-PREPAID']} has no live POSTPAID subscription "
                                      "(1 PREPAID): only postpaid subscriptions change bill cycle"),
        "agreement #4": ("day", f"agreement {agr['ORD-NDAYS']} bills EVERY_N_DAYS without a bill cycle day: only "
                                "MONTHLY, QUARTERLY, HALF_YEARLY and YEARLY agreements have one to change"),
        "agreement #5": ("agreement", f"agreement {agr['ORD-PENDING']}: POSTPAID subscription "
                                      f"{sid(con, '447700900007')} not yet CONNECTED: change the bill cycle once "
                                      "the connection is complete"),
        "agreement #6": ("agreement", "no agreement AGR-404"),
        "agreement #7": ("agreement", f"agreement {agr['ORD-MIXED']} repeats line 1 of this input"),
        "agreement #8": ("agreement", "must be an agreement id (1-64 of A-Z a-z 0-9 . _ : -), got bad id!"),
    }  # fmt: skip
    # the refused records are kept with the run's batch, for `cmpctl batches show --errors`
    batch = result["batch_id"]
    assert con.execute("SELECT batch_type, direction, records, valid_records, error_records FROM batches "
                       "WHERE batch_id = ?", [batch]).fetchone() == ("Bill Cycle Change", "None", 8, 2, 6)
    assert con.execute("SELECT line_no, record_key, reasons FROM batch_errors WHERE batch_id = ? AND line_no = 6",
                       [batch]).fetchone() == (6, "AGR-404", ["agreement: no agreement AGR-404"])

    # one event, item, change and OPENET request per POSTPAID subscription (the prepaid one stays out)
    reqs = requests(con)
    assert [r["subscription_id"] for r in reqs] == [s1, s2, s5]
    changes = rows(con, "SELECT * FROM bill_cycle_changes ORDER BY action_item_number")
    assert [(c["subscription_id"], c["agreement_id"], c["old_bill_cycle_day"], c["new_bill_cycle_day"], c["status"])
            for c in changes] == [(s1, agr["ORD-MIXED"], 15, 1, "REQUESTED"), (s2, agr["ORD-MIXED"], 15, 1, "REQUESTED"),
                                  (s5, agr["ORD-POST"], 10, 1, "REQUESTED")]  # fmt: skip
    assert {c["effective_at"] for c in changes} == {datetime(2026, 12, 1, tzinfo=timezone.utc)}
    assert {c["execution_id"] for c in changes} == {result["execution_id"]}
    for r, c in zip(reqs, changes):
        assert (r["target"], r["status"], r["action_item_number"]) == ("OPENET", "UN", c["action_item_number"])
        assert r["sequence"] == before[r["subscription_id"]] + 10  # after its own connection requests
        RECORD_SCHEMA.validate(r["attributes"])  # a FORMATS.md Bill Cycle Change Request record
        item = rows(con, "SELECT i.sequence, i.action, i.status, e.event_type, e.status AS event_status, "
                         "e.subscription_id, e.agreement_id, e.batch_id FROM actioned_items i JOIN workflow_events e "
                         "USING (event_id) WHERE i.action_item_number = ?", [c["action_item_number"]])
        assert item == [{"sequence": 10, "action": "BILL_CYCLE_CHANGE", "status": "SENT_TO_NETWORK",
                         "event_type": "BILL_CYCLE_CHANGE", "event_status": "OPEN",
                         "subscription_id": c["subscription_id"], "agreement_id": c["agreement_id"],
                         "batch_id": batch}]  # fmt: skip
        assert con.execute("SELECT seq, status, actor FROM network_request_history WHERE request_id = ?",
                           [r["request_id"]]).fetchall() == [(1, "UN", "bill-cycle-change")]
    assert reqs[0]["attributes"] == {
        "actionItemNumber": changes[0]["action_item_number"], "subscriptionId": s1, "msisdn": "447700900001",
        "oldBillCycleDay": 15, "newBillCycleDay": 1, "effectiveDateTime": "2026-12-01T00:00:00Z",
        "sharedGroups": [{"sharedGroupId": "SG-1", "ocsSharedGroupId": "OCS-SG-1"},
                         {"sharedGroupId": "SG-2", "ocsSharedGroupId": "OCS-SG-2"}],
    }  # fmt: skip
    assert reqs[1]["attributes"]["sharedGroups"] == []
    # the agreements that changed are on the new day now; the others are untouched
    days = dict(con.execute("SELECT agreement_id, bill_cycle_day FROM agreements").fetchall())
    assert days == {agr["ORD-MIXED"]: 1, agr["ORD-PREPAID"]: 15, agr["ORD-POST"]: 1, agr["ORD-NDAYS"]: None,
                    agr["ORD-PENDING"]: 15}
    assert con.execute("SELECT count(*) FROM agreements WHERE updated_at = ?", [NOW]).fetchone()[0] == 2


def test_rerun_creates_nothing_twice_and_a_next_change_follows_the_first(con):
    agr = make_world(con, ("ORD-MIXED", "ORD-POST"))
    first = bcc(con, agreement=f"{agr['ORD-MIXED']},{agr['ORD-POST']}", day=1)
    made = table_counts(con)
    again = bcc(con, agreement=f"{agr['ORD-MIXED']},{agr['ORD-POST']}", day=1)
    assert table_counts(con) == made
    assert (first["records_ok"], again["records_ok"], again["records_error"]) == (2, 0, 0)
    assert (again["result"]["already_requested"], again["result"]["requests"]) == (2, 0)

    # a later change to day 31, decided on 31 January 2027: effective on February's last day
    s1 = sid(con, "447700900001")
    later = bcc(con, now=datetime(2027, 1, 31, 8, tzinfo=timezone.utc), agreement=agr["ORD-MIXED"], day=31)
    assert later["records_ok"] == 1
    chain = [r for r in requests(con) if r["subscription_id"] == s1]
    assert [(r["attributes"]["oldBillCycleDay"], r["attributes"]["newBillCycleDay"],
             r["attributes"]["effectiveDateTime"]) for r in chain] == [
        (15, 1, "2026-12-01T00:00:00Z"), (1, 31, "2027-02-28T00:00:00Z")]  # fmt: skip
    assert chain[1]["sequence"] == chain[0]["sequence"] + 10  # runs after the first change
    # asking for the day the agreement is on, with no open change to it, is an error
    same = bcc(con, agreement=agr["ORD-POST"], day=1)
    assert same["result"]["already_requested"] == 1  # still open (REQUESTED): not repeated
    con.execute("UPDATE bill_cycle_changes SET status = 'RECONCILED'")
    same = bcc(con, agreement=agr["ORD-POST"], day=1)
    assert same["records_error"] == 1 and same["result"]["errors"][0]["reason"] == (
        f"agreement {agr['ORD-POST']} already bills on day 1")


def test_file_of_changes_with_bad_lines_and_the_configured_file_route(home: Path, tmp_path: Path):
    (home / "cmp.toml").write_text((home / "cmp.toml").read_text() + '\n[bill_cycle]\nfile_partner = "bureau"\n')
    con = connect(load_config(home, env={}).db_path)
    try:
        agr = make_world(con, ("ORD-MIXED", "ORD-POST", "ORD-PREPAID"))
        csv = tmp_path / "changes.csv"
        csv.write_text(f"agreement,day\n{agr['ORD-MIXED']},31\n\n{agr['ORD-POST']},x\n,5\n{agr['ORD-PREPAID']}\r\n"
                       f"\"{agr['ORD-POST']}\", 40\n")
        result = bcc(con, file=csv)
        errors = {e["where"]: (e["field"], e["reason"]) for e in result["result"]["errors"]}
        assert errors == {
            f"{csv}:4": ("day", "must be a whole number 1-31, got x"),
            f"{csv}:5": ("agreement", "is empty"),
            f"{csv}:6": ("line", "expected 2 comma-separated fields agreement,day, got 1"),
            f"{csv}:7": ("day", "must be a whole number 1-31, got 40"),
        }  # fmt: skip
        assert (result["records_read"], result["records_ok"], result["records_error"]) == (5, 1, 4)
        assert result["result"]["file_partner"] == "bureau"

        # the file route: a FILE:bureau request with the same record, as the event's 2nd item
        openet, by_file = requests(con, "OPENET"), requests(con, "FILE:bureau")
        assert len(openet) == len(by_file) == 2
        for o, f in zip(openet, by_file):
            assert f["attributes"] == o["attributes"] and f["sequence"] == o["sequence"] + 10
            assert f["action_item_number"] == o["action_item_number"] + 1
            assert o["attributes"]["actionItemNumber"] == o["action_item_number"]
            assert o["attributes"]["effectiveDateTime"] == "2026-11-30T00:00:00Z"  # day 31 in November
            assert con.execute("SELECT count(DISTINCT event_id), list(sequence ORDER BY sequence) FROM actioned_items "
                               "WHERE action_item_number IN (?, ?)", [o["action_item_number"],
                                                                      f["action_item_number"]]).fetchone() == (1, [10, 20])

        jsonl = tmp_path / "changes.jsonl"
        jsonl.write_text("\n".join([
            json.dumps({"agreement": agr["ORD-POST"], "day": 2}),
            "not json",
            json.dumps({"agreement": agr["ORD-POST"], "day": "3"}),
            json.dumps({"agreement": agr["ORD-MIXED"], "day": 4, "note": "x"}),
            "[1, 2]",
            json.dumps({"day": 5}),
        ]) + "\n")
        result = bcc(con, file=jsonl, file_partner="")  # the parameter overrides the config: Openet only
        errors = {e["where"]: (e["field"], e["reason"]) for e in result["result"]["errors"]}
        assert errors == {
            f"{jsonl}:2": ("line", "not valid JSON"),
            f"{jsonl}:3": ("day", 'must be a whole number 1-31, got <json "3">'),
            f"{jsonl}:4": ("line", "unknown field note (a change has only agreement and day)"),
            f"{jsonl}:5": ("line", "expected a JSON object {\"agreement\": …, \"day\": …}, got array"),
            f"{jsonl}:6": ("agreement", "is missing"),
        }  # fmt: skip
        assert (result["records_read"], result["records_ok"], result["records_error"]) == (6, 1, 5)
        assert [r["target"] for r in requests(con) if r["attributes"]["newBillCycleDay"] == 2] == ["OPENET"]
        latin1 = tmp_path / "latin1.csv"
        latin1.write_bytes(b"agreement,day\nAGR-\xe9,1\n")
        with pytest.raises(UsageError, match="cannot read it as UTF-8 text"):
            bcc(con, file=latin1)
    finally:
        con.close()


@pytest.mark.parametrize("params, message", [
    ({}, "needs either --param agreement"),
    ({"agreement": "AGR-1"}, "needs --param day"),
    ({"day": "1"}, "needs --param agreement"),
    ({"agreement": "AGR-1", "day": "1", "file": "/x.csv"}, "give one of the two"),
    ({"file": "changes.csv"}, "must be an absolute path"),
    ({"file": "/tmp/changes.txt"}, "unknown kind of change file"),
    ({"file": "/nonexistent/changes.csv"}, "no such file"),
    ({"agreement": "AGR-1", "day": "1", "file_partner": "a b"}, "file_partner must be"),
])  # fmt: skip
def test_bad_parameters_fail_the_run_with_a_usage_error(con, params, message):
    with pytest.raises(UsageError, match=message):
        bcc(con, **params)
    assert con.execute("SELECT status FROM job_executions").fetchall() == [("FAILED",)]
    assert table_counts(con)["workflow_events"] == 0


# -- the Openet command ----------------------------------------------------------------------------------


def test_openet_command_builds_the_record_as_body_and_202_completes_it():
    record = {"actionItemNumber": 5001, "subscriptionId": "SUB-1", "msisdn": "447700900123", "oldBillCycleDay": 15,
              "newBillCycleDay": 1, "effectiveDateTime": "2026-12-01T00:00:00Z",
              "sharedGroups": [{"sharedGroupId": "SG-7", "ocsSharedGroupId": "SG-77"}]}  # fmt: skip
    call = builtin_commands().build("OPENET", RequestRow(9, "BILL_CYCLE_CHANGE", 20, record))
    assert (call.method, call.path, json.loads(call.body)) == ("POST", "/openet/v1/billCycleChanges", record)
    assert call.body == builtin_commands().build("OPENET", RequestRow(9, "BILL_CYCLE_CHANGE", 20, dict(record))).body
    for field, value in (("newBillCycleDay", 32), ("msisdn", "12ab"), ("effectiveDateTime", "2026-12-01"),
                         ("sharedGroups", [{"sharedGroupId": "SG-7"}]), ("extra", 1)):
        with pytest.raises(CommandBuildError, match=re.escape(field)):
            builtin_commands().build("OPENET", RequestRow(9, "BILL_CYCLE_CHANGE", 20, {**record, field: value}))
    answer = json.dumps({"id": "bcc-1", "status": "accepted"}).encode()
    verdict = interpret(builtin_commands(), "OPENET", "BILL_CYCLE_CHANGE", 202, answer)
    assert (verdict.status, verdict.external_ref) == ("NC", "bcc-1")
    assert interpret(builtin_commands(), "OCS", "ACTIVATE", 202, answer).status == "NA"  # others keep 202 → NA


# -- the Openet adaptor against netsim -----------------------------------------------------------------


def endpoint(sim, **kw) -> EndpointConfig:
    values = dict(url=sim.url, token=Secret(sim.token), timeout_seconds=5.0, max_in_flight=8, max_retries=8,
                  backoff_base_seconds=0.01, backoff_max_seconds=0.05, lease_seconds=30.0)
    values.update(kw)
    return EndpointConfig(**values)


def run_adaptor(con, sim, target: str, worker: str) -> dict:
    adaptor = Adaptor(LocalQueue(con), endpoint(sim), target=target, worker=worker, flush_seconds=0.05)
    return asyncio.run(adaptor.run(until_idle=True))


def test_openet_adaptor_executes_the_changes_and_netsim_answers_by_file(con, tmp_path: Path):
    identity = age.Identity.generate()
    drop = tmp_path / "inbound"
    drop.mkdir()
    with start_netsim(drop_dir=drop, recipients=[str(identity.recipient())], extra_args=["--drop-interval", "60"]) as sim:
        agr = make_world(con, ("ORD-MIXED", "ORD-POST"), connect_all=False)
        run_adaptor(con, sim, "OCS", "ocs-1")  # connects them on netsim
        assert con.execute("SELECT DISTINCT status FROM subscriptions").fetchall() == [("CONNECTED",)]
        s1, s2, s3, s5 = (sid(con, f"44770090000{n}") for n in (1, 2, 3, 5))
        con.execute(f"INSERT INTO shared_groups VALUES ('SG-1', '{s1}', 'OCS-SG-1', now())")
        # the platform and the OCS disagree on ORD-POST's current day: Openet refuses its change
        con.execute("UPDATE agreements SET bill_cycle_day = 12 WHERE agreement_id = ?", [agr["ORD-POST"]])
        result = bcc(con, now=datetime.now(timezone.utc), agreement=f"{agr['ORD-MIXED']},{agr['ORD-POST']}", day=1)
        assert result["result"]["requests"] == 3
        effective = requests(con)[0]["attributes"]["effectiveDateTime"]

        # lost acknowledgements: the change executed but the answer never came; the retry under
        # the same Idempotency-Key gets the stored answer (not a second execution, not a 409)
        sim.set_faults("reset=0.5,ack_loss=1.0,seed=3")
        stats = run_adaptor(con, sim, "OPENET", "openet-1")
        sim_stats = sim.stats()
        views = {s: sim.subscriber(s) for s in (s1, s2, s3, s5)}
        reqs = {r["subscription_id"]: r for r in requests(con)}
        executions = {s: sim.executions(str(r["request_id"])) for s, r in reqs.items()}
        sim.set_faults("")
        files = sim.flush()

    assert sim_stats["faults_injected"]["reset"] >= 1 and stats["retries"] >= 1
    assert sim_stats["duplicate_executions"] == 0 and sim_stats["conflicts"] == 0
    assert executions == {s1: 1, s2: 1, s5: 1}  # once each (a refusal too: its answer is stored under the key)
    for s in (s1, s2):
        r = reqs[s]
        assert (r["status"], r["error_code"]) == ("NC", None) and r["external_ref"].startswith("bcc-")
        history = [h[0] for h in con.execute("SELECT status FROM network_request_history WHERE request_id = ? "
                                             "ORDER BY seq", [r["request_id"]]).fetchall()]
        assert history[:3] == ["UN", "PR", "NS"] and history[-1] == "NC"
        assert history[3:-1] == ["NE", "NS"] * ((len(history) - 4) // 2)  # each retry: NE then a new send
        assert r["attempts"] == (len(history) - 2) // 2
        assert views[s]["billCycleDay"] == 1
    assert views[s3]["billCycleDay"] == 15  # prepaid: not part of the change
    assert views[s5]["billCycleDay"] == 10
    refused = reqs[s5]
    assert (refused["status"], refused["error_code"]) == ("NR", "BILL_CYCLE_MISMATCH")
    # effects: items and events COMPLETE, the change waits for its response file; the refusal is an ERROR
    state = {s: con.execute(
        "SELECT i.status, e.status, e.error, c.status FROM bill_cycle_changes c JOIN actioned_items i "
        "USING (action_item_number) JOIN workflow_events e USING (event_id) WHERE c.subscription_id = ?",
        [s]).fetchone() for s in (s1, s2, s5)}  # fmt: skip
    assert state[s1] == state[s2] == ("COMPLETE", "COMPLETE", None, "REQUESTED")
    assert state[s5][0::3] == ("ERROR", "FAILED") and state[s5][1] == "ERROR"
    assert state[s5][2].startswith(f"request {refused['request_id']} BILL_CYCLE_CHANGE NR BILL_CYCLE_MISMATCH")
    # an operator's resubmit puts the change back to work (the operator actions apply unchanged)
    LocalQueue(con).resubmit_request(refused["request_id"], "OCS day corrected", "ops", datetime.now(timezone.utc))
    assert con.execute(
        "SELECT r.status, i.status, e.status, c.status FROM network_requests r JOIN actioned_items i "
        "USING (action_item_number) JOIN workflow_events e USING (event_id) JOIN bill_cycle_changes c "
        "USING (action_item_number) WHERE r.request_id = ?", [refused["request_id"]]).fetchone() == (
        "UN", "SENT_TO_NETWORK", "OPEN", "REQUESTED")

    # netsim's Bill Cycle Change Response file (pyrage), opened by the engine's codec and reader
    assert len(files) == 1 and (drop / files[0]).is_file()
    plain = io.BytesIO()
    with open(drop / files[0], "rb") as fh:
        age.decrypt(fh, plain, [identity])
    plain.seek(0)
    header, blocks = read_generic(plain, file=files[0])
    records = [rec for block in blocks for rec in block.valid.to_pylist()]
    assert (header.interface_type, header.record_count) == ("Bill Cycle Change Response", 2)
    changes = dict(con.execute("SELECT subscription_id, action_item_number FROM bill_cycle_changes").fetchall())
    assert {(r["subscriptionId"], r["actionItemNumber"]) for r in records} == {(s1, changes[s1]), (s2, changes[s2])}
    for rec in records:
        s = rec["subscriptionId"]
        engine_side = con.execute(
            "SELECT ocs_id, ocs_instance_id FROM allowances WHERE subscription_id = ? UNION ALL "
            "SELECT ocs_id, ocs_instance_id FROM spend_caps WHERE subscription_id = ?", [s, s]).fetchall()
        new = rec["ocsInstances"]
        assert sorted(i["ocsId"] for i in new) == sorted(o for o, _ in engine_side)  # one new instance each
        assert not {i["ocsInstanceId"] for i in new} & {i for _, i in engine_side}  # new ids, not the old ones
        assert {i["kind"] for i in new} == {"ALLOWANCE", "SPEND_CAP"}
        assert {_rfc3339(i["effectiveDateTime"]) for i in new} == {_rfc3339(effective)}


def _rfc3339(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
