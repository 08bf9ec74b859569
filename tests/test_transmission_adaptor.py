"""The OCS adaptor end to end: a real netsim subprocess, a real DuckDB file, the local queue.

Covers the full path (claim → HTTP → record → effects), faults (503s, timeouts, rejects, retries
running out), an abrupt crash and recovery after the lease expires, unbuildable commands (PE),
stop() draining, and the rate limit.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date
from pathlib import Path

import pytest

from engine.config import EndpointConfig, Secret
from engine.store import connect
from engine.transmission.adaptor import Adaptor, utcnow
from engine.transmission.local import LocalQueue
from engine.transmission.testing import seed_connections
from netsim.testing import start_netsim

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def con(tmp_path: Path):
    con = connect(tmp_path / "cmp.duckdb")
    yield con
    con.close()


def endpoint(sim, **kw) -> EndpointConfig:
    values = dict(url=sim.url, token=Secret(sim.token), timeout_seconds=5.0, max_in_flight=16, max_retries=3,
                  backoff_base_seconds=0.01, backoff_max_seconds=0.05, lease_seconds=30.0)
    values.update(kw)
    return EndpointConfig(**values)


def run_adaptor(con, ep: EndpointConfig, **kw) -> dict:
    adaptor = Adaptor(LocalQueue(con), ep, flush_seconds=0.05, **kw)
    return asyncio.run(adaptor.run(until_idle=True))


def statuses(con) -> dict[str, int]:
    return dict(con.execute("SELECT status, count(*) FROM network_requests GROUP BY 1").fetchall())


def steps(con, request_id: int) -> list[str]:
    return [r[0] for r in con.execute("SELECT status FROM network_request_history WHERE request_id = ? ORDER BY seq",
                                      [request_id]).fetchall()]


def test_end_to_end_against_netsim(con):
    subs = seed_connections(con, 20).subscription_ids
    delayed = seed_connections(con, 2, first=100, activation_date=date(2026, 1, 15)).subscription_ids
    with start_netsim() as sim:
        stats = run_adaptor(con, endpoint(sim), worker="ocs-1", traceparent=TRACEPARENT)
        sim_stats = sim.stats()
        views = {sub: sim.subscriber(sub) for sub in subs + delayed}
        keys = [str(r[0]) for r in con.execute("SELECT request_id FROM network_requests LIMIT 10").fetchall()]
        executions = [sim.executions(k) for k in keys]

    assert statuses(con) == {"NC": 132}
    assert stats["http_calls"] == 132 and stats["NC"] == 132 and stats["recorded"] == 132
    for rid, attempts, sent, done in con.execute(
            "SELECT request_id, attempts, sent_at, completed_at FROM network_requests").fetchall():
        assert steps(con, rid) == ["UN", "PR", "NS", "NC"]
        assert attempts == 1 and sent is not None and done is not None and done >= sent
    assert con.execute("SELECT DISTINCT actor FROM network_request_history WHERE status <> 'UN'").fetchall() == [
        ("ocs-1",)]
    rows = con.execute("SELECT status, count(*), count(connection_date) FROM subscriptions GROUP BY 1").fetchall()
    assert rows == [("CONNECTED", 22, 22)]
    assert con.execute("SELECT DISTINCT status FROM workflow_events").fetchall() == [("COMPLETE",)]
    assert con.execute("SELECT DISTINCT status FROM actioned_items").fetchall() == [("COMPLETE",)]

    # what the engine stored is what the OCS holds
    for sub in subs + delayed:
        view = views[sub]
        assert view["state"] == "active"
        buckets = {b["commandRef"]: b["id"] for b in view["buckets"]}
        stored = con.execute(
            "SELECT 'NRL-' || r.request_id, a.ocs_instance_id FROM allowances a JOIN network_requests r "
            "ON r.command = 'ADD_ALLOWANCE' AND r.attributes->>'allowanceId' = a.allowance_id "
            "WHERE a.subscription_id = ?", [sub]).fetchall()
        assert dict(stored) == buckets and len(buckets) == 2
        (cap,) = view["spendCaps"]
        assert con.execute("SELECT ocs_instance_id FROM spend_caps WHERE subscription_id = ?", [sub]).fetchone() == (
            cap["id"],)
        assert view["capabilities"] == [{"type": "SOFTWARE_CAPABILITY", "code": "VOLTE"}]
        assert con.execute("SELECT status, external_ref FROM services WHERE subscription_id = ?",
                           [sub]).fetchone() == ("ACTIVE", sub)
    assert [views[s]["startDate"] for s in delayed] == ["2026-01-15T00:00:00Z"] * 2  # a delayed activation
    assert views[subs[0]]["startDate"] is None
    assert sim_stats["duplicate_executions"] == 0 and sim_stats["applied"] == 132
    assert sim_stats["traced_requests"] == 132  # every call carried the traceparent
    assert executions == [1] * 10


def test_faults_end_in_the_right_terminal_status(con):
    seed_connections(con, 80)
    faults = "error=0.1,timeout=0.02,reject=0.01,seed=7"
    with start_netsim(faults=faults, extra_args=["--timeout-hold", "1.5"]) as sim:
        ep = endpoint(sim, timeout_seconds=1.0, max_in_flight=32)
        stats = run_adaptor(con, ep)
        sim_stats = sim.stats()
        nr_keys = [str(r[0]) for r in con.execute(
            "SELECT request_id FROM network_requests WHERE status = 'NR'").fetchall()]
        nr_executions = [sim.executions(k) for k in nr_keys]
        nc_keys = [str(r[0]) for r in con.execute(
            "SELECT request_id FROM network_requests WHERE status = 'NC' LIMIT 25").fetchall()]
        nc_executions = [sim.executions(k) for k in nc_keys]

    assert sim_stats["duplicate_executions"] == 0 and sim_stats["conflicts"] == 0
    assert sim_stats["out_of_order"] == 0  # nothing was sent before its predecessor was done
    injected = sim_stats["faults_injected"]
    assert injected["error"] > 20 and injected["timeout"] > 0 and injected["reject"] > 0
    by_status = statuses(con)
    # every injected 503 or timeout was followed by a retry, or was the last try of an NF request
    assert stats["retries"] + by_status.get("NF", 0) >= injected["error"] + injected["timeout"]
    assert set(by_status) <= {"NC", "NR", "NF", "UN"} and by_status["NC"] > 350 and by_status.get("NR", 0) > 0

    # every subscription ends connected, or failed at exactly one terminal request with the rest waiting
    for sub, sub_status in con.execute("SELECT subscription_id, status FROM subscriptions").fetchall():
        seq = [r[0] for r in con.execute("SELECT status FROM network_requests WHERE subscription_id = ? "
                                         "ORDER BY sequence", [sub]).fetchall()]
        if sub_status == "CONNECTED":
            assert seq == ["NC"] * 6
        else:
            assert sub_status == "FAILED"
            first_bad = next(i for i, s in enumerate(seq) if s != "NC")
            assert seq[first_bad] in ("NR", "NF") and seq[first_bad + 1:] == ["UN"] * (5 - first_bad)
    # NR carries netsim's reason; the network stored the reject without executing it
    for code, text in con.execute("SELECT error_code, error_text FROM network_requests WHERE status = 'NR'"
                                  ).fetchall():
        assert (code, text) == ("NETWORK_REJECT", "simulated business reject (fault injection)")
    assert nr_executions == [0] * len(nr_keys)
    assert nc_executions == [1] * len(nc_keys)
    # a retried request shows each attempt in its history
    retried = con.execute("SELECT request_id, attempts FROM network_requests WHERE status = 'NC' AND attempts > 1 "
                          "LIMIT 1").fetchone()
    assert retried is not None
    history = steps(con, retried[0])
    assert history[:2] == ["UN", "PR"] and history[-1] == "NC" and history.count("NS") == retried[1]
    assert history.count("NE") == retried[1] - 1
    for rid, code, text, attempts in con.execute(
            "SELECT request_id, error_code, error_text, attempts FROM network_requests WHERE status = 'NF'").fetchall():
        assert attempts == 4 and code in ("SERVICE_UNAVAILABLE", "TIMEOUT") and "gave up after 4 attempts" in text


def test_retries_run_out_then_resubmit_completes_with_the_same_key(con):
    subs = seed_connections(con, 3).subscription_ids
    with start_netsim(faults="error=1.0") as sim:
        stats = run_adaptor(con, endpoint(sim, max_retries=2))
        heads = con.execute("SELECT request_id, status, attempts, error_code, error_text FROM network_requests "
                            "WHERE sequence = 10 ORDER BY request_id").fetchall()
        assert [h[1:4] for h in heads] == [("NF", 3, "SERVICE_UNAVAILABLE")] * 3
        assert all("gave up after 3 attempts" in h[4] for h in heads)
        assert steps(con, heads[0][0]) == ["UN", "PR", "NS", "NE", "NS", "NE", "NS", "NE", "NF"]
        assert stats["http_calls"] == 9 and stats["NF"] == 3
        assert con.execute("SELECT count(*) FROM network_requests WHERE status = 'UN'").fetchone() == (15,)
        assert [sim.executions(str(h[0])) for h in heads] == [0, 0, 0]
        assert con.execute("SELECT DISTINCT status FROM subscriptions").fetchall() == [("FAILED",)]

        sim.set_faults("")  # the network is back
        now = utcnow()
        for h in heads:
            LocalQueue(con).resubmit_request(h[0], "network restored", "operator", now)
        run_adaptor(con, endpoint(sim))
        assert statuses(con) == {"NC": 18}
        assert [sim.executions(str(h[0])) for h in heads] == [1, 1, 1]  # NF keeps its key
        assert sim.stats()["duplicate_executions"] == 0
    assert con.execute("SELECT DISTINCT status FROM subscriptions").fetchall() == [("CONNECTED",)]
    assert steps(con, heads[0][0])[-4:] == ["UN", "PR", "NS", "NC"]
    assert len(subs) == 3


def test_a_crashed_adaptor_is_replaced_after_its_lease_and_nothing_runs_twice(con):
    seed_connections(con, 150)
    with start_netsim(faults="latency_ms=4") as sim:
        ep = endpoint(sim, lease_seconds=1.0, max_in_flight=16)

        async def crash() -> dict:
            adaptor = Adaptor(LocalQueue(con), ep, worker="doomed", flush_seconds=0.3)
            task = asyncio.create_task(adaptor.run())
            deadline = time.monotonic() + 10
            while adaptor.stats["recorded"] < 100 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.12)  # mid-way between two flushes: answers in hand, not recorded
            task.cancel()  # a killed process: no stop(), no last flush, no release
            with pytest.raises(asyncio.CancelledError):
                await task
            return dict(adaptor.stats)

        first = asyncio.run(crash())
        left = statuses(con)
        assert 100 <= left["NC"] < 900 and left.get("PR", 0) > 0
        assert first["http_calls"] > left["NC"]  # some answers were lost with the process
        held = [r[0] for r in con.execute("SELECT request_id FROM network_requests WHERE status = 'PR' "
                                          "AND claimed_by = 'doomed'").fetchall()]
        time.sleep(1.1)  # the lease runs out
        # (the default lease: a late renewal of the successor's own must not expire its claims)
        second = run_adaptor(con, endpoint(sim, max_in_flight=16), worker="successor")
        sim_stats = sim.stats()
        executions = [sim.executions(str(rid)) for rid in held[:40]]

    assert statuses(con) == {"NC": 900}
    assert con.execute("SELECT DISTINCT status FROM subscriptions").fetchall() == [("CONNECTED",)]
    assert sim_stats["duplicate_executions"] == 0 and sim_stats["conflicts"] == 0
    assert sim_stats["replays"] > 0  # re-sent under the same keys: the stored answers came back
    assert sim_stats["applied"] == 900  # every command executed exactly once
    assert all(n <= 1 for n in executions)
    assert second["http_calls"] == 900 - left["NC"]
    expired = con.execute("SELECT count(*) FROM network_request_history WHERE note = 'lease expired (worker doomed)'"
                          ).fetchone()[0]
    assert expired == len(held)
    rid = held[0]
    history = con.execute("SELECT status, actor FROM network_request_history WHERE request_id = ? ORDER BY seq",
                          [rid]).fetchall()
    assert history[:3] == [("UN", "seed"), ("PR", "doomed"), ("UN", "successor")]
    assert history[-1] == ("NC", "successor")


def test_an_unbuildable_command_ends_pe_and_stops_its_subscription(con):
    bad, good = seed_connections(con, 2).subscription_ids
    con.execute("UPDATE network_requests SET attributes = json_object('subscriptionId', subscription_id, "
                "'allowanceId', 'ALW-1-1', 'ocsId', 'DATA-100GB', 'type', 'DATA', 'amount', -5, 'unit', 'GB') "
                "WHERE subscription_id = ? AND sequence = 20", [bad])
    pe_id = con.execute("SELECT request_id FROM network_requests WHERE subscription_id = ? AND sequence = 20",
                        [bad]).fetchone()[0]
    with start_netsim() as sim:
        run_adaptor(con, endpoint(sim))
        seq = [r for r in con.execute("SELECT status, error_code, error_text FROM network_requests "
                                      "WHERE subscription_id = ? ORDER BY sequence", [bad]).fetchall()]
        assert [s[0] for s in seq] == ["NC", "PE", "UN", "UN", "UN", "UN"]
        assert seq[1][1] == "BUILD_ERROR" and "'amount' must be" in seq[1][2]
        assert steps(con, pe_id) == ["UN", "PR", "PE"]
        assert sim.executions(str(pe_id)) == 0  # never sent
        assert con.execute("SELECT status FROM subscriptions WHERE subscription_id = ?", [bad]).fetchone() == (
            "FAILED",)
        assert con.execute("SELECT status FROM subscriptions WHERE subscription_id = ?", [good]).fetchone() == (
            "CONNECTED",)
        event = con.execute("SELECT status, error FROM workflow_events WHERE subscription_id = ?", [bad]).fetchone()
        assert event[0] == "ERROR" and "ADD_ALLOWANCE PE BUILD_ERROR" in event[1]

        # fixed by hand, resubmitted: the rest follows in order
        con.execute("UPDATE network_requests SET attributes = json_object('subscriptionId', subscription_id, "
                    "'allowanceId', 'ALW-1-1', 'ocsId', 'DATA-100GB', 'type', 'DATA', 'amount', 100, 'unit', 'GB', "
                    "'recurring', true) WHERE request_id = ?", [pe_id])
        LocalQueue(con).resubmit_request(pe_id, "amount corrected", "operator", utcnow())
        run_adaptor(con, endpoint(sim))
        assert sim.executions(str(pe_id)) == 1  # never sent before, so the same key is fine
    assert statuses(con) == {"NC": 12}
    assert con.execute("SELECT DISTINCT status FROM subscriptions").fetchall() == [("CONNECTED",)]


def test_stop_drains_and_releases_what_was_not_sent(con):
    seed_connections(con, 40)
    with start_netsim(faults="latency_ms=25") as sim:
        ep = endpoint(sim, max_in_flight=8)

        async def start_then_stop() -> dict:
            adaptor = Adaptor(LocalQueue(con), ep, worker="leaving", flush_seconds=0.05)
            task = asyncio.create_task(adaptor.run())
            deadline = time.monotonic() + 30
            while adaptor.stats["http_calls"] < 8 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)  # under way, with chains still in hand
            await adaptor.stop()
            await task
            return dict(adaptor.stats)

        stats = asyncio.run(start_then_stop())
        after_stop = statuses(con)
        assert "PR" not in after_stop and after_stop["NC"] == stats["http_calls"]  # in-flight calls finished
        released = con.execute("SELECT count(*) FROM network_request_history WHERE note = 'released on stop'"
                               ).fetchone()[0]
        assert released > 0 and after_stop["UN"] == 240 - after_stop["NC"]
        run_adaptor(con, endpoint(sim, max_in_flight=32))
        assert sim.stats()["duplicate_executions"] == 0
    assert statuses(con) == {"NC": 240}


def test_rate_limit_and_bounded_concurrency(con):
    seed_connections(con, 10)
    with start_netsim() as sim:
        start = time.monotonic()
        stats = run_adaptor(con, endpoint(sim, rate_per_second=60.0, max_in_flight=4))
        elapsed = time.monotonic() - start
    assert stats["http_calls"] == 60
    assert elapsed >= (60 - 6) / 60.0 * 0.95  # after a burst of rate/10 calls, 60 a second at most
    assert statuses(con) == {"NC": 60}


def test_sender_timeout_and_refused_connection_are_transient(con):
    seed_connections(con, 1)
    # nothing listens on this port: connection refused → NE, retried, then NF
    ep = EndpointConfig(url="http://127.0.0.1:9", token=Secret("t"), timeout_seconds=0.5, max_retries=1,
                        backoff_base_seconds=0.01, backoff_max_seconds=0.02)
    stats = run_adaptor(con, ep)
    assert stats["http_calls"] == 2 and stats["NF"] == 1
    row = con.execute("SELECT status, error_code, response FROM network_requests WHERE sequence = 10").fetchone()
    assert row == ("NF", "CONNECTION_ERROR", None)
    notes = [r[0] for r in con.execute("SELECT note FROM network_request_history WHERE status = 'NE'").fetchall()]
    assert len(notes) == 2 and all(n.startswith("CONNECTION_ERROR") for n in notes)
    assert json.loads(con.execute("SELECT attributes FROM network_requests WHERE sequence = 10").fetchone()[0])[
        "subscriptionId"] == "SUB-0000001"


def test_a_cancel_that_comes_as_the_wake_up_event_is_set_is_not_lost():
    """Python 3.11's ``wait_for`` returned the event's result instead of the cancellation here,
    so a cancelled adaptor ran on for ever (a test hung so once); its waits use asyncio.timeout."""

    async def main() -> bool:
        event = asyncio.Event()

        async def loop() -> None:
            while True:
                await Adaptor._wait(event, 10)
                event.clear()

        task = asyncio.create_task(loop())
        await asyncio.sleep(0)  # the loop waits on the event now
        event.set()
        task.cancel()  # in the same turn of the event loop
        await asyncio.wait({task}, timeout=2)
        return task.cancelled()

    assert asyncio.run(main())
