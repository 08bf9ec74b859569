"""The scheduler and its slot ledger on a real DuckDB file, driven by a manual clock.

Slots per cron in a time zone (DST included), due → started → succeeded/failed, late,
overran, the three catch-up policies after an hour of downtime, idempotent ticks, the
provisioning safety net over pending batches, and the Scheduler actor on a local Ray.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from engine.config import load_config
from engine.schedule import ManualClock, Schedule, Scheduler, ledger, schedules_from_config
from engine.schedule.cron import next_slot, slots_between
from engine.store.store import Store
from tests.stores import make_store
from engine.jobs import JobResult, JobSpec
from tests.test_provisioning_job import add_batch, order, sub
from tests.waiting import wait_until

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)  # five seconds after a minute slot


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(tmp_path, clock):
    s = make_store(tmp_path / "cmp.duckdb", clock=clock)
    yield s
    s.close()


def every_minute(name="prov", job="provisioning", **kw) -> Schedule:
    return Schedule(name, job, "* * * * *", "Europe/London", **({"grace_seconds": 30.0} | kw))


def statuses(store: Store, name: str) -> dict[str, int]:
    with store.cursor() as cur:
        return ledger.counts(cur, name)


def executions(store: Store, job: str | None = None) -> list[dict]:
    return store.job_history(job, limit=10_000)


def register(store: Store, name: str, fn) -> None:
    """A job of the test's own, in the Store's registry (the Store runs jobs by name)."""
    store._jobs.register(JobSpec(name, fn, f"test job {name}"))


# -- cron and time zones ------------------------------------------------------------------------


def test_slots_follow_the_cron_in_its_time_zone_across_dst():
    london = "Europe/London"
    # Spring forward (29 March 2026, 01:00 GMT → 02:00 BST): every real minute is one slot.
    assert len(slots_between("* * * * *", london, at(2026, 3, 29, 0, 30), at(2026, 3, 29, 1, 30))) == 60
    # 01:30 does not exist that day: it runs once, at 02:30 BST (01:30 UTC); 02:00 daily moves an hour in UTC.
    assert slots_between("30 1 * * *", london, at(2026, 3, 28), at(2026, 3, 31)) == [
        at(2026, 3, 28, 1, 30), at(2026, 3, 29, 1, 30), at(2026, 3, 30, 0, 30)]
    assert slots_between("0 2 * * *", london, at(2026, 3, 28), at(2026, 3, 30, 12)) == [
        at(2026, 3, 28, 2), at(2026, 3, 29, 1), at(2026, 3, 30, 1)]
    # Fall back (25 October 2026, 02:00 BST → 01:00 GMT): the repeated hour has 120 minute slots,
    # and a fixed-time job at 01:30 runs once (the first 01:30, BST).
    assert len(slots_between("* * * * *", london, at(2026, 10, 24, 23, 59), at(2026, 10, 25, 1, 59))) == 120
    assert slots_between("30 1 * * *", london, at(2026, 10, 24), at(2026, 10, 27)) == [
        at(2026, 10, 24, 0, 30), at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30)]
    assert next_slot("0 3 * * *", london, at(2026, 11, 26, 3)) == at(2026, 11, 27, 3)


def test_the_ledger_gets_a_row_per_slot_in_the_schedules_zone(store, clock):
    clock.set(at(2026, 3, 27, 0, 0, 5))
    nightly = Schedule("nightly", "provisioning", "0 2 * * *", "Europe/London", grace_seconds=4 * 3600.0)
    scheduler = Scheduler(store, [nightly], clock=clock)
    while clock() < at(2026, 3, 31):  # a tick every 3 hours for four days, across the DST change
        scheduler.tick()
        clock.advance(hours=3)
    rows = store.schedule_slots("nightly")
    assert sorted(r["slot_at"] for r in rows) == [at(2026, 3, 27, 2), at(2026, 3, 28, 2), at(2026, 3, 29, 1),
                                                  at(2026, 3, 30, 1)]
    assert {r["status"] for r in rows} == {"succeeded"}
    assert rows[-1]["slot_id"] == "nightly@2026-03-27T02:00:00+00:00"
    with store.cursor() as cur:
        linked = cur.execute("SELECT count(*) FROM schedule_slots s JOIN job_executions e "
                             "ON e.slot_id = s.slot_id AND e.execution_id = s.execution_id").fetchone()[0]
    assert linked == 4


# -- one slot's life ------------------------------------------------------------------------------


def test_due_then_started_then_succeeded(store, clock):
    seen = []
    register(store, "probe_me", lambda con, params, ctx: seen.append(ledger.slots(con, "s")[0]["status"]) or JobResult(read=3, ok=3))
    scheduler = Scheduler(store, [every_minute("s", "probe_me")], clock=clock, submit=lambda run: run)
    report = scheduler.tick()  # chosen, not run yet: the slot is due
    assert [r.slot_at for r in report.chosen] == [at(2026, 3, 2, 9, 0)]
    assert statuses(store, "s") == {"due": 1}
    slot = store.run_scheduled(report.chosen[0])
    assert seen == ["started"]  # the job saw its own slot started
    assert slot["status"] == "succeeded" and slot["reason"] is None
    assert slot["started_at"] == T0 and slot["ended_at"] == T0
    execution = store.job_execution(slot["execution_id"])
    assert (execution["trigger"], execution["slot_id"], execution["idempotency_key"]) == (
        "schedule", "s@2026-03-02T09:00:00+00:00", "schedule:s:2026-03-02T09:00:00+00:00")
    assert execution["records_ok"] == 3


def test_a_failing_job_fails_its_slot_and_an_unregistered_job_too(store, clock):
    def broken(con, params, ctx):
        raise RuntimeError("the OCS catalogue is empty")

    register(store, "broken", broken)
    scheduler = Scheduler(store, [every_minute("b", "broken"), every_minute("r", "nightly_report")], clock=clock)
    scheduler.tick()  # nothing is raised: one bad schedule does not stop the others
    b, = store.schedule_slots("b")
    assert b["status"] == "failed" and "the OCS catalogue is empty" in b["reason"]
    assert store.job_execution(b["execution_id"])["status"] == "FAILED"
    r, = store.schedule_slots("r")
    assert r["status"] == "failed" and r["execution_id"] is None
    assert r["reason"].startswith("job 'nightly_report' is not registered in this engine")


def test_a_slot_not_started_within_its_grace_is_late(store, clock):
    held = []
    scheduler = Scheduler(store, [every_minute("p")], clock=clock, submit=held.append)  # the runner is busy
    scheduler.tick()
    clock.advance(20)
    scheduler.tick()
    assert statuses(store, "p") == {"due": 1}  # 25 s after its slot: within the 30 s grace
    clock.advance(20)
    scheduler.tick()
    late, = store.schedule_slots("p")
    assert late["status"] == "late" and "not started within its grace" in late["reason"]
    slot = store.run_scheduled(held[0])  # the runner gets to it at last
    assert slot["status"] == "succeeded" and slot["started_at"] > slot["deadline_at"]


def test_a_run_longer_than_its_maximum_overran(store, clock):
    def twenty_minutes(con, params, ctx):
        clock.advance(minutes=20)
        return JobResult()

    register(store, "slow", twenty_minutes)
    Scheduler(store, [every_minute("slow", "slow", max_duration_seconds=600.0)], clock=clock).tick()
    slot, = store.schedule_slots("slow")
    assert slot["status"] == "overran" and "longer than its maximum of 600 s" in slot["reason"]
    assert store.job_execution(slot["execution_id"])["status"] == "SUCCEEDED"


def test_a_run_still_going_past_its_maximum_is_marked_overran_while_it_runs(store, clock):
    release, running = threading.Event(), threading.Event()

    def waits(con, params, ctx):
        running.set()
        assert release.wait(30)
        return JobResult()

    register(store, "waits", waits)
    threads = []

    def submit(run):
        threads.append(threading.Thread(target=store.run_scheduled, args=(run,)))
        threads[-1].start()

    schedule = Schedule("w", "waits", "0 * * * *", "UTC", grace_seconds=30.0, max_duration_seconds=60.0)
    clock.set(at(2026, 3, 2, 9, 0, 1))
    scheduler = Scheduler(store, [schedule], clock=clock, submit=submit)
    scheduler.tick()
    assert running.wait(30)
    clock.advance(30)
    scheduler.tick()
    assert statuses(store, "w") == {"started": 1}
    clock.advance(60)
    scheduler.tick()  # the tick is not blocked by the run, and sees it overrun
    assert statuses(store, "w") == {"overran": 1}
    release.set()
    threads[0].join(30)
    slot, = store.schedule_slots("w")
    assert slot["status"] == "overran" and slot["ended_at"] == at(2026, 3, 2, 9, 1, 31)
    assert len(threads) == 1  # a started slot is not chosen again


# -- downtime and catch-up ------------------------------------------------------------------------


@pytest.mark.parametrize("policy, cap, missed, ran_late", [
    ("skip", 10, 60, 0),
    ("once", 10, 59, 1),
    ("all", 5, 55, 5),
])
def test_catch_up_after_an_hour_of_downtime(store, clock, policy, cap, missed, ran_late):
    scheduler = Scheduler(store, [every_minute(catch_up=policy, catch_up_cap=cap)], clock=clock)
    scheduler.tick()  # 09:00:05: the 09:00 slot runs
    assert statuses(store, "prov") == {"succeeded": 1}
    clock.set(at(2026, 3, 2, 10, 0, 45))  # the engine was down; 09:01 … 10:00 are all past their grace
    scheduler.tick()
    assert sum(statuses(store, "prov").values()) == 61
    assert statuses(store, "prov").get("missed", 0) == missed
    assert statuses(store, "prov")["succeeded"] == 1 + ran_late
    assert len(executions(store, "provisioning")) == 1 + ran_late
    if ran_late:  # the latest slots run, oldest of them first
        ran = [r for r in store.schedule_slots("prov", status="succeeded") if r["slot_at"] > T0]
        assert min(r["slot_at"] for r in ran) == at(2026, 3, 2, 10, 0) - timedelta(minutes=ran_late - 1)
        assert all(r["started_at"] > r["deadline_at"] for r in ran)
    for row in store.schedule_slots("prov", status="missed", limit=1):
        assert f"catch-up {policy}" in row["reason"]


def test_a_slot_still_within_its_grace_runs_whatever_the_policy(store, clock):
    scheduler = Scheduler(store, [every_minute(catch_up="skip")], clock=clock)
    scheduler.tick()
    clock.set(at(2026, 3, 2, 10, 0, 10))
    scheduler.tick()
    assert statuses(store, "prov") == {"succeeded": 2, "missed": 59}


def test_a_repeated_tick_does_not_run_a_slot_twice(store, clock):
    scheduler = Scheduler(store, [every_minute()], clock=clock)
    first = scheduler.tick()
    again = scheduler.tick()  # same instant: nothing new, nothing waiting
    assert len(first.chosen) == 1 and again.chosen == []
    assert store.run_scheduled(first.chosen[0])["execution_id"] == first.results[0]["execution_id"]
    assert len(executions(store)) == 1
    # Another scheduler (e.g. a restarted actor) at the same time: still one run.
    Scheduler(store, [every_minute()], clock=clock).tick()
    assert len(executions(store)) == 1
    clock.advance(60)
    scheduler.tick()
    assert len(executions(store)) == 2


# -- the provisioning safety net ------------------------------------------------------------------


def test_scheduled_provisioning_runs_every_pending_order_batch(store, clock):
    with store.cursor() as cur:
        first = add_batch(cur, [order("ORD-1", sub("447700900001"))])
        second = add_batch(cur, [order("ORD-2", sub("447700900002")), order("ORD-3", sub("447700900003"))])
        add_batch(cur, [order("ORD-4", sub("447700900004"))], trigger=False)  # not asked for
    defaults = {s.name: s for s in schedules_from_config(load_config(store.path.parent, env={}))}
    assert (defaults["provisioning"].cron, defaults["provisioning"].timezone) == ("* * * * *", "Europe/London")
    scheduler = Scheduler(store, [defaults["provisioning"]], clock=clock)
    slot = scheduler.tick().results[0]
    assert slot["status"] == "succeeded"
    execution = store.job_execution(slot["execution_id"])
    assert execution["result"]["batches"] == [first, second]
    assert (execution["records_read"], execution["records_ok"]) == (3, 3)
    assert store.pending_triggers() == []
    assert store.run_triggers() == []  # the load daemons' path finds nothing left to do
    clock.advance(60)
    slot = scheduler.tick().results[0]
    assert store.job_execution(slot["execution_id"])["result"]["batches"] == []


# -- cmpctl schedules ----------------------------------------------------------------------------


def test_cmpctl_schedules_list_and_slots(store, clock, tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    import cli

    home = tmp_path / "home"
    home.mkdir()
    (home / "cmp.toml").write_text('[schedules.reconciliation]\nenabled = false\n'
                                   '[schedules.hourly]\njob = "provisioning"\ncron = "15 * * * *"\ntimezone = "UTC"\n')
    schedules = schedules_from_config(load_config(home, env={}))
    Scheduler(store, schedules, clock=clock).tick()
    monkeypatch.setattr(cli.source, "store", lambda _home: store)  # the running engine's Store facade
    runner = CliRunner()
    listed = runner.invoke(cli.app, ["schedules", "list", "--home", str(home), "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert set(rows) == {"hourly", "provisioning", "reconciliation"}
    assert (rows["provisioning"]["cron"], rows["provisioning"]["timezone"]) == ("* * * * *", "Europe/London")
    assert rows["provisioning"]["last_status"] == "succeeded"
    assert rows["provisioning"]["last_slot"] == "2026-03-02T09:00:00+00:00"  # ISO 8601, UTC
    assert rows["hourly"]["last_status"] is None and rows["hourly"]["next_slot"] is not None
    assert rows["reconciliation"]["enabled"] is False and rows["reconciliation"]["next_slot"] is None
    table = runner.invoke(cli.app, ["schedules", "list", "--home", str(home)], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "reconciliation (off)" in table.stdout and "succeeded" in table.stdout
    slots = runner.invoke(cli.app, ["schedules", "slots", "provisioning", "--home", str(home), "--json"])
    assert [r["status"] for r in json.loads(slots.stdout)] == ["succeeded"]
    bad = runner.invoke(cli.app, ["schedules", "slots", "--status", "lost", "--home", str(home)])
    assert bad.exit_code == 2 and bad.stderr.startswith("cmpctl: unknown slot status 'lost'")


# -- the actor --------------------------------------------------------------------------------------


def test_scheduler_actor_ticks_and_heartbeats(ray_local, tmp_path):
    from actors.scheduler import SchedulerActor
    from actors.store import StoreActor
    from actors.clients import StoreClient, typed

    config = load_config(tmp_path, env={}, overrides={
        "scheduler.tick_seconds": 0.2,
        "schedules.provisioning.grace_seconds": 90,  # the latest one or two minute slots are within grace
        "schedules.reconciliation.enabled": False,
    })
    store = StoreActor.remote(str(tmp_path / "cmp.duckdb"))
    client = StoreClient(store)
    scheduler_actor = SchedulerActor.remote(config, store)
    scheduler = typed(scheduler_actor, SchedulerActor)
    try:
        def settled():
            """Every slot so far succeeded and ran exactly the recorded runs (a new minute's slot
            may start between the two reads: then ask again)."""
            slots = client.schedule_slots("provisioning")
            runs = client.job_history("provisioning")
            ok = slots and all(r["status"] == "succeeded" for r in slots) and \
                sorted(r["execution_id"] for r in runs) == sorted(r["execution_id"] for r in slots)
            return ok

        wait_until(settled, "every provisioning slot to succeed with its run recorded", 60,
                   show=lambda: client.schedule_slots("provisioning"))
        assert client.schedule_slots("reconciliation") == []
        daemon = wait_until(lambda: (d := {x["name"]: x for x in client.list_daemons()}["Scheduler"])["last_poll_at"]
                            and d, "the Scheduler's polled heartbeat", 30)
        assert daemon["state"] == "RUNNING"
        assert scheduler.stop() == "STOPPED"
        assert {d["name"]: d for d in client.list_daemons()}["Scheduler"]["state"] == "STOPPED"
    finally:
        ray_local.kill(scheduler_actor)
        ray_local.kill(store)
