"""The reconciliation job: every class on a small constructed case, re-pointing at the
effective time (never before, never twice), P=1 == P=2 on Ray, and a real netsim's faults.

Real parts: response files encrypted with age and loaded by the engine's load pipeline into a
real DuckDB Store; netsim as a process writing its own (pyrage) response files; local Ray.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine import age
from engine.errors import NotFound, UsageError
from engine.loading.pipeline import DAEMON_TYPES, InlineRunner, LoadSettings, load_file
from engine.reconcile.report import discrepancy_report
from engine.store.store import Store
from tests import stores
from engine.jobs import JobSpec, run_job
from jobs.reconciliation import RECONCILIATION, make_reconciliation, reconciliation_spec
from netsim.testing import start_netsim

IDENT = age.Identity.generate()
EFFECTIVE = datetime(2026, 12, 1, tzinfo=timezone.utc)
BEFORE = EFFECTIVE - timedelta(days=5)
EFF = "2026-12-01T00:00:00Z"


# ------------------------------------------------------------------------------- helpers
def make_store(path: Path) -> Store:
    return stores.make_store(path / "data" / "cmp.duckdb")


def load_response(store: Store, tmp_path: Path, records: list[dict], identifier: str) -> int:
    """Write a Bill Cycle Change Response file (age, our codec) and load it like the daemon."""
    header = {"interfaceCategory": "Provisioning", "interfaceType": "Bill Cycle Change Response",
              "version": "1.0", "identifier": identifier, "extractDateTime": "2026-11-25T06:00:00Z",
              "recordCount": len(records)}
    plain = "\n".join(json.dumps(x) for x in [header, *records]).encode() + b"\n"
    out = io.BytesIO()
    age.encrypt(io.BytesIO(plain), out, [IDENT.recipient()])
    path = tmp_path / f"{identifier}.jsonl.age"
    path.write_bytes(out.getvalue())
    return load_path(store, tmp_path, path)


def load_path(store: Store, tmp_path: Path, path: Path) -> int:
    settings = LoadSettings(daemon="load_bill_cycle", shard_bytes=64 * 2**20, max_error_ratio=0.0,
                            max_line_bytes=2**20, work_dir=tmp_path / "work")
    result = load_file(path, settings=settings, identities=[IDENT], sink=store, runner=InlineRunner(store))
    assert result.errors == 0 and result.triggers == ("reconciliation",)
    return result.batch_id


def seed_engine(store: Store, subs: list[tuple], changes: list[tuple[int, str]]) -> None:
    """subs: (subscription, [(kind, record_id, ocs_id, instance, amount|None, unit)]);
    changes: (action item, subscription) REQUESTED, effective at EFFECTIVE."""
    with store.cursor() as cur:
        # The engine draws record ids from its sequences; these hand-made ones stay below them.
        cur.execute("SELECT max(nextval('seq_allowance')), max(nextval('seq_spend_cap')) FROM range(1000)").fetchall()
        for sid, records in subs:
            for kind, rid, ocs_id, inst, amount, unit in records:
                if kind == "ALLOWANCE":
                    cur.execute(
                        "INSERT INTO allowances (allowance_id, subscription_id, allowance_type, amount, unlimited, "
                        "unit, recurring, ocs_id, ocs_instance_id, effective_from) "
                        "VALUES (?, ?, ?, ?, ?, ?, true, ?, ?, ?)",
                        [rid, sid, ocs_id.split("-")[0], amount, amount is None, unit, ocs_id, inst, BEFORE])
                else:
                    cur.execute(
                        "INSERT INTO spend_caps (spend_cap_id, subscription_id, kind, scope, amount, unit, ocs_id, "
                        "ocs_instance_id, effective_from) VALUES (?, ?, 'VALUE', 'FULL', ?, ?, ?, ?, ?)",
                        [rid, sid, amount, unit, ocs_id, inst, BEFORE])
        for ain, sid in changes:
            cur.execute("INSERT INTO bill_cycle_changes (action_item_number, agreement_id, subscription_id, "
                        "old_bill_cycle_day, new_bill_cycle_day, effective_at) VALUES (?, ?, ?, 15, 1, ?)",
                        [ain, "AGR-" + sid, sid, EFFECTIVE])


def inst(ocs_id, iid, kind="ALLOWANCE", amount=100, unit="GB", eff=EFF):
    return {"ocsId": ocs_id, "ocsInstanceId": iid, "kind": kind, "amount": amount, "unit": unit,
            "effectiveDateTime": eff, "expiryDateTime": None}


def response(ain, sid, *instances):
    return {"actionItemNumber": ain, "subscriptionId": sid, "msisdn": "447700900001",
            "ocsInstances": list(instances), "sharedGroup": None}


#: the job as the Store actor wires it: P>1 partitions as Ray tasks
ON_RAY = reconciliation_spec(stores.ray_partitions)


def run(store: Store, now: datetime, spec: JobSpec = RECONCILIATION, **params) -> dict:
    with store.cursor() as cur:
        return run_job(cur, spec, {k: str(v) for k, v in params.items()}, now=now)


def rows(store: Store, sql: str, *args) -> list[tuple]:
    with store.cursor() as cur:
        return cur.execute(sql, list(args)).fetchall()


def classes_by_record(store: Store, execution_id: int) -> set[tuple]:
    return set(rows(store, "SELECT subscription_id, ocs_id, discrepancy FROM reconciliation_discrepancies "
                           "WHERE execution_id = ?", execution_id))


# ------------------------------------------------------------------------------- the constructed case
def build_case(tmp_path: Path) -> tuple[Store, int]:
    store = make_store(tmp_path)
    seed_engine(store, [
        ("SUB-1", [("ALLOWANCE", "ALW-1", "DATA-100GB", "old-1", 100, "GB"),
                   ("SPEND_CAP", "CAP-1", "CAP-VALUE-FULL", "old-2", 25, "GBP")]),
        ("SUB-2", [("ALLOWANCE", "ALW-2", "DATA-100GB", "old-3", 100, "GB"),
                   ("ALLOWANCE", "ALW-3", "VOICE-UNLIMITED", "old-4", None, "MIN"),
                   ("SPEND_CAP", "CAP-2", "CAP-VALUE-FULL", "old-5", 25, "GBP")]),
        ("SUB-3", [("ALLOWANCE", "ALW-4", "TEXT-500SMS", "old-6", 500, "SMS"),
                   ("SPEND_CAP", "CAP-3", "CAP-VALUE-FULL", "old-7", 25, "GBP")]),
        ("SUB-5", [("SPEND_CAP", "CAP-5", "CAP-VALUE-FULL", "old-9", 25, "GBP")]),
    ], [(101, "SUB-1"), (102, "SUB-2"), (103, "SUB-3"), (105, "SUB-5")])
    batch = load_response(store, tmp_path, [
        # SUB-1: both match; the allowance is listed twice
        response(101, "SUB-1", inst("DATA-100GB", "new-1"), inst("DATA-100GB", "new-1"),
                 inst("CAP-VALUE-FULL", "new-2", "SPEND_CAP", 25.0, "GBP")),
        # SUB-2: amount doubled; unlimited matches unlimited; cap in another currency
        response(102, "SUB-2", inst("DATA-100GB", "new-3", amount=200), inst("VOICE-UNLIMITED", "new-4",
                 amount="UNLIMITED", unit="MIN"), inst("CAP-VALUE-FULL", "new-5", "SPEND_CAP", 25.0, "EUR")),
        # SUB-3: the cap a day late, the text allowance left out, an instance the engine lacks
        response(103, "SUB-3", inst("CAP-VALUE-FULL", "new-7", "SPEND_CAP", 25.0, "GBP", "2026-12-02T00:00:00Z"),
                 inst("CASH-10GBP", "new-8", amount=10, unit="GBP")),
        # SUB-4: a change the engine never requested
        response(104, "SUB-4", inst("DATA-1GB", "new-9", amount=1)),
    ], "bcc-case-1")
    return store, batch


EXPECTED = {
    ("SUB-1", "DATA-100GB", "DUPLICATE_IN_OCS"),
    ("SUB-2", "DATA-100GB", "AMOUNT_DIFFERS"),
    ("SUB-2", "CAP-VALUE-FULL", "AMOUNT_DIFFERS"),
    ("SUB-3", "CAP-VALUE-FULL", "DATE_DIFFERS"),
    ("SUB-3", "TEXT-500SMS", "MISSING_IN_OCS"),
    ("SUB-3", "CASH-10GBP", "MISSING_IN_ENGINE"),
    ("SUB-4", "DATA-1GB", "MISSING_IN_ENGINE"),
}


def live(store: Store, sid: str) -> set[tuple]:
    return set(rows(store, "SELECT ocs_id, ocs_instance_id, effective_from FROM allowances WHERE subscription_id = ? "
                           "AND effective_to IS NULL UNION ALL SELECT ocs_id, ocs_instance_id, effective_from "
                           "FROM spend_caps WHERE subscription_id = ? AND effective_to IS NULL", sid, sid))


def test_the_trigger_of_a_response_batch_is_this_job():
    assert DAEMON_TYPES["load_bill_cycle"]["Bill Cycle Change Response"] == ("reconciliation",)


def test_every_class_is_found_with_both_sides(tmp_path):
    store, batch = build_case(tmp_path)
    try:
        doc = run(store, BEFORE, batch=batch)
        assert doc["status"] == "SUCCEEDED" and doc["batch_id"] == batch
        assert classes_by_record(store, doc["execution_id"]) == EXPECTED
        assert doc["result"]["classes"] == {"MATCHED": 3, "MISSING_IN_OCS": 1, "MISSING_IN_ENGINE": 2,
                                            "AMOUNT_DIFFERS": 2, "DATE_DIFFERS": 1, "DUPLICATE_IN_OCS": 1}
        assert (doc["records_ok"], doc["records_error"]) == (3, 7)
        with store.cursor() as cur:
            report = discrepancy_report(cur, doc["execution_id"], limit=50)
        assert report["total"] == 7 and report["by_class"]["MISSING_IN_ENGINE"] == 2
        sides = {(d["subscription_id"], d["ocs_id"], d["discrepancy"]): d for d in report["first"]}
        amount = sides[("SUB-2", "DATA-100GB", "AMOUNT_DIFFERS")]
        assert amount["engine_side"]["amount"] == 100 and amount["engine_side"]["recordId"] == "ALW-2"
        assert amount["ocs_side"]["amount"] == 200 and amount["ocs_side"]["ocsInstanceId"] == "new-3"
        assert sides[("SUB-2", "CAP-VALUE-FULL", "AMOUNT_DIFFERS")]["ocs_side"]["unit"] == "EUR"
        late = sides[("SUB-3", "CAP-VALUE-FULL", "DATE_DIFFERS")]
        assert late["engine_side"]["effectiveDateTime"] == EFF
        assert late["ocs_side"]["effectiveDateTime"] == "2026-12-02T00:00:00Z"
        assert sides[("SUB-3", "TEXT-500SMS", "MISSING_IN_OCS")]["ocs_side"] is None
        assert sides[("SUB-3", "TEXT-500SMS", "MISSING_IN_OCS")]["batch_id"] == batch
        assert sides[("SUB-4", "DATA-1GB", "MISSING_IN_ENGINE")]["engine_side"] is None
        assert sides[("SUB-1", "DATA-100GB", "DUPLICATE_IN_OCS")]["ocs_side"]["copies"] == 2
        # answered changes; the one without a response stays requested
        assert dict(rows(store, "SELECT action_item_number, status FROM bill_cycle_changes")) == {
            101: "ANSWERED", 102: "ANSWERED", 103: "ANSWERED", 105: "REQUESTED"}
    finally:
        store.close()


def test_repointing_waits_for_the_effective_time_and_happens_once(tmp_path):
    store, batch = build_case(tmp_path)
    try:
        before = {s: live(store, s) for s in ("SUB-1", "SUB-2", "SUB-3", "SUB-5")}
        first = run(store, BEFORE, batch=batch)
        assert first["result"]["repointed"] == {"ALLOWANCE": 0, "SPEND_CAP": 0} and first["result"]["pending"] == 3
        assert {s: live(store, s) for s in before} == before  # nothing before the effective time
        # a rerun before the effective time: nothing compared again, nothing re-pointed
        again = run(store, BEFORE + timedelta(days=1))
        assert again["result"]["batches"] == [] and again["records_read"] == 0
        assert rows(store, "SELECT count(*) FROM reconciliation_discrepancies")[0][0] == 7
        assert rows(store, "SELECT count(*) FROM reconciliation_matches")[0][0] == 3
        # at the effective time (the daily run): the three matches move to the new instances
        due = run(store, EFFECTIVE)
        assert due["result"]["repointed"] == {"ALLOWANCE": 2, "SPEND_CAP": 1} and due["result"]["pending"] == 0
        assert live(store, "SUB-1") == {("DATA-100GB", "new-1", EFFECTIVE), ("CAP-VALUE-FULL", "new-2", EFFECTIVE)}
        assert ("VOICE-UNLIMITED", "new-4", EFFECTIVE) in live(store, "SUB-2")
        # discrepant records are not touched: the operator decides
        assert ("DATA-100GB", "old-3", BEFORE) in live(store, "SUB-2") and live(store, "SUB-3") == before["SUB-3"]
        # the old rows are end-dated, not overwritten; the new rows copy them
        old = rows(store, "SELECT ocs_instance_id, effective_to FROM allowances WHERE allowance_id = 'ALW-1'")
        assert old == [("old-1", EFFECTIVE)]
        new = rows(store, "SELECT a.allowance_id, a.amount, a.unit, a.recurring, a.ocs_id, m.new_record_id "
                          "FROM reconciliation_matches m JOIN allowances a ON a.allowance_id = m.new_record_id "
                          "WHERE m.record_id = 'ALW-1'")
        assert len(new) == 1 and new[0][1:5] == (100, "GB", True, "DATA-100GB") and new[0][0] != "ALW-1"
        # each answered change has a discrepancy: what matched is re-pointed, the rest is the operator's
        assert due["result"]["closed"] == {"RECONCILED": 0, "DISCREPANT": 3}
        assert dict(rows(store, "SELECT action_item_number, status FROM bill_cycle_changes")) == {
            101: "DISCREPANT", 102: "DISCREPANT", 103: "DISCREPANT", 105: "REQUESTED"}
        # and once only
        counts = rows(store, "SELECT (SELECT count(*) FROM allowances), (SELECT count(*) FROM spend_caps)")
        last = run(store, EFFECTIVE + timedelta(days=1))
        assert last["result"]["repointed"] == {"ALLOWANCE": 0, "SPEND_CAP": 0}
        assert rows(store, "SELECT (SELECT count(*) FROM allowances), (SELECT count(*) FROM spend_caps)") == counts
        # the same batch named again is not compared twice
        named = run(store, EFFECTIVE + timedelta(days=2), batch=batch)
        assert named["result"]["batches"] == []
        assert rows(store, "SELECT count(*) FROM reconciliation_matches")[0][0] == 3
    finally:
        store.close()


def test_a_change_closes_reconciled_when_both_sides_agree_else_discrepant(tmp_path):
    store = make_store(tmp_path)
    seed_engine(store, [("SUB-1", [("ALLOWANCE", "ALW-1", "DATA-100GB", "old-1", 100, "GB")]),
                        ("SUB-2", [("ALLOWANCE", "ALW-2", "DATA-100GB", "old-2", 100, "GB"),
                                   ("SPEND_CAP", "CAP-2", "CAP-VALUE-FULL", "old-3", 25, "GBP")])],
                [(201, "SUB-1"), (202, "SUB-2")])
    batch = load_response(store, tmp_path, [
        response(201, "SUB-1", inst("DATA-100GB", "new-1")),
        response(202, "SUB-2", inst("DATA-100GB", "new-2"), inst("CAP-VALUE-FULL", "new-3", "SPEND_CAP", 50, "GBP")),
    ], "bcc-close")

    def changes():
        return dict(rows(store, "SELECT action_item_number, status FROM bill_cycle_changes"))

    try:
        early = run(store, BEFORE, batch=batch)
        assert early["result"]["closed"] == {"RECONCILED": 0, "DISCREPANT": 0}  # not in effect yet
        assert changes() == {201: "ANSWERED", 202: "ANSWERED"}
        due = run(store, EFFECTIVE)
        assert due["result"]["repointed"] == {"ALLOWANCE": 2, "SPEND_CAP": 0}
        assert due["result"]["closed"] == {"RECONCILED": 1, "DISCREPANT": 1}
        assert changes() == {201: "RECONCILED", 202: "DISCREPANT"}
        # SUB-2's matching allowance moved on; its cap, which the OCS doubled, waits for the operator
        assert live(store, "SUB-2") == {("DATA-100GB", "new-2", EFFECTIVE), ("CAP-VALUE-FULL", "old-3", BEFORE)}
        assert run(store, EFFECTIVE + timedelta(days=1))["result"]["closed"] == {"RECONCILED": 0, "DISCREPANT": 0}
    finally:
        store.close()


def test_repointing_at_once_when_the_change_is_already_effective(tmp_path):
    store, batch = build_case(tmp_path)
    try:
        doc = run(store, EFFECTIVE + timedelta(hours=1))  # default scope: every batch not compared
        assert doc["result"]["batches"] == [batch]
        assert doc["result"]["repointed"] == {"ALLOWANCE": 2, "SPEND_CAP": 1}
    finally:
        store.close()


def test_bad_parameters_are_usage_errors(tmp_path):
    store, batch = build_case(tmp_path)
    try:
        with pytest.raises(UsageError, match="partitions"):
            run(store, BEFORE, partitions=0)
        with pytest.raises(NotFound, match="no batch 999"):
            run(store, BEFORE, batch=999)
        with pytest.raises(UsageError, match="partitions=2 needs a partition executor"):
            run(store, BEFORE, partitions=2)  # the job wired without one (as jobs/ knows no Ray)
        # a refused run leaves nothing behind but its FAILED execution row
        assert rows(store, "SELECT count(*) FROM reconciliation_batches")[0][0] == 0
        assert rows(store, "SELECT status FROM job_executions ORDER BY execution_id") == [("FAILED",)] * 3
    finally:
        store.close()


def _result_rows(store: Store) -> dict[str, list]:
    return {
        "discrepancies": sorted(rows(store, "SELECT batch_id, action_item_number, subscription_id, ocs_id, "
                                            "record_kind, discrepancy, engine_side::VARCHAR, ocs_side::VARCHAR "
                                            "FROM reconciliation_discrepancies")),
        "matches": sorted(rows(store, "SELECT batch_id, action_item_number, record_kind, record_id, new_instance_id, "
                                      "effective_at, status FROM reconciliation_matches")),
        "live": sorted(rows(store, "SELECT subscription_id, ocs_id, ocs_instance_id, effective_from, effective_to "
                                   "FROM allowances UNION ALL SELECT subscription_id, ocs_id, ocs_instance_id, "
                                   "effective_from, effective_to FROM spend_caps")),
        "changes": sorted(rows(store, "SELECT action_item_number, status FROM bill_cycle_changes")),
    }


def test_two_partitions_on_ray_give_the_single_node_result(tmp_path, ray_local):
    results, runs = [], []
    for p in (1, 2):
        store, batch = build_case(tmp_path / f"p{p}")
        try:
            doc = run(store, EFFECTIVE, ON_RAY, batch=batch, partitions=p)
            runs.append(doc["result"]["runs"])
            results.append(_result_rows(store))
        finally:
            store.close()
    assert results[0] == results[1]
    assert len(results[0]["discrepancies"]) == 7
    assert [r["node"] for r in runs[0]] == ["local"]
    assert len(runs[1]) == 2 and all(r["node"] != "local" for r in runs[1])
    assert sum(r["pairs"] for r in runs[1]) == sum(r["pairs"] for r in runs[0])


# ------------------------------------------------------------------------------- a real netsim
SERVICE = "/tmf-api/serviceActivationAndConfiguration/v4/service"
TOPUP = "/tmf-api/prepayBalanceManagement/v4/topupBalance"
ACCOUNT = "/tmf-api/accountManagement/v4/billingAccount"
BCC = "/openet/v1/billCycleChanges"
FAULT_CLASS = {"omit": "MISSING_IN_OCS", "duplicate": "DUPLICATE_IN_OCS", "alter_amount": "AMOUNT_DIFFERS",
               "alter_date": "DATE_DIFFERS"}


def provision_on_netsim(sim, i: int) -> list[tuple]:
    """A postpaid subscriber with a data and an unlimited voice allowance and a spend cap;
    returns the engine's records of them (with the OCS instance ids netsim created)."""
    sid, msisdn = f"SUB-{i}", f"44770090{i:04d}"
    chars = [("msisdn", msisdn), ("tariffCode", "PAYM24"), ("payMode", "POSTPAID"), ("billCycleDay", 15),
             ("accountId", f"ACC-{i}"), ("agreementId", f"AGR-{i}")]
    body = {"id": sid, "serviceCharacteristic": [{"name": n, "value": v} for n, v in chars]}
    assert sim.request("POST", SERVICE, body, key=f"c-{i}")[0] == 201
    records = []
    for n, (ocs_id, amount, unit) in enumerate((("DATA-100GB", 100, "GB"), ("VOICE-UNLIMITED", "UNLIMITED", "MIN"))):
        status, answer, _ = sim.request("POST", TOPUP, {
            "product": {"id": sid}, "ocsId": ocs_id, "allowanceType": ocs_id.split("-")[0],
            "amount": {"amount": amount, "units": unit}, "recurring": True, "commandRef": f"R-{i}-{n}"},
            key=f"t-{i}-{n}")
        assert status == 201
        records.append(("ALLOWANCE", f"ALW-{i}-{n}", ocs_id, answer["bucket"]["id"],
                        None if amount == "UNLIMITED" else amount, unit))
    status, answer, _ = sim.request("PATCH", f"{ACCOUNT}/ACC-{i}", {
        "product": {"id": sid}, "ocsId": "CAP-VALUE-FULL", "kind": "VALUE", "scope": "FULL",
        "creditLimit": {"amount": 25.0, "unit": "GBP"}, "commandRef": f"R-{i}-cap"}, key=f"s-{i}")
    assert status == 200
    records.append(("SPEND_CAP", f"CAP-{i}", "CAP-VALUE-FULL", answer["spendCap"]["id"], 25, "GBP"))
    return [(sid, msisdn, records)]


def test_netsim_answers_are_reconciled_and_every_injected_fault_is_found(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    store = make_store(tmp_path)
    try:
        with start_netsim(drop_dir=drop, recipients=[str(IDENT.recipient())], extra_args=["--drop-interval", "60"],
                          faults="bcc_omit=0.1,bcc_duplicate=0.1,bcc_alter=0.2,seed=7") as sim:
            subs = [s for i in range(1, 9) for s in provision_on_netsim(sim, i)]
            seed_engine(store, [(sid, recs) for sid, _, recs in subs],
                        [(9000 + n, sid) for n, (sid, _, _) in enumerate(subs)])
            for n, (sid, msisdn, _) in enumerate(subs):
                status, answer, _ = sim.request("POST", BCC, {
                    "actionItemNumber": 9000 + n, "subscriptionId": sid, "msisdn": msisdn, "oldBillCycleDay": 15,
                    "newBillCycleDay": 1, "effectiveDateTime": EFF, "sharedGroups": []}, key=f"bcc-{n}")
                assert status == 202 and answer["instanceCount"] == 3
            [name] = sim.flush()
            faults = sim.bcc_faults()
            ocs_state = {sid: sim.subscriber(sid) for sid, _, _ in subs}
        assert len({f["fault"] for f in faults}) >= 3, faults  # the seed gives real work
        batch = load_path(store, tmp_path, drop / name)
        doc = run(store, EFFECTIVE, batch=batch)
        found = classes_by_record(store, doc["execution_id"])
        expected = {(f["subscriptionId"], f["ocsId"], FAULT_CLASS[f["fault"]]) for f in faults}
        assert found == expected
        # every instance the file reported correctly is now what the engine points at
        faulty = {(f["subscriptionId"], f["ocsId"]) for f in faults if f["fault"] != "duplicate"}
        for sid, state in ocs_state.items():
            current = {(b["ocsId"], b["id"]) for b in state["buckets"] if b["supersedes"]}
            current |= {(c["ocsId"], c["id"]) for c in state["spendCaps"] if c["supersedes"]}
            engine_now = {(ocs_id, iid) for ocs_id, iid, _ in live(store, sid)}
            for ocs_id, iid in current:
                assert ((ocs_id, iid) in engine_now) == ((sid, ocs_id) not in faulty), (sid, ocs_id)
        assert doc["result"]["classes"]["MATCHED"] == 24 - sum(f["fault"] != "duplicate" for f in faults)
    finally:
        store.close()


def test_a_custom_executor_can_be_injected(tmp_path):
    """The job takes its executor from a factory: here one that records what it was given."""
    from engine.reconcile.partition import LocalExecutor

    seen = []

    class Recording(LocalExecutor):
        def run(self, parts):
            seen.append([(e.num_rows, o.num_rows) for e, o in parts])
            return super().run(parts)

    spec = JobSpec("reconciliation", make_reconciliation(lambda p: Recording()), "test", ("batch", "partitions"))
    store, batch = build_case(tmp_path)
    try:
        doc = run(store, BEFORE, spec, partitions=3)
        assert doc["result"]["classes"]["MATCHED"] == 3 and len(seen[0]) == 3
        # engine: the 7 live records of the 3 answered changes; OCS: the 9 instance lines
        assert sum(e for e, _ in seen[0]) == 7 and sum(o for _, o in seen[0]) == 9
    finally:
        store.close()


def test_jobs_show_lists_discrepancies_by_class_with_both_sides(tmp_path, monkeypatch):
    """`cmpctl jobs show` on the Store in-process (the running engine's Store has the same methods)."""
    from typer.testing import CliRunner

    import cli

    store, batch = build_case(tmp_path)
    try:
        doc = run(store, BEFORE, batch=batch)
        monkeypatch.setattr(cli.source, "store", lambda home: store)
        runner = CliRunner()
        shown = runner.invoke(cli.app, ["jobs", "show", str(doc["execution_id"]), "--discrepancies", "2"])
        assert shown.exit_code == 0, shown.output
        assert "discrepancies  7 (AMOUNT_DIFFERS 2, DATE_DIFFERS 1, DUPLICATE_IN_OCS 1, MISSING_IN_ENGINE 2, " \
               "MISSING_IN_OCS 1)" in shown.output
        assert shown.output.count("SUB-1") >= 1 and "SUB-3" not in shown.output  # only the first 2
        as_json = runner.invoke(cli.app, ["jobs", "show", str(doc["execution_id"]), "--json", "--discrepancies", "7"])
        assert as_json.exit_code == 0, as_json.output
        report = json.loads(as_json.output)["discrepancies"]
        assert report["total"] == 7 and len(report["first"]) == 7
        assert {(d["subscription_id"], d["ocs_id"], d["discrepancy"]) for d in report["first"]} == EXPECTED
    finally:
        store.close()
