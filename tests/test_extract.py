"""Extract daemons and response handling: insurance requests go out by file and come back.

Real DuckDB files, the Store in-process (one test with the Extract daemon actor under Ray),
real age files: the partner opens them with the Debian ``age -d`` and its own ``age-keygen``
identity; the Response file goes through the real load pipeline and triggers
``response_handling``.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine import age
from engine.config import load_config
from engine.errors import ConfigError
from engine.extract.daemon import ExtractDaemon, partner_outputs
from engine.generic.header import FileHeader
from engine.generic.writer import record_line
from engine.home import home_identities, home_recipient, init_home
from engine.loading.pipeline import InlineRunner, LoadSettings, load_file
from tests.stores import make_store
from tests.conftest import have_age_tool
from tests.test_provisioning_job import add_batch, order, provision, sub

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc)
COLUMNS = {"policy_ref": "requestId", "msisdn": "commandAttributes.msisdn", "product": "commandAttributes.code",
           "subscription": "subscriptionId", "source": "'CMP'"}


def keygen(path: Path) -> str:
    """A partner identity made by the real age-keygen; returns its age1… recipient."""
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return next(line.split(": ")[1] for line in path.read_text().splitlines() if line.startswith("# public key:"))


def age_decrypt(path: Path, identity: Path) -> bytes:
    return subprocess.run(["age", "-d", "-i", str(identity), str(path)], check=True, capture_output=True).stdout


@pytest.fixture
def env(tmp_path):
    if not have_age_tool():
        pytest.fail("the age and age-keygen tools are required (apt-get install age)")
    home = init_home(tmp_path / "home").home
    partner_key = tmp_path / "insurer.txt"
    recipient = keygen(partner_key)
    config = load_config(home, env={}, overrides={
        "extract.partners.insurance.recipients": [recipient],
        "extract.partners.insurance.columns": COLUMNS,
        "extract.max_records_per_file": 3,
    })
    store = make_store(config.db_path)
    yield config, store, partner_key
    store.close()


def make_daemon(config, store, name="extract_provisioning"):
    return ExtractDaemon(name, actor="test-extract", store=store, outbound_dir=config.outbound_dir(name),
                         recipients=[str(home_recipient(config))], partners=config.extract.partners,
                         max_records=config.extract.max_records_per_file)


def provision_orders(store) -> dict[str, str]:
    """Five subscriptions: four insured (one twice), one not. Returns msisdn -> subscription id."""
    ins = lambda code: {"type": "INSURANCE", "code": code}  # noqa: E731
    orders = [
        order("ORD-1", sub("447700900001", services=[ins("DEVICE-GOLD")])),
        order("ORD-2", sub("447700900002", services=[{"type": "SOFTWARE_CAPABILITY", "code": "VOLTE"},
                                                      ins("DEVICE-SILVER"), ins("SCREEN-ONLY")])),
        order("ORD-3", sub("447700900003", "PREPAID", services=[ins("DEVICE-GOLD")])),
        order("ORD-4", sub("447700900004", services=[ins("SCREEN-ONLY")])),
        order("ORD-5", sub("447700900005")),
    ]
    with store.cursor() as cur:
        provision(cur, add_batch(cur, orders))
        return dict(cur.execute("SELECT msisdn, subscription_id FROM subscriptions").fetchall())


def q(store, sql, params=()):
    with store.cursor() as cur:
        cur.execute(sql, list(params))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def read_generic(plain: bytes) -> tuple[dict, list[dict]]:
    lines = plain.decode().splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def test_partner_mapping_errors_name_the_column():
    from engine.config import PartnerConfig

    bad = {"x": PartnerConfig(format="csv", columns={"policy": "requestID"})}
    with pytest.raises(ConfigError, match=r"extract.partners.x.columns.policy = 'requestID' names no field"):
        partner_outputs("Request", bad)
    with pytest.raises(ConfigError, match="needs columns"):
        partner_outputs("Request", {"x": PartnerConfig(format="csv")})


def test_insurance_requests_out_by_file_and_completed_by_the_response(env, tmp_path):
    config, store, partner_key = env
    subs = provision_orders(store)
    daemon = make_daemon(config, store)
    insurance = q(store, "SELECT request_id, subscription_id, sequence FROM network_requests "
                         "WHERE target = 'FILE:insurance' ORDER BY request_id")
    assert len(insurance) == 5

    # -- crash between commit and write: the reserved file is finished by the next poll -----------
    reserved = store.extract_reserve("extract_provisioning", max_records=3, now=NOW, actor="died")
    assert [f.record_count for f in reserved] == [3]  # 4 heads, at most 3 a file
    assert not (config.outbound_dir("extract_provisioning") / reserved[0].name).exists()
    first = daemon.poll_once(NOW)
    assert [(e.file_id, e.recovered) for e in first][:1] == [(reserved[0].file_id, True)]
    assert [e.records for e in first] == [3, 1]  # then a new file with the 4th head
    assert daemon.poll_once(NOW) == []  # the heads are NS: nothing more may go (order, no resend)

    out = config.outbound_dir("extract_provisioning")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [e.name for e in first] + [e.converted for e in first])  # no temporary files left

    # -- the partner opens them with the real age tool ---------------------------------------------
    sent: dict[str, dict] = {}
    for e in first:
        header, records = read_generic(age_decrypt(out / e.name, partner_key))
        assert header["interfaceType"] == "Request" and header["recordCount"] == len(records) == e.records
        assert header["identifier"] == e.name.removesuffix(".jsonl.age")
        rows = list(csv.DictReader(io.StringIO(age_decrypt(out / e.converted, partner_key).decode())))
        assert [list(r) for r in rows[:1]] == [list(COLUMNS)]
        for rec, row in zip(records, rows):
            attrs = {a["name"]: a["value"] for a in rec["commandAttributes"]}
            assert rec["command"] == "ADD_INSURANCE" and rec["accountId"].startswith("ACC-")
            assert row == {"policy_ref": rec["requestId"], "msisdn": attrs["msisdn"], "product": attrs["code"],
                           "subscription": rec["subscriptionId"], "source": "CMP"}
            assert rec["requestId"] not in sent  # never the same request in two files
            sent[rec["requestId"]] = rec
        # the home's own identity opens it too (our codec), and the ledger has its hash
        assert age.decrypt(io.BytesIO((out / e.name).read_bytes()), io.BytesIO(), home_identities(config)) > 0
    sub2 = subs["447700900002"]
    assert {r["subscriptionId"] for r in sent.values()} == {subs[m] for m in ("447700900001", "447700900002",
                                                                             "447700900003", "447700900004")}
    ledger = q(store, "SELECT f.file_id, f.sha256, f.record_count, b.direction, b.stage FROM files f "
                      "JOIN batches b USING (batch_id) WHERE f.direction = 'Outbound' ORDER BY f.file_id")
    assert [(r["record_count"], r["direction"], r["stage"]) for r in ledger] == [(3, "Outbound", "PROCESSED"),
                                                                                (1, "Outbound", "PROCESSED")]
    assert all(len(r["sha256"]) == 64 for r in ledger)
    ns = q(store, "SELECT r.request_id, r.status, r.file_id, r.sent_at, count(h.seq) FILTER (WHERE h.status = 'NS') "
                  "AS ns_rows FROM network_requests r JOIN network_request_history h USING (request_id) "
                  "WHERE r.target = 'FILE:insurance' GROUP BY ALL ORDER BY r.request_id")
    assert sorted(str(r["request_id"]) for r in ns if r["status"] == "NS") == sorted(sent)
    assert all(r["ns_rows"] == 1 and r["file_id"] and r["sent_at"] for r in ns if r["status"] == "NS")
    waiting = [r for r in ns if r["status"] == "UN"]  # sub 2's second insurance waits for its first
    assert len(waiting) == 1 and waiting[0]["ns_rows"] == 0

    # -- sub 4's connection completes on the OCS first (operator close: the real effects) ----------
    sub4 = subs["447700900004"]
    for (rid,) in [tuple(r.values()) for r in q(store, "SELECT request_id FROM network_requests WHERE "
                                                       "subscription_id = ? AND target = 'OCS' ORDER BY sequence",
                                                [sub4])]:
        store.close_request(rid, "done on the OCS", "test", NOW)
    assert q(store, "SELECT status FROM subscriptions WHERE subscription_id = ?", [sub4]) == [{"status": "CONNECTED"}]

    # -- the insurer answers: a Response file through the Load daemon's pipeline --------------------
    declined = next(r for r in sent.values() if r["subscriptionId"] == sub4)
    answers = [{"requestId": rid, "actionItemNumber": r["actionItemNumber"], "isSuccess": r is not declined,
                "commandSentTimeStamp": NOW, "errorCode": None if r is not declined else "DECLINED",
                "errorText": None if r is not declined else "device older than 24 months",
                "externalRef": f"POL-{rid}" if r is not declined else None} for rid, r in sent.items()]
    answers.append({**answers[0], "externalRef": "POL-DUP"})  # a repeated line
    answers.append({**answers[1], "requestId": "999999"})  # no such request
    inbound = load_response(config, store, tmp_path, answers)
    assert inbound.records == len(answers) and inbound.triggers == ("response_handling",)
    [run] = store.run_triggers()
    assert run["status"] == "SUCCEEDED"
    assert (run["records_read"], run["records_ok"], run["records_error"]) == (5, 4, 1)  # the repeat: a load error
    assert run["result"] == {"completed": 3, "rejected": 1, "already_applied": 0}
    errors = q(store, "SELECT line_no, source, reasons FROM batch_errors WHERE batch_id = ? ORDER BY line_no",
               [inbound.batch_id])
    assert [(e["line_no"], e["source"]) for e in errors] == [(6, "load"), (7, "response_handling")]
    assert "duplicate" in errors[0]["reasons"][0]
    assert errors[1]["reasons"] == ["requestId: 999999 is not a network request of this engine"]

    done = {str(r["request_id"]): r for r in q(store, "SELECT * FROM network_requests WHERE target = 'FILE:insurance'")}
    for rid in sent:
        row = done[rid]
        history = q(store, "SELECT status, actor, note FROM network_request_history WHERE request_id = ? "
                           "ORDER BY seq DESC LIMIT 1", [int(rid)])[0]
        assert history["actor"] == "response_handling" and f"batch {inbound.batch_id}" in history["note"]
        if sent[rid] is declined:
            assert (row["status"], row["error_code"]) == ("NR", "DECLINED")
            assert history["status"] == "NR" and "DECLINED device older than 24 months" in history["note"]
        else:
            assert (row["status"], row["external_ref"], history["status"]) == ("NC", f"POL-{rid}", "NC")
    services = {(r["subscription_id"], r["status"], r["external_ref"]) for r in q(
        store, "SELECT s.subscription_id, s.status, s.external_ref FROM services s JOIN network_requests r "
               "ON json_extract_string(r.attributes, '$.serviceId') = s.service_id WHERE r.request_id IN "
               f"({', '.join(sent)})")}
    assert services == {(r["subscriptionId"], "FAILED" if r is declined else "ACTIVE",
                         None if r is declined else f"POL-{rid}") for rid, r in sent.items()}
    items = q(store, "SELECT a.status, a.error FROM actioned_items a JOIN network_requests r USING (action_item_number) "
                     "WHERE r.request_id = ?", [int(declined["requestId"])])
    assert items[0]["status"] == "ERROR" and "DECLINED" in items[0]["error"]
    # the insurer's refusal does not un-connect the subscription the OCS connected
    assert q(store, "SELECT status FROM subscriptions WHERE subscription_id = ?", [sub4]) == [{"status": "CONNECTED"}]

    # -- a second run of the job creates nothing ------------------------------------------------------
    counts = lambda: q(store, "SELECT (SELECT count(*) FROM network_request_history) AS h, "  # noqa: E731
                              "(SELECT count(*) FROM batch_errors) AS e, (SELECT count(*) FROM files) AS f")
    before = counts()
    again = store.run_job("response_handling", {"batch": str(inbound.batch_id)})
    assert again["result"] == {"completed": 0, "rejected": 0, "already_applied": 4} and counts() == before

    # -- sub 2's first insurance is NC: its second one goes out now, in a file of its own -----------
    later = daemon.poll_once(NOW + timedelta(minutes=1))
    assert [e.records for e in later] == [1]
    _, [record] = read_generic(age_decrypt(out / later[0].name, partner_key))
    assert record["subscriptionId"] == sub2 and record["requestId"] not in sent
    assert record["sequence"] > sent[next(k for k, r in sent.items() if r["subscriptionId"] == sub2)]["sequence"]

    # -- a response for a request that is not awaiting one is an error, not a crash -----------------
    late = load_response(config, store, tmp_path, [{**answers[1], "externalRef": "POL-AGAIN"}], identifier="late-1")
    [run2] = store.run_triggers()
    assert run2["records_error"] == 1
    [err] = q(store, "SELECT reasons FROM batch_errors WHERE batch_id = ?", [late.batch_id])
    assert "is NC, not awaiting a response" in err["reasons"][0]

    # -- the operator resubmits the declined one: it goes out under a new requestId ------------------
    rid = declined["requestId"]
    store.resubmit_request(int(rid), "customer sent proof of purchase", "operator", NOW)
    [again_out] = daemon.poll_once(NOW + timedelta(minutes=2))
    _, [resent] = read_generic(age_decrypt(out / again_out.name, partner_key))
    assert resent["requestId"] == f"{rid}-r1"
    retry = load_response(config, store, tmp_path, [
        {**answers[0], "requestId": rid, "actionItemNumber": resent["actionItemNumber"], "externalRef": "POL-OLD"},
        {**answers[0], "requestId": f"{rid}-r1", "actionItemNumber": resent["actionItemNumber"],
         "externalRef": "POL-NEW"}], identifier="retry-1")
    [run3] = store.run_triggers()
    assert (run3["records_ok"], run3["records_error"]) == (1, 1)
    [err] = q(store, "SELECT reasons FROM batch_errors WHERE batch_id = ?", [retry.batch_id])
    assert err["reasons"] == [f"requestId: {rid} answers an earlier sending of request {rid} (it was resubmitted since)"]
    assert q(store, "SELECT s.status, s.external_ref FROM services s WHERE s.service_id = "
                    "(SELECT json_extract_string(attributes, '$.serviceId') FROM network_requests WHERE request_id = ?)",
             [int(rid)]) == [{"status": "ACTIVE", "external_ref": "POL-NEW"}]


def load_response(config, store, tmp_path, answers, identifier="insurer-resp-1"):
    # written line by line (not write_generic, which refuses a repeated requestId: a partner may not)
    header = FileHeader(interface_type="Response", identifier=identifier, created_at=NOW, record_count=len(answers))
    plain = io.BytesIO(header.to_json_line() + b"".join(record_line(a) for a in answers))
    path = tmp_path / f"{identifier}.jsonl.age"
    with open(path, "wb") as fh:
        age.encrypt(io.BytesIO(plain.getvalue()), fh, [home_recipient(config)])
    settings = LoadSettings(daemon="load_provisioning", shard_bytes=config.load.shard_bytes,
                            max_error_ratio=0.5, max_line_bytes=config.load.max_line_bytes,
                            work_dir=tmp_path / "work")
    return load_file(path, settings=settings, identities=home_identities(config), sink=store,
                     runner=InlineRunner(store))


def test_extract_daemon_actor(ray_local, tmp_path):
    from actors import names
    from actors.clients import ActorClient, StoreClient
    from actors.extract_daemon import ExtractDaemonActor
    from actors.store import StoreActor

    home = init_home(tmp_path / "home").home
    config = load_config(home, env={})
    store = make_store(config.db_path)
    try:
        provision_orders(store)
    finally:
        store.close()
    store_actor = StoreClient(StoreActor.remote(str(config.db_path)))
    spec = names.daemon("extract_provisioning")
    daemon = ActorClient(ExtractDaemonActor.remote(spec, config, store_actor.handle, False))
    try:
        [extracted] = daemon.poll_now()
        assert extracted.records == 4 and extracted.converted == extracted.name.replace(".jsonl.age", ".csv.age")
        plain = io.BytesIO()
        with open(config.outbound_dir("extract_provisioning") / extracted.name, "rb") as fh:
            age.decrypt(fh, plain, home_identities(config))
        header, records = read_generic(plain.getvalue())
        assert header["recordCount"] == 4 == len(records)
        assert daemon.poll_now() == []
        rows = {d["name"]: d for d in store_actor.list_daemons()}
        assert rows[spec.actor_name]["last_poll_at"] is not None and rows[spec.actor_name]["daemon_type"] == "Extract"
        assert daemon.state()["state"] == "STOPPED"
        # a wrong mapping: the actor stays up as FAILED with the reason, instead of dying in a loop
        bad = load_config(home, env={}, overrides={"extract.partners.insurance.columns": {"policy": "requestID"}})
        broken = ActorClient(ExtractDaemonActor.remote(spec, bad, store_actor.handle, True))
        state = broken.state()
        assert state["state"] == "FAILED" and "columns.policy = 'requestID' names no field" in state["last_error"]
        ray_local.kill(broken.handle)
    finally:
        ray_local.kill(daemon.handle)
        store_actor.close()
        ray_local.kill(store_actor.handle)


def test_bill_cycle_change_requests_by_file(env):
    """Requests shaped as the bill-cycle-change job writes them (the record is the attributes)."""
    config, store, _ = env
    subs = provision_orders(store)
    sid, other = subs["447700900001"], subs["447700900005"]
    record = {"actionItemNumber": 9001, "subscriptionId": sid, "msisdn": "447700900001", "oldBillCycleDay": 15,
              "newBillCycleDay": 1, "effectiveDateTime": "2026-12-01T00:00:00Z",
              "sharedGroups": [{"sharedGroupId": "SG-1", "ocsSharedGroupId": "OCS-SG-77"}]}
    with store.cursor() as cur:
        cur.execute("INSERT INTO bill_cycle_changes (action_item_number, agreement_id, subscription_id, "
                    "old_bill_cycle_day, new_bill_cycle_day, effective_at) SELECT 9001, agreement_id, subscription_id, "
                    "15, 1, TIMESTAMPTZ '2026-12-01 00:00:00+00' FROM subscriptions WHERE subscription_id = ?", [sid])
        for rid, item, sub_id, attrs in ((90001, 9002, sid, json.dumps(record)), (90002, 9004, other, "{}")):
            cur.execute("INSERT INTO network_requests (request_id, action_item_number, subscription_id, target, command, "
                        "sequence, attributes) VALUES (?, ?, ?, 'FILE:billing-bureau', 'BILL_CYCLE_CHANGE', 100, ?)",
                        [rid, item, sub_id, attrs])
            cur.execute("INSERT INTO network_request_history (request_id, seq, status, actor) VALUES (?, 1, 'UN', 't')",
                        [rid])
    bureau = load_config(config.home, env={}, overrides={
        "extract.partners.billing-bureau.format": "csv",
        "extract.partners.billing-bureau.bill_cycle_columns": {
            "item": "actionItemNumber", "msisdn": "msisdn", "new_day": "newBillCycleDay",
            "effective": "effectiveDateTime", "groups": "sharedGroups"}})
    [e] = make_daemon(bureau, store, "extract_bill_cycle").poll_once(NOW)
    assert e.partner == "billing-bureau"
    out = config.outbound_dir("extract_bill_cycle")
    header, records = read_generic(age_decrypt(out / e.name, config.identity_path))  # the home's own recipient
    assert header["interfaceType"] == "Bill Cycle Change Request" and header["recordCount"] == 1
    assert records == [record]
    rows = list(csv.DictReader(io.StringIO(age_decrypt(out / e.converted, config.identity_path).decode())))
    assert rows == [{"item": "9001", "msisdn": "447700900001", "new_day": "1", "effective": "2026-12-01T00:00:00Z",
                     "groups": json.dumps(record["sharedGroups"], separators=(",", ":"))}]
    [bad] = q(store, "SELECT status, error_text FROM network_requests WHERE request_id = 90002")
    assert bad == {"status": "PE", "error_text": "cannot be written to a file: no bill cycle change for actioned item 9004"}
    # the provisioning extract takes the insurance requests only
    provisioning = make_daemon(config, store).poll_once(NOW)
    assert {r["command"] for r in q(store, "SELECT DISTINCT command FROM network_requests WHERE file_id IN "
                                           f"({', '.join(str(x.file_id) for x in provisioning)})")} == {"ADD_INSURANCE"}
