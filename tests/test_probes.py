"""Probes with a controllable clock on a real DuckDB file: thresholds, the minimum-volume guard,
hysteresis (no spam from a flapping value), probe failures, the slot ledger, Completed."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.config import ConfigError, NotifyConfig, ProbeConfig, load_config
from engine.probes.clock import ManualClock
from engine.probes.runner import ProbeRunner
from engine.probes.views import alerts as alert_view
from engine.probes.views import history, list_probes
from engine.store import connect

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def con(tmp_path: Path):
    con = connect(tmp_path / "cmp.duckdb")
    yield con
    con.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def runner(con, tmp_path: Path, clock, **probes: ProbeConfig) -> ProbeRunner:
    r = ProbeRunner(con, probes, NotifyConfig(), tmp_path, clock=clock)
    r.sync()
    return r


def sent(tmp_path: Path) -> list[dict]:
    path = tmp_path / "alerts" / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def notifications(con) -> list[tuple]:
    return con.execute("SELECT n.event, a.subject, n.recipient, n.ok FROM notifications n "
                       "JOIN alerts a USING (alert_id) ORDER BY n.sent_at, n.alert_id, n.recipient").fetchall()


def add_execution(con, at: datetime, read: int, errors: int, job: str = "provisioning") -> None:
    con.execute(
        "INSERT INTO job_executions (execution_id, job, status, trigger, records_read, records_ok, records_error, "
        "started_at, ended_at) VALUES (nextval('seq_execution'), ?, 'SUCCEEDED', 'batch', ?, ?, ?, ?, ?)",
        [job, read, read - errors, errors, at - timedelta(seconds=1), at])


NORMAL = dict(type="Normal", kind="job_error_ratio", subject="provisioning", warning=0.05, severe=0.2,
              min_volume=20, recipients=("file:alerts.jsonl", "log:"))


def test_normal_ratio_with_minimum_volume_guard(con, tmp_path, clock):
    r = runner(con, tmp_path, clock, job_errors=ProbeConfig(**NORMAL, window_seconds=600))
    add_execution(con, clock(), read=1, errors=1)  # 1 error out of 1: 100 %, but no volume
    run = r.run("job_errors")
    assert run.outcome == "success"
    assert run.results[0]["value"] == 1.0 and "below the minimum volume 20" in run.results[0]["detail"]
    assert notifications(con) == []

    clock.advance(60)
    add_execution(con, clock(), read=99, errors=9)  # 10 of 100 in the window: warning
    run = r.run("job_errors")
    assert run.outcome == "warning" and run.results[0]["value"] == pytest.approx(0.10)
    assert [(e["event"], e["subject"], e["severity"]) for e in run.events] == [("trigger", "provisioning", "warning")]
    assert notifications(con) == [("trigger", "provisioning", "file:alerts.jsonl", True),
                                  ("trigger", "provisioning", "log:", True)]
    (doc,) = sent(tmp_path)
    assert doc["probe"] == "job_errors" and doc["event"] == "trigger" and "0.1 > 0.05" in doc["message"]

    clock.advance(60)
    add_execution(con, clock(), read=100, errors=60)  # severe now; still the same alert, no new mail
    assert r.run("job_errors").outcome == "severe"
    assert len(sent(tmp_path)) == 1
    assert [(h["subject"], h["outcome"]) for h in history(con, "job_errors")] == [
        ("provisioning", "severe"), ("provisioning", "warning"), ("provisioning", "success")]


def test_flapping_ratio_does_not_spam(con, tmp_path, clock):
    # The window holds only the last step's run: the ratio is whatever we add at each step.
    r = runner(con, tmp_path, clock, flappy=ProbeConfig(**NORMAL, window_seconds=10, for_seconds=60,
                                                        keep_firing_for_seconds=120))

    def step(bad: bool) -> str:
        clock.advance(10)
        add_execution(con, clock(), read=100, errors=50 if bad else 0)
        return r.run("flappy").outcome

    outcomes = [step(i % 2 == 0) for i in range(12)]  # flapping for 2 minutes: never 60 s in breach
    assert outcomes.count("severe") == 6 and sent(tmp_path) == []
    assert [a["state"] for a in alert_view(con)] == ["resolved"] * 6  # pending ones, dropped silently

    for _ in range(7):  # 70 s in breach: fires once
        step(True)
    assert [d["event"] for d in sent(tmp_path)] == ["trigger"]
    for i in range(12):  # flapping while firing: the clear timer restarts, nothing is sent
        step(i % 2 == 1)
    assert [d["event"] for d in sent(tmp_path)] == ["trigger"]
    for _ in range(13):  # 130 s back to normal: resolves once
        step(False)
    docs = sent(tmp_path)
    assert [d["event"] for d in docs] == ["trigger", "resolve"]
    assert docs[0]["alert_id"] == docs[1]["alert_id"] and docs[1]["subject"] == "provisioning"
    assert [a["state"] for a in alert_view(con, active_only=True)] == []


def test_failing_sql_probe_reports_probe_failed_and_notifies_once(con, tmp_path, clock):
    bad = ProbeConfig(type="SQL", query="SELECT count(*) FROM no_such_table", severe=0,
                      recipients=("file:alerts.jsonl",))
    r = runner(con, tmp_path, clock, custom=bad)
    for _ in range(3):
        run = r.run("custom")
        clock.advance(60)
        assert run.outcome == "probe failed" and "no_such_table" in run.error
    assert [h["outcome"] for h in history(con, "custom")] == ["probe failed"] * 3
    docs = sent(tmp_path)
    assert [(d["event"], d["subject"]) for d in docs] == [("failure", "probe custom")]
    assert "no_such_table" in docs[0]["message"]

    # fixed: the failure resolves (once), and the value is judged again
    fixed = ProbeConfig(type="SQL", query="SELECT count(*) FROM probes", severe=10, recipients=("file:alerts.jsonl",))
    r = runner(con, tmp_path, clock, custom=fixed)
    run = r.run("custom")
    assert run.outcome == "success" and run.results[0]["value"] == 1.0
    r.run("custom", now=clock.advance(60))
    assert [(d["event"], d["subject"]) for d in sent(tmp_path)] == [("failure", "probe custom"),
                                                                     ("resolve", "probe custom")]


def test_sql_probe_refuses_anything_but_one_select(con, tmp_path, clock):
    r = runner(con, tmp_path, clock,
               drop=ProbeConfig(type="SQL", query="DELETE FROM probes", severe=0, recipients=("log:",)),
               sneaky=ProbeConfig(type="SQL", query="SELECT 1; DROP TABLE probes", severe=0, recipients=("log:",)))
    assert "exactly one SELECT statement, got DELETE" in r.run("drop").error
    assert "got SELECT, DROP" in r.run("sneaky").error
    assert con.execute("SELECT count(*) FROM probes").fetchone() == (2,)  # nothing was deleted or dropped


@pytest.mark.parametrize("query, said", [
    ("SELECT count(*) FROM read_csv('/etc/passwd')", "read_csv() reads outside the database"),
    ("SELECT count(*) FROM '/etc/passwd'", "'/etc/passwd' is a file"),
    ("SELECT count(*) FROM 'secrets.parquet'", "'secrets.parquet' is a file"),
    ("WITH f AS (SELECT * FROM glob('/root/*')) SELECT count(*) FROM f", "glob() reads outside"),
    ("SELECT (SELECT count(*) FROM read_text('/etc/hosts')) + 0", "read_text() reads outside"),
    ("SELECT length(getenv('HOME'))", "may not call getenv()"),
])
def test_sql_probe_reads_nothing_but_the_database(con, tmp_path, clock, query, said):
    r = runner(con, tmp_path, clock, peek=ProbeConfig(type="SQL", query=query, severe=0, recipients=("log:",)))
    run = r.run("peek")
    assert run.outcome == "probe failed" and said in run.error


def test_sql_probe_may_use_ctes_subqueries_and_row_generators(con, tmp_path, clock):
    query = ("WITH p AS (SELECT name FROM probes) SELECT count(*) + (SELECT count(*) FROM range(3)) "
             "FROM p WHERE name IN (SELECT name FROM probes)")
    r = runner(con, tmp_path, clock, mine=ProbeConfig(type="SQL", query=query, severe=100, recipients=("log:",)))
    run = r.run("mine")
    assert run.outcome == "success" and run.results[0]["value"] == 3.0 + con.execute("SELECT count(*) FROM probes").fetchone()[0]


def add_slot(con, at: datetime, status: str, schedule: str = "provisioning") -> None:
    con.execute("INSERT INTO schedule_slots (schedule, slot_at, status) VALUES (?, ?, ?)", [schedule, at, status])


def test_missed_slot_alerts_once_naming_the_schedule_and_resolves_once(con, tmp_path, clock):
    slots = ProbeConfig(type="Punctual", kind="schedule_slots", warning=0, severe=2, max_wait_seconds=120,
                        window_seconds=3600, recipients=("file:alerts.jsonl",))
    r = runner(con, tmp_path, clock, slots=slots)
    add_slot(con, T0 - timedelta(minutes=3), "succeeded")
    add_slot(con, T0 - timedelta(minutes=3), "succeeded", schedule="reconciliation")
    assert r.run("slots").outcome == "success"

    add_slot(con, T0 - timedelta(minutes=2), "missed")
    add_slot(con, T0 - timedelta(minutes=1), "due")  # within its grace: not yet a problem
    for _ in range(3):
        run = r.run("slots", now=clock.advance(20))
        assert run.outcome == "warning"
    docs = sent(tmp_path)
    assert [(d["event"], d["subject"], d["severity"]) for d in docs] == [("trigger", "provisioning", "warning")]
    assert "missed 2026-03-02T08:58:00Z" in docs[0]["message"]

    clock.advance(120)  # the due slot is now past its grace too: worse, but the same alert
    assert r.run("slots").results[0]["value"] == 2 and len(sent(tmp_path)) == 1

    add_slot(con, clock() - timedelta(seconds=30), "succeeded")
    for _ in range(3):
        assert r.run("slots", now=clock.advance(20)).outcome == "success"
    assert [(d["event"], d["subject"]) for d in sent(tmp_path)] == [("trigger", "provisioning"),
                                                                     ("resolve", "provisioning")]
    assert {h["subject"] for h in history(con, "slots")} == {"provisioning", "reconciliation"}


def test_completed_zero_extract_files(con, tmp_path, clock):
    daemon = "Extract/Provisioning/ToGenericFormat"
    young = "Extract/Provisioning/ToGenericFormat(BillCycleChange)"
    con.executemany("INSERT INTO daemons (name, daemon_type, category, activity, state, created_at) "
                    "VALUES (?, 'Extract', 'Provisioning', 'To Generic Format', 'RUNNING', ?)",
                    [(daemon, T0 - timedelta(hours=2)), (young, T0 - timedelta(minutes=10))])
    r = runner(con, tmp_path, clock, extract=ProbeConfig(type="Completed", kind="extract_zero_files", compare="below",
                                                         warning=1, window_seconds=3600,
                                                         recipients=("file:alerts.jsonl",)))
    run = r.run("extract")  # the young daemon, known for 10 minutes, is not judged on an hour
    assert run.outcome == "warning" and run.results == [
        {"subject": daemon, "value": 0.0, "outcome": "warning", "detail": "0 files written in the last 3600 s"}]
    # the files ledger names an Extract daemon by its config name (engine/extract/ledger.py reserve)
    con.execute("INSERT INTO files (file_id, sha256, interface_type, identifier, direction, daemon, name, size_bytes, "
                "record_count, committed_at) VALUES (1, 'abc', 'Default', 'X1', 'Outbound', 'extract_provisioning', "
                "'x.age', 10, 1, ?)", [clock.advance(60)])
    assert r.run("extract").outcome == "success"
    assert [(d["event"], d["subject"]) for d in sent(tmp_path)] == [("trigger", daemon), ("resolve", daemon)]
    # a subject may name the daemon either way
    for subject in (daemon, "extract_provisioning"):
        named = runner(con, tmp_path, clock, one=ProbeConfig(type="Completed", kind="extract_zero_files",
                                                             subject=subject, compare="below", warning=1))
        assert named.run("one").results[0]["value"] == 1.0, subject


def test_due_probes_follow_their_interval_and_cron(con, tmp_path, clock):
    r = runner(con, tmp_path, clock,
               often=ProbeConfig(type="SQL", query="SELECT 0", severe=1, interval_seconds=30),
               cron=ProbeConfig(type="SQL", query="SELECT 0", severe=1, cron="*/5 * * * *"),
               off=ProbeConfig(type="SQL", query="SELECT 0", severe=1, enabled=False))
    assert [run.probe for run in r.run_due()] == ["cron", "often"]
    clock.advance(30)
    assert [run.probe for run in r.run_due()] == ["often"]
    clock.advance(300)
    assert [run.probe for run in r.run_due()] == ["cron", "often"]
    listed = {p["name"]: p for p in list_probes(con, r.probes)}
    assert listed["often"]["last_outcome"] == "success" and listed["off"]["last_run_at"] is None


def test_builtin_probes_and_config_tables(tmp_path):
    (tmp_path / "cmp.toml").write_text(
        '[probes.adaptor_errors]\nwarning = 0.5\nrecipients = ["webhook:http://127.0.0.1:9/x"]\n'
        '[probes.stuck_batches]\ntype = "Punctual"\nkind = "batches_waiting"\nwarning = 0\n')
    config = load_config(tmp_path, env={})
    assert {"provisioning_errors", "adaptor_errors", "reconciliation_discrepancies", "provisioning_slots",
            "requests_waiting", "extract_files", "stuck_batches"} <= set(config.probes)
    assert config.probes["adaptor_errors"].warning == 0.5 and config.probes["adaptor_errors"].severe == 0.2
    (tmp_path / "cmp.toml").write_text('[probes.broken]\ntype = "Normal"\nkind = "nope"\nwarning = 1\n')
    with pytest.raises(ConfigError, match="probes.broken: kind of a Normal probe must be one of"):
        load_config(tmp_path, env={})
    (tmp_path / "cmp.toml").write_text('[probes.x]\nquery = "SELECT 1"\nwarning = 1\nrecipients = ["pager:7"]\n')
    with pytest.raises(ConfigError, match="recipient 'pager:7'"):
        load_config(tmp_path, env={})


def test_a_probe_run_is_a_span_and_its_results_carry_the_trace_id(con, tmp_path, clock):
    from engine import telemetry
    from engine.telemetry.jsonl import read_spans

    traces = tmp_path / "traces"
    telemetry.configure(telemetry.Settings(exporter="file", traces_dir=str(traces)), component="test")
    try:
        r = runner(con, tmp_path, clock, counted=ProbeConfig(type="SQL", query="SELECT 3", warning=1,
                                                             recipients=("log:",)))
        r.run("counted")
        telemetry.flush()
    finally:
        telemetry.shutdown()
    (trace_id,) = con.execute("SELECT trace_id FROM probe_results WHERE probe = 'counted'").fetchone()
    (span,) = read_spans(traces, trace_id)
    assert span["name"] == "probe counted"
    assert span["attributes"]["probe.outcome"] == "warning" and span["attributes"]["probe.events"] == 1


def test_the_other_kinds_measure_what_they_say(con, tmp_path, clock):
    now = clock()
    # requests: two OCS requests waiting in UN for an hour, one just queued, one not due yet
    con.execute("""
        INSERT INTO network_requests (request_id, target, command, sequence, attributes, status, not_before, updated_at)
        VALUES (1, 'OCS', 'ACTIVATE', 10, '{}', 'UN', NULL, $old), (2, 'OCS', 'ACTIVATE', 10, '{}', 'UN', NULL, $old),
               (3, 'OCS', 'ACTIVATE', 10, '{}', 'UN', NULL, $now), (4, 'OCS', 'ACTIVATE', 10, '{}', 'UN', $later, $old),
               (5, 'FILE:INSURER', 'ADD_INSURANCE', 10, '{}', 'NC', NULL, $old)
    """, {"old": now - timedelta(hours=1), "now": now, "later": now + timedelta(hours=1)})
    # a batch LOADED 20 minutes ago and never picked up; a loaded file with 3 of 40 records in error
    con.execute("INSERT INTO files (file_id, sha256, interface_type, identifier, direction, daemon, name, size_bytes, "
                "record_count, committed_at) VALUES (7, 's', 'Default', 'I1', 'Inbound', "
                "'Load/Provisioning/FromGenericFormat', 'in.age', 10, 40, ?)", [now - timedelta(minutes=20)])
    con.execute("INSERT INTO batches (batch_id, file_id, category, batch_type, direction, stage, stage_at, records, "
                "valid_records, error_records) VALUES (7, 7, 'Provisioning', 'Default', 'Inbound', 'LOADED', ?, 40, 37, 3)",
                [now - timedelta(minutes=20)])
    # the reconciliation job ran three times, once before its slot
    for minutes, slot in ((50, 51), (30, 29), (10, 11)):
        add_execution(con, now - timedelta(minutes=minutes), read=0, errors=0, job="reconciliation")
        con.execute("INSERT INTO schedule_slots (schedule, slot_at, status, execution_id) VALUES "
                    "('reconciliation', ?, 'succeeded', currval('seq_execution'))", [now - timedelta(minutes=slot)])
    r = runner(con, tmp_path, clock,
               waiting=ProbeConfig(type="Punctual", kind="requests_waiting", max_wait_seconds=900, warning=0),
               batches=ProbeConfig(type="Punctual", kind="batches_waiting", max_wait_seconds=600, warning=0),
               loads=ProbeConfig(type="Normal", kind="load_error_ratio", min_volume=10, warning=0.05),
               early=ProbeConfig(type="Punctual", kind="early_or_frequent_runs", subject="reconciliation",
                                 max_runs=2, warning=0),
               ran=ProbeConfig(type="Completed", kind="job_zero_runs", subject="reconciliation", compare="below",
                               severe=1, window_seconds=1200),
               never=ProbeConfig(type="Completed", kind="job_zero_runs", subject="billing", compare="below", severe=1))

    def result(name: str) -> tuple:
        (res,) = r.run(name).results
        return res["subject"], res["value"], res["outcome"]

    assert result("waiting") == ("Transmission/Provisioning/OCSadaptor (OCS)", 2.0, "warning")
    assert result("batches") == ("Provisioning/Default", 1.0, "warning")
    assert result("loads") == ("Load/Provisioning/FromGenericFormat", 0.075, "warning")
    assert result("early") == ("reconciliation", 2.0, "warning")  # one early run + one run too many
    assert result("ran") == ("reconciliation", 1.0, "success")
    assert result("never") == ("billing", 0.0, "severe")


def test_builtin_reconciliation_probe_alerts_on_a_discrepant_bill_cycle(con, tmp_path, clock):
    from engine.config import builtin_probes

    probe = dataclasses.replace(builtin_probes()["reconciliation_discrepancies"], recipients=("file:alerts.jsonl",))
    r = runner(con, tmp_path, clock, reconciliation_discrepancies=probe)
    add_execution(con, clock(), read=2000, errors=4, job="reconciliation")  # 0.2 %: a few, as expected
    add_execution(con, clock(), read=500, errors=400, job="provisioning")  # another job's errors do not count
    assert r.run("reconciliation_discrepancies").outcome == "success"
    clock.advance(3600)
    add_execution(con, clock(), read=2000, errors=96, job="reconciliation")  # 100 of 4,000 in the day: 2.5 %
    run = r.run("reconciliation_discrepancies")
    assert run.outcome == "warning" and run.results[0]["subject"] == "reconciliation"
    assert run.results[0]["value"] == pytest.approx(0.025)
    (doc,) = sent(tmp_path)
    assert doc["event"] == "trigger" and doc["probe"] == "reconciliation_discrepancies"


def test_file_requests_name_the_extract_daemon_that_writes_them(con, tmp_path, clock):
    """A FILE: target is served by the Extract daemon of each request's command: bill cycle
    changes by the Bill Cycle Change one (as engine/extract/ledger.py routes them)."""
    now = clock()
    con.execute("""
        INSERT INTO network_requests (request_id, target, command, sequence, attributes, status, updated_at)
        VALUES (1, 'FILE:bureau', 'BILL_CYCLE_CHANGE', 10, '{}', 'UN', $old),
               (2, 'FILE:bureau', 'BILL_CYCLE_CHANGE', 10, '{}', 'UN', $old),
               (3, 'FILE:bureau', 'ADD_INSURANCE', 10, '{}', 'UN', $old),
               (4, 'OCS', 'ACTIVATE', 10, '{}', 'UN', $old)
    """, {"old": now - timedelta(hours=1)})
    con.execute("""
        INSERT INTO network_request_history (request_id, seq, status, changed_at, actor)
        VALUES (1, 1, 'NR', $t, 'x'), (2, 1, 'NC', $t, 'x'), (3, 1, 'NF', $t, 'x'), (4, 1, 'NC', $t, 'x')
    """, {"t": now - timedelta(minutes=1)})
    r = runner(con, tmp_path, clock,
               waiting=ProbeConfig(type="Punctual", kind="requests_waiting", max_wait_seconds=900, warning=0),
               errors=ProbeConfig(type="Normal", kind="adaptor_error_ratio", min_volume=1, warning=0.5))
    bcc = "Extract/Provisioning/ToGenericFormat(BillCycleChange) (FILE:bureau)"
    generic = "Extract/Provisioning/ToGenericFormat (FILE:bureau)"
    ocs = "Transmission/Provisioning/OCSadaptor (OCS)"
    assert {res["subject"]: res["value"] for res in r.run("waiting").results} == {bcc: 2.0, generic: 1.0, ocs: 1.0}
    assert {res["subject"]: res["value"] for res in r.run("errors").results} == {bcc: 0.5, generic: 1.0, ocs: 0.0}


@pytest.mark.parametrize("table, message", [
    ('type = "Normal"\nkind = "nope"\nwarning = 1\n',
     "config.probes.broken: kind of a Normal probe must be one of job_error_ratio, adaptor_error_ratio, "
     "load_error_ratio, got 'nope'"),
    ('type = "Weekly"\nkind = "job_zero_runs"\nwarning = 1\n',
     "config.probes.broken: type must be one of Normal, Punctual, Completed, SQL, got 'Weekly'"),
    ('type = "Completed"\nwarning = 1\n',
     "config.probes.broken: kind of a Completed probe must be one of job_zero_runs, extract_zero_files, got ''"),
    ('query = "SELECT 1"\nwarning = 1\nrecipients = ["pager:7"]\n',
     "config.probes.broken: recipient 'pager:7' must be log:, webhook:URL, email:ADDRESS or file:PATH"),
    ('query = "SELECT 1"\nwarning = 1\nrecipients = ["webhook:"]\n',
     "config.probes.broken: recipient 'webhook:' must be log:, webhook:URL, email:ADDRESS or file:PATH"),
])
def test_a_wrong_kind_or_recipient_is_refused_when_the_config_loads(tmp_path, table, message):
    """Kinds and schemes are declared where they live (engine/probes/kinds.py, engine/notify);
    the config checks a probe table against them as it loads, naming the choices."""
    (tmp_path / "cmp.toml").write_text("[probes.broken]\n" + table)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, env={})
    assert str(caught.value) == message


def test_kinds_and_notifiers_do_not_import_the_config():
    """config → probes.kinds and config → notify, never back (the config ↔ probes cycle is gone):
    the modules it imports name the config's classes for type checking only."""
    import ast

    root = Path(__file__).resolve().parents[1] / "engine"
    for path in [root / "probes" / "kinds.py", *sorted((root / "notify").glob("*.py"))]:
        tree = ast.parse(path.read_text())
        checking_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                         and ast.unparse(node.test) == "TYPE_CHECKING" for n in ast.walk(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("engine.config"):
                assert id(node) in checking_only, f"{path.name} imports engine.config at run time"


def test_every_kind_belongs_to_a_type_and_runs(con, clock):
    from engine.probes.kinds import KINDS, PROBE_KINDS, PROBE_TYPES

    assert sorted(n for kinds in PROBE_KINDS.values() for n in kinds) == sorted(KINDS)
    assert PROBE_KINDS["SQL"] == () and set(PROBE_KINDS) == set(PROBE_TYPES)
    for name, kind in KINDS.items():
        probe = ProbeConfig(type=kind.type, kind=name, subject="provisioning", warning=1)
        assert isinstance(kind.measure(con, probe, clock()), list)
