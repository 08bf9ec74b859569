"""The network request queue on a real DuckDB file: claim, record, leases, operator actions.

No network here: outcomes are made by hand, as an adaptor would report them. The end-to-end
runs against netsim are in test_transmission_adaptor.py.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from engine.errors import NotFound, UsageError
from engine.store import connect
from engine.transmission import queue
from engine.transmission.model import Chain, Outcome
from engine.transmission.testing import seed_connections

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc)
COMMANDS = ["CREATE_SUBSCRIBER", "ADD_ALLOWANCE", "ADD_ALLOWANCE", "SET_SPEND_CAP", "ADD_CAPABILITY", "ACTIVATE"]


@pytest.fixture
def con(tmp_path):
    con = connect(tmp_path / "cmp.duckdb")
    yield con
    con.close()


def requests_of(con, sub: str) -> list[tuple]:
    return con.execute(
        "SELECT request_id, sequence, command, status, claimed_by, attempts FROM network_requests "
        "WHERE subscription_id = ? ORDER BY sequence", [sub]).fetchall()


def history(con, request_id: int) -> list[tuple]:
    return con.execute("SELECT seq, status, actor, note FROM network_request_history WHERE request_id = ? "
                       "ORDER BY seq", [request_id]).fetchall()


def set_status(con, sub: str, sequence: int, status: str, **extra) -> int:
    sets = ", ".join(f"{k} = ?" for k in extra)
    rid = con.execute(
        f"UPDATE network_requests SET status = ?{', ' + sets if sets else ''} WHERE subscription_id = ? "
        f"AND sequence = ? RETURNING request_id", [status, *extra.values(), sub, sequence]).fetchone()[0]
    return rid


def outcome(req, worker: str, status: str = "NC", at: datetime = T0, **kw) -> Outcome:
    steps = [("NS", at, None), (status, at, kw.pop("note", None))]
    return Outcome(req.request_id, worker, status, steps, sent_at=at,
                   completed_at=at if status == "NC" else None, attempts=req.attempts + 1,
                   history_seq=req.history_seq, **kw)


def by_sub(chains: list[Chain]) -> dict[str, list[tuple[int, str]]]:
    return {c.subscription_id: [(r.sequence, r.command) for r in c.requests] for c in chains}


def test_claim_takes_heads_only_in_sequence_and_respects_not_before(con):
    subs = seed_connections(con, 6).subscription_ids
    a, b, c, d, e, f = subs
    # b: its ACTIVATE is a delayed activation, not due yet: the chain stops before it
    set_status(con, b, 60, "UN", not_before=T0 + timedelta(days=3))
    # c: its head was rejected: nothing after it may go
    set_status(con, c, 10, "NR")
    # d: its first command is done: the chain starts at the next one
    set_status(con, d, 10, "NC")
    # e: its head itself is not due
    set_status(con, e, 10, "UN", not_before=T0 + timedelta(hours=1))
    # f: a failure in the middle cuts the chain before it
    set_status(con, f, 40, "NF")

    chains = queue.claim(con, target="OCS", worker="w1", max_chains=10, lease_seconds=86400, now=T0)

    got = by_sub(chains)
    assert set(got) == {a, b, d, f}
    assert got[a] == [(10 * (i + 1), cmd) for i, cmd in enumerate(COMMANDS)]
    assert got[b] == [(10 * (i + 1), cmd) for i, cmd in enumerate(COMMANDS[:5])]
    assert got[d] == [(10 * (i + 1), cmd) for i, cmd in enumerate(COMMANDS)][1:]
    assert got[f] == [(10, "CREATE_SUBSCRIBER"), (20, "ADD_ALLOWANCE"), (30, "ADD_ALLOWANCE")]
    heads = [ch.requests[0].request_id for ch in chains]
    assert heads == sorted(heads)  # oldest head first
    # every row carries what the adaptor needs
    chain_d = next(ch for ch in chains if ch.subscription_id == d)
    assert all(r.account_id == "ACC-4" for r in chain_d.requests)  # read from subscriptions
    assert all(r.account_id == "ACC-1" for r in chains[0].requests)  # from CREATE_SUBSCRIBER
    first = chains[0].requests[0]
    assert first.key == str(first.request_id) and first.history_seq == 2 and first.attempts == 0
    assert first.attributes["msisdn"] == "447700000001"

    # claimed rows: PR, this worker, the lease, and a history row
    rows = con.execute("SELECT status, claimed_by, lease_until FROM network_requests WHERE request_id = ?",
                       [first.request_id]).fetchone()
    assert rows[0] == "PR" and rows[1] == "w1" and rows[2] == T0 + timedelta(days=1)
    assert history(con, first.request_id) == [
        (1, "UN", "seed", "created by the transmission seed"), (2, "PR", "w1", "claimed")]
    assert [r[3] for r in requests_of(con, c)] == ["NR"] + ["UN"] * 5
    assert [r[3] for r in requests_of(con, e)] == ["UN"] * 6

    # nothing is claimable twice: the heads are PR now
    assert queue.claim(con, target="OCS", worker="w2", max_chains=10, lease_seconds=30, now=T0) == []
    # another target sees nothing of these
    assert queue.claim(con, target="OPENET", worker="w2", max_chains=10, lease_seconds=30, now=T0) == []
    # once due, e's head goes; b's ACTIVATE still waits behind its PR requests
    later = T0 + timedelta(hours=2)
    assert by_sub(queue.claim(con, target="OCS", worker="w2", max_chains=10, lease_seconds=30, now=later)) == {
        e: [(10 * (i + 1), cmd) for i, cmd in enumerate(COMMANDS)]}


def test_claim_limits_the_number_of_chains(con):
    subs = seed_connections(con, 5).subscription_ids
    chains = queue.claim(con, target="OCS", worker="w1", max_chains=2, lease_seconds=30, now=T0)
    assert [c.subscription_id for c in chains] == subs[:2]
    assert queue.claim(con, target="OCS", worker="w1", max_chains=0, lease_seconds=30, now=T0) == []
    assert con.execute("SELECT count(*) FROM network_requests WHERE status = 'PR'").fetchone()[0] == 12


def test_record_applies_outcomes_and_their_effects(con):
    ok, bad = seed_connections(con, 2).subscription_ids
    chains = {c.subscription_id: c for c in
              queue.claim(con, target="OCS", worker="w1", max_chains=5, lease_seconds=30, now=T0)}
    outs = []
    for i, req in enumerate(chains[ok].requests):
        ref = {"ADD_ALLOWANCE": f"inst-a{i}", "SET_SPEND_CAP": "inst-cap", "ADD_CAPABILITY": ok}.get(req.command, ok)
        outs.append(outcome(req, "w1", at=T0 + timedelta(seconds=i), external_ref=ref,
                            response=json.dumps({"id": ref})))
    first, second, *rest = chains[bad].requests
    outs.append(outcome(first, "w1", external_ref=bad))
    outs.append(outcome(second, "w1", "NR", error_code="NETWORK_REJECT", error_text="simulated business reject",
                        response='{"code":"NETWORK_REJECT","reason":"simulated business reject"}'))
    outs += [Outcome(r.request_id, "w1", "UN", [("UN", T0, "released: request ended NR")],
                     history_seq=r.history_seq) for r in rest]

    assert queue.record(con, outs, now=T0 + timedelta(seconds=10)) == len(outs)

    # the connected subscription
    assert [r[3] for r in requests_of(con, ok)] == ["NC"] * 6
    status, connected = con.execute("SELECT status, connection_date FROM subscriptions WHERE subscription_id = ?",
                                    [ok]).fetchone()
    assert status == "CONNECTED" and connected == T0 + timedelta(seconds=5)  # the last one's completion
    assert con.execute("SELECT ocs_instance_id FROM allowances WHERE subscription_id = ? ORDER BY allowance_id",
                       [ok]).fetchall() == [("inst-a1",), ("inst-a2",)]
    assert con.execute("SELECT ocs_instance_id FROM spend_caps WHERE subscription_id = ?", [ok]).fetchone() == (
        "inst-cap",)
    assert con.execute("SELECT status, external_ref FROM services WHERE subscription_id = ?", [ok]).fetchone() == (
        "ACTIVE", ok)
    assert con.execute("SELECT DISTINCT a.status FROM actioned_items a JOIN workflow_events e USING (event_id) "
                       "WHERE e.subscription_id = ?", [ok]).fetchall() == [("COMPLETE",)]
    assert con.execute("SELECT status, completed_at IS NOT NULL FROM workflow_events WHERE subscription_id = ?",
                       [ok]).fetchone() == ("COMPLETE", True)
    rid = chains[ok].requests[0].request_id
    assert [(s, st) for s, st, _, _ in history(con, rid)] == [(1, "UN"), (2, "PR"), (3, "NS"), (4, "NC")]
    row = con.execute("SELECT claimed_by, lease_until, sent_at, completed_at, attempts, external_ref, response "
                      "FROM network_requests WHERE request_id = ?", [rid]).fetchone()
    assert row[:5] == (None, None, T0, T0, 1) and row[5] == ok and json.loads(row[6]) == {"id": ok}

    # the rejected one: NR with the reason, its item and event in ERROR, the subscription FAILED
    assert [r[3] for r in requests_of(con, bad)] == ["NC", "NR", "UN", "UN", "UN", "UN"]
    assert con.execute("SELECT error_code, error_text FROM network_requests WHERE request_id = ?",
                       [second.request_id]).fetchone() == ("NETWORK_REJECT", "simulated business reject")
    item_status, item_error = con.execute("SELECT status, error FROM actioned_items WHERE action_item_number = ?",
                                          [second.action_item_number]).fetchone()
    assert item_status == "ERROR" and "NR NETWORK_REJECT: simulated business reject" in item_error
    ev_status, ev_error = con.execute("SELECT status, error FROM workflow_events WHERE subscription_id = ?",
                                      [bad]).fetchone()
    assert ev_status == "ERROR" and f"request {second.request_id} ADD_ALLOWANCE NR" in ev_error
    assert con.execute("SELECT status FROM subscriptions WHERE subscription_id = ?", [bad]).fetchone() == ("FAILED",)
    assert history(con, rest[0].request_id)[-1][1:] == ("UN", "w1", "released: request ended NR")
    # blocked behind the NR head
    assert queue.claim(con, target="OCS", worker="w1", max_chains=5, lease_seconds=30, now=T0) == []
    # recording again changes nothing (the rows are no longer claimed)
    assert queue.record(con, outs, now=T0) == 0


def test_expired_lease_is_reclaimed_and_the_stale_worker_is_ignored(con):
    (sub,) = seed_connections(con, 1).subscription_ids
    (mine,) = queue.claim(con, target="OCS", worker="w1", max_chains=5, lease_seconds=10, now=T0)
    # still leased: nobody else gets it
    assert queue.claim(con, target="OCS", worker="w2", max_chains=5, lease_seconds=10,
                       now=T0 + timedelta(seconds=5)) == []
    # w1 renews; w2 cannot renew what it does not hold
    assert queue.renew(con, "w1", mine.request_ids, 10, T0 + timedelta(seconds=5)) == 6
    assert queue.renew(con, "w2", mine.request_ids, 10, T0 + timedelta(seconds=5)) == 0
    assert queue.claim(con, target="OCS", worker="w2", max_chains=5, lease_seconds=10,
                       now=T0 + timedelta(seconds=12)) == []  # renewed until +15
    # w1 goes silent: after the lease, w2 takes the chain over
    later = T0 + timedelta(seconds=16)
    (theirs,) = queue.claim(con, target="OCS", worker="w2", max_chains=5, lease_seconds=10, now=later)
    assert theirs.request_ids == mine.request_ids
    first = theirs.requests[0]
    assert first.key == mine.requests[0].key  # the same Idempotency-Key: a re-send replays
    assert [h[1:] for h in history(con, first.request_id)] == [
        ("UN", "seed", "created by the transmission seed"), ("PR", "w1", "claimed"),
        ("UN", "w2", "lease expired (worker w1)"), ("PR", "w2", "claimed")]
    assert first.history_seq == 4

    # w1 wakes up and reports: ignored, w2 still owns the rows
    assert queue.record(con, [outcome(r, "w1") for r in mine.requests], now=later) == 0
    assert {r[3:5] for r in requests_of(con, sub)} == {("PR", "w2")}
    assert queue.release(con, "w1", mine.request_ids, later) == 0
    # w2's outcome counts
    assert queue.record(con, [outcome(r, "w2") for r in theirs.requests[:2]], now=later) == 2
    assert [h[1] for h in history(con, first.request_id)] == ["UN", "PR", "UN", "PR", "NS", "NC"]
    # w2 stops: the unsent rest goes back to work
    assert queue.release(con, "w2", theirs.request_ids, later) == 4
    assert [r[3] for r in requests_of(con, sub)] == ["NC", "NC", "UN", "UN", "UN", "UN"]
    assert history(con, theirs.requests[2].request_id)[-1][1:] == ("UN", "w2", "released on stop")
    (again,) = queue.claim(con, target="OCS", worker="w3", max_chains=5, lease_seconds=10, now=later)
    assert [r.sequence for r in again.requests] == [30, 40, 50, 60]


def test_record_without_history_seq_looks_it_up(con):
    seed_connections(con, 1)
    (chain,) = queue.claim(con, target="OCS", worker="w1", max_chains=1, lease_seconds=10, now=T0)
    outs = [outcome(r, "w1") for r in chain.requests]
    for o in outs:
        o.history_seq = None
    assert queue.record(con, outs, now=T0) == 6
    assert [h[0:2] for h in history(con, chain.requests[-1].request_id)] == [
        (1, "UN"), (2, "PR"), (3, "NS"), (4, "NC")]
    with pytest.raises(ValueError, match="outcome status"):
        queue.record(con, [Outcome(1, "w1", "NS")], now=T0)


def test_resubmit_and_close_with_history(con):
    sub, other = seed_connections(con, 2).subscription_ids
    chains = {c.subscription_id: c for c in
              queue.claim(con, target="OCS", worker="w1", max_chains=5, lease_seconds=30, now=T0)}
    head = chains[sub].requests[0]
    queue.record(con, [outcome(head, "w1", "NR", error_code="NETWORK_REJECT", error_text="no",
                               response='{"code":"NETWORK_REJECT","reason":"no"}')]
                 + [Outcome(r.request_id, "w1", "UN", [("UN", T0, "released")], history_seq=r.history_seq)
                    for r in chains[sub].requests[1:]], now=T0)
    o_head = chains[other].requests[0]
    queue.record(con, [outcome(o_head, "w1", "NF", error_code="TIMEOUT", error_text="gave up")]
                 + [Outcome(r.request_id, "w1", "UN", [("UN", T0, "released")], history_seq=r.history_seq)
                    for r in chains[other].requests[1:]], now=T0)
    assert con.execute("SELECT status FROM subscriptions ORDER BY 1").fetchall() == [("FAILED",), ("FAILED",)]

    with pytest.raises(NotFound):
        queue.resubmit(con, 999_999, "why not", "op", T0)
    with pytest.raises(UsageError, match="only NR/NF/PE/NE"):
        queue.resubmit(con, chains[sub].requests[1].request_id, "too early", "op", T0)
    with pytest.raises(UsageError, match="reason"):
        queue.resubmit(con, head.request_id, " ", "op", T0)

    t1 = T0 + timedelta(minutes=5)
    row = queue.resubmit(con, head.request_id, "OCS fixed the tariff", "alice", t1)
    assert row["status"] == "UN" and row["attempts"] == 0 and row["error_code"] is None
    last = history(con, head.request_id)[-1]
    assert last[1:3] == ("UN", "alice") and "OCS fixed the tariff" in last[3] and "was NR NETWORK_REJECT: no" in last[3]
    assert con.execute("SELECT status, error FROM actioned_items WHERE action_item_number = ?",
                       [head.action_item_number]).fetchone() == ("SENT_TO_NETWORK", None)
    assert con.execute("SELECT status, error FROM workflow_events WHERE subscription_id = ?", [sub]).fetchone() == (
        "OPEN", None)
    assert con.execute("SELECT status FROM subscriptions WHERE subscription_id = ?", [sub]).fetchone() == ("PENDING",)
    queue.resubmit(con, o_head.request_id, "network is back", "alice", t1)

    chains2 = {c.subscription_id: c for c in
               queue.claim(con, target="OCS", worker="w2", max_chains=5, lease_seconds=30, now=t1)}
    # the NR answer is stored under the old key at the network: a new key; NF keeps its key
    assert chains2[sub].requests[0].key == f"{head.request_id}-r1"
    assert chains2[other].requests[0].key == str(o_head.request_id)
    assert len(chains2[sub].requests) == 6

    # close: not while claimed; then NC by hand, which unblocks the rest
    with pytest.raises(UsageError, match="claimed by w2"):
        queue.close(con, head.request_id, "done by hand", "bob", t1)
    queue.release(con, "w2", chains2[sub].request_ids + chains2[other].request_ids, t1)
    set_status(con, sub, 10, "PE", error_code="BUILD_ERROR", error_text="bad msisdn")
    row = queue.close(con, head.request_id, "created by hand on the OCS", "bob", t1)
    assert row["status"] == "NC" and row["error_text"] == "closed by operator: created by hand on the OCS"
    assert row["completed_at"] == t1
    assert history(con, head.request_id)[-1][1:] == ("NC", "bob", "closed by operator: created by hand on the OCS")
    assert con.execute("SELECT status FROM actioned_items WHERE action_item_number = ?",
                       [head.action_item_number]).fetchone() == ("COMPLETE",)
    with pytest.raises(UsageError, match="already NC"):
        queue.close(con, head.request_id, "again", "bob", t1)
    (chain,) = [c for c in queue.claim(con, target="OCS", worker="w3", max_chains=5, lease_seconds=30, now=t1)
                if c.subscription_id == sub]
    assert [r.sequence for r in chain.requests] == [20, 30, 40, 50, 60]
    # closing everything that is left connects the subscription, an expired claim included
    t2 = t1 + timedelta(minutes=1)
    for r in chain.requests:
        queue.close(con, r.request_id, "provisioned by hand", "bob", t2)
    assert con.execute("SELECT status, connection_date FROM subscriptions WHERE subscription_id = ?",
                       [sub]).fetchone() == ("CONNECTED", t2)
    assert con.execute("SELECT status FROM workflow_events WHERE subscription_id = ?", [sub]).fetchone() == (
        "COMPLETE",)
    assert con.execute("SELECT status FROM services WHERE subscription_id = ?", [sub]).fetchone() == ("ACTIVE",)


def test_views_for_the_cli_and_probes(con):
    sub, _ = seed_connections(con, 2).subscription_ids
    (chain, _) = queue.claim(con, target="OCS", worker="w1", max_chains=5, lease_seconds=30, now=T0)
    queue.record(con, [outcome(chain.requests[0], "w1", external_ref=sub)], now=T0)
    assert queue.queue_depths(con) == {"OCS": {"NC": 1, "PR": 11}}
    listed = queue.list_requests(con, status="PR", target="OCS", limit=3)
    assert len(listed) == 3 and all(r["status"] == "PR" for r in listed)
    assert listed[0]["request_id"] > listed[1]["request_id"]
    assert sorted(r["command"] for r in queue.list_requests(con, subscription_id=sub)) == sorted(COMMANDS)
    shown = queue.show_request(con, chain.requests[0].request_id)
    assert shown["status"] == "NC" and shown["external_ref"] == sub
    assert shown["attributes"]["accountId"] == "ACC-1"
    assert [h["status"] for h in shown["history"]] == ["UN", "PR", "NS", "NC"]
    with pytest.raises(NotFound):
        queue.show_request(con, 424242)


def test_delayed_activation_seed_and_account_lookup_for_a_lone_activate(con):
    (sub,) = seed_connections(con, 1, activation_date=date(2026, 12, 1)).subscription_ids
    (chain,) = queue.claim(con, target="OCS", worker="w1", max_chains=5, lease_seconds=30, now=T0)
    assert [r.sequence for r in chain.requests] == [10, 20, 30, 40, 50]
    queue.record(con, [outcome(r, "w1") for r in chain.requests], now=T0)
    assert con.execute("SELECT status FROM subscriptions").fetchone() == ("PENDING",)  # ACTIVATE still to go
    due = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert queue.claim(con, target="OCS", worker="w1", max_chains=5, lease_seconds=30,
                       now=due - timedelta(seconds=1)) == []
    (activate,) = queue.claim(con, target="OCS", worker="w1", max_chains=5, lease_seconds=30, now=due)
    (row,) = activate.requests
    assert row.command == "ACTIVATE" and row.attributes["activationDate"] == "2026-12-01"
    assert row.account_id == "ACC-1"
    queue.record(con, [outcome(row, "w1", at=due)], now=due)
    assert con.execute("SELECT status, connection_date FROM subscriptions").fetchone() == ("CONNECTED", due)
