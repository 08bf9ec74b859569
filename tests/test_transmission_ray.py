"""The OCS adaptor through its Ray actor: the Store actor, a TransmissionDaemonActor, a real
netsim process, on the module's local Ray.

- stop() drains promptly (regression: the drain finished but stop() waited 30 s and then
  reported an abrupt stop, because the actor waited for a coroutine on a loop that had stopped);
- under netsim faults (10% 5xx, 2% timeouts, 1% rejects) an order batch provisioned by the job
  ends with every request in the right terminal status, in order, nothing executed twice;
- SIGKILL of the actor's worker mid-run: Ray restarts it, the dead incarnation's leases expire
  and its requests go back to work; nothing is lost and nothing executes twice.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager

import pytest
import ray

from actors.clients import ActorClient, StoreClient, with_timeout
from actors.names import daemon as daemon_spec
from actors.store import StoreActor
from actors.transmission_daemon import TransmissionDaemonActor
from engine.errors import EngineError
from engine.store import connect
from engine.transmission.testing import seed_connections
from netsim.testing import start_netsim
from tests.test_load_ray import make_home
from tests.test_provisioning_job import add_batch, allowance, order, sub
from tests.waiting import wait_until

pytestmark = pytest.mark.ray

SPEC = daemon_spec("ocs_adaptor")
TOKEN = "ray-adaptor-token"
REJECT_REASON = "simulated business reject (fault injection)"


def home_for(tmp_path, sim, **endpoint):
    env = {"CMP_NETWORK__OCS__URL": sim.url, "CMP_NETWORK__OCS__TOKEN": TOKEN,
           "CMP_DAEMONS__OCS_ADAPTOR__POLL_SECONDS": "0.1"}
    env.update({f"CMP_NETWORK__OCS__{k.upper()}": str(v) for k, v in endpoint.items()})
    return make_home(tmp_path, **env)


@contextmanager
def adaptor_engine(config):
    """The Store actor on the home's database and the OCS adaptor actor over it (their clients).
    On exit both stop, and the Store closes the database so the test can read it."""
    store = StoreClient(StoreActor.remote(str(config.db_path)), timeout=120)
    store.pid()
    daemon = ActorClient(TransmissionDaemonActor.remote(SPEC, config, store.handle, "OCS", config.network.ocs),
                         timeout=60, actor=SPEC.actor_name)
    try:
        yield store, daemon
    finally:
        try:
            with_timeout(daemon, 90).stop()
        except (EngineError, ray.exceptions.RayError):
            pass  # killed all the same
        ray.kill(daemon.handle, no_restart=True)
        store.close()
        ray.kill(store.handle, no_restart=True)


def depths(store: StoreClient) -> dict[str, int]:
    return store.queue_depths().get("OCS", {})



def statuses(con) -> dict[str, int]:
    return dict(con.execute("SELECT status, count(*) FROM network_requests WHERE target = 'OCS' GROUP BY 1"
                            ).fetchall())


def test_stop_drains_promptly_and_leaves_nothing_claimed(ray_local, tmp_path):
    with start_netsim(token=TOKEN) as sim:
        # 100 commands a second: stop() comes while most of the 360 are still to do
        config = home_for(tmp_path, sim, rate_per_second=100, max_in_flight=8, timeout_seconds=2)
        con = connect(config.db_path)
        seed_connections(con, 60)
        con.close()
        with adaptor_engine(config) as (store, daemon):
            wait_until(lambda: depths(store).get("NC", 0) >= 40, "some requests to complete", 30)
            started = time.monotonic()
            assert daemon.stop() == "STOPPED"
            took = time.monotonic() - started
            state = daemon.state()
        sim_stats = sim.stats()

    # Before the fix: 30 s, then "drain timed out; stopped abruptly", although the drain was done.
    assert took < 10, f"stop() took {took:.1f} s"
    assert state["last_error"] is None and state["in_hand"] == 0
    con = connect(config.db_path)
    left = statuses(con)
    assert set(left) == {"NC", "UN"} and 40 <= left["NC"] < 360  # nothing left claimed (PR)
    released = con.execute("SELECT count(DISTINCT request_id) FROM network_request_history "
                           "WHERE note LIKE 'released%'").fetchone()[0]
    assert released > 0  # the drain gave back what it held unsent
    assert sim_stats["duplicate_executions"] == 0 and sim_stats["executions"] == left["NC"]
    con.close()


def orders(count: int) -> list[dict]:
    """``count`` one-subscription orders: prepaid and postpaid, one or two allowances, some with a
    capability (OCS) and some with insurance (a file partner: not the OCS adaptor's work)."""
    out = []
    for i in range(count):
        pay_mode = "POSTPAID" if i % 2 else "PREPAID"
        allowances = [allowance("DATA", 5 + i % 3, "GB")] + ([allowance("TEXT", 500, "SMS", False)] if i % 3 else [])
        services = ([{"type": "SOFTWARE_CAPABILITY", "code": "VOLTE"}] if i % 4 == 0 else []) + \
                   ([{"type": "INSURANCE", "code": "DEVICE-GOLD"}] if i % 10 == 0 else [])
        out.append(order(f"ORD-F{i:04d}", sub(f"4477009{i:05d}", pay_mode, ref=f"S{i}", allowances=allowances,
                                              services=services)))
    return out


def test_faults_through_the_actor_end_in_the_right_terminal_status(ray_local, tmp_path):
    max_retries = 8  # a call fails transiently ~12% of the time: 9 failures in a row ≈ 5e-9
    faults = "error=0.1,timeout=0.02,reject=0.01,seed=11"
    # Retries span ~12 s: a stall of netsim or the Store on a loaded machine must not exhaust them.
    with start_netsim(token=TOKEN, faults=faults, extra_args=["--timeout-hold", "1.5"]) as sim:
        config = home_for(tmp_path, sim, timeout_seconds=1.0, max_in_flight=32, max_retries=max_retries,
                          backoff_base_seconds=0.01, backoff_max_seconds=0.5, lease_seconds=10)
        con = connect(config.db_path)
        batch_id = add_batch(con, orders(240), trigger=False)
        con.close()
        with adaptor_engine(config) as (store, daemon):
            job = store.run_job("provisioning", {"batch": str(batch_id)})
            assert job["status"] == "SUCCEEDED" and job["records_ok"] == 240, job

            def settled():
                """Nothing claimed, and every UN request waits behind a terminal head (one snapshot)."""
                rows = store.list_requests(target="OCS", limit=100_000)
                if not rows or any(r["status"] not in ("NC", "NR", "NF", "PE", "UN") for r in rows):
                    return None
                blocked: dict[str, int] = {}
                for r in rows:
                    if r["status"] in ("NR", "NF", "PE"):
                        blocked[r["subscription_id"]] = min(r["sequence"], blocked.get(r["subscription_id"], 10**9))
                return all(r["sequence"] > blocked.get(r["subscription_id"], 10**9) for r in rows
                           if r["status"] == "UN")

            wait_until(settled, "every OCS request to end or wait behind a terminal one", 60,
                       show=lambda: (depths(store), daemon.state()))
            started = time.monotonic()
            assert daemon.stop() == "STOPPED"
            assert time.monotonic() - started < 10
        sim_stats = sim.stats()
        con = connect(config.db_path)
        requests = con.execute(
            "SELECT request_id, subscription_id, sequence, status, attempts, error_code, error_text "
            "FROM network_requests WHERE target = 'OCS' ORDER BY subscription_id, sequence").fetchall()
        nr_executions = [sim.executions(str(r[0])) for r in requests if r[3] == "NR"]
        nc_executions = [sim.executions(str(r[0])) for r in requests if r[3] == "NC"][:40]

    by_status = statuses(con)
    assert sum(by_status.values()) == len(requests) > 1000
    # No NF: retries never ran out. NR only for netsim's rejects, UN only behind them.
    assert set(by_status) <= {"NC", "NR", "UN"} and by_status.get("NR", 0) > 0, by_status
    injected = sim_stats["faults_injected"]
    assert injected["error"] > 50 and injected["timeout"] > 5 and injected["reject"] == by_status["NR"]
    assert sim_stats["duplicate_executions"] == 0 and sim_stats["conflicts"] == 0
    assert sim_stats["out_of_order"] == 0
    assert sim_stats["executions"] == by_status["NC"]  # every NC executed once; no NR executed at all
    assert nr_executions == [0] * by_status["NR"] and nc_executions == [1] * len(nc_executions)

    history: dict[int, list[tuple]] = {}
    for rid, status, at, note in con.execute(
            "SELECT h.request_id, h.status, h.changed_at, h.note FROM network_request_history h "
            "JOIN network_requests r USING (request_id) WHERE r.target = 'OCS' ORDER BY h.request_id, h.seq"
    ).fetchall():
        history.setdefault(rid, []).append((status, at, note))
    chains: dict[str, list[tuple]] = {}
    for r in requests:
        chains.setdefault(r[1], []).append(r)
    for sub_id, chain in chains.items():
        done_at = None  # when the previous request of the subscription completed
        for rid, _, _, status, attempts, code, text in chain:
            steps = history[rid]
            kinds = [s[0] for s in steps]
            assert status != "UN", f"{sub_id}: request {rid} left UN with no terminal request before it"
            assert kinds[:2] == ["UN", "PR"] and kinds[-1] == status, (rid, kinds)
            assert kinds.count("NS") == attempts and kinds.count("NE") == attempts - 1 <= max_retries
            first_sent = min(at for s, at, _ in steps if s == "NS")
            assert done_at is not None or chain[0][0] == rid  # sent only after its predecessor was NC
            assert done_at is None or first_sent >= done_at, f"{sub_id}: request {rid} sent before its predecessor"
            if status == "NR":
                assert (code, text) == ("NETWORK_REJECT", REJECT_REASON) and REJECT_REASON in steps[-1][2]
                break
            done_at = steps[-1][1]
        else:
            continue
        # after an NR the rest of the chain waits, unsent
        rest = chain[[r[3] for r in chain].index("NR") + 1:]
        assert all(r[3] == "UN" and "NS" not in [s[0] for s in history[r[0]]] for r in rest)

    # CONNECTED exactly when every OCS request of the subscription is NC (insurance goes by file)
    subs = dict(con.execute("SELECT subscription_id, status FROM subscriptions").fetchall())
    assert len(subs) == 240
    for sub_id, chain in chains.items():
        all_nc = all(r[3] == "NC" for r in chain)
        assert (subs[sub_id] == "CONNECTED") == all_nc, (sub_id, subs[sub_id], [r[3] for r in chain])
        if not all_nc:
            assert subs[sub_id] == "FAILED"
    assert con.execute("SELECT count(*) FROM subscriptions WHERE status = 'CONNECTED' AND connection_date IS NULL"
                       ).fetchone()[0] == 0
    insurance = con.execute("SELECT DISTINCT status FROM network_requests WHERE target <> 'OCS'").fetchall()
    assert insurance == [("UN",)]  # the OCS adaptor never touches another target's requests
    con.close()


def test_killing_the_actor_mid_run_loses_and_duplicates_nothing(ray_local, tmp_path):
    with start_netsim(token=TOKEN, faults="latency_ms=3") as sim:
        # The lease also binds the restarted, live actor: long enough that a late renewal on a
        # loaded machine never expires its own claims; the dead one's still come back in seconds.
        config = home_for(tmp_path, sim, rate_per_second=250, max_in_flight=16, lease_seconds=4,
                          timeout_seconds=2)
        con = connect(config.db_path)
        seed_connections(con, 150)  # 900 commands: ~3.6 s at 250/s
        con.close()
        with adaptor_engine(config) as (store, daemon):
            first_pid = daemon.pid()
            wait_until(lambda: depths(store).get("NC", 0) >= 200, "a part of the work to complete", 30)
            os.kill(first_pid, signal.SIGKILL)  # no drain, no last flush, no release
            killed_at = depths(store)
            assert killed_at.get("PR", 0) > 0 and killed_at.get("NC", 0) < 900

            def restarted():
                try:
                    pid = with_timeout(daemon, 5).pid()
                except (EngineError, ray.exceptions.RayError):
                    return None  # still restarting
                return pid if pid != first_pid else None

            wait_until(restarted, "Ray to restart the adaptor actor", 60)
            wait_until(lambda: depths(store) == {"NC": 900}, "every request to complete after the restart", 60)
        sim_stats = sim.stats()

    con = connect(config.db_path)
    assert statuses(con) == {"NC": 900}
    assert con.execute("SELECT DISTINCT status FROM subscriptions").fetchall() == [("CONNECTED",)]
    assert sim_stats["duplicate_executions"] == 0 and sim_stats["conflicts"] == 0
    assert sim_stats["executions"] == 900  # every command executed exactly once
    assert sim_stats["replays"] > 0  # the dead one's unrecorded answers came back under the same keys
    workers = [w for (w,) in con.execute("SELECT DISTINCT actor FROM network_request_history WHERE status = 'PR' "
                                         "ORDER BY 1").fetchall()]
    assert len(workers) == 2 and all(w.startswith(SPEC.actor_name + "@") for w in workers)
    expired = con.execute("SELECT request_id, note FROM network_request_history WHERE note LIKE 'lease expired%'"
                          ).fetchall()
    # what the dead incarnation held went back to work when its lease ran out, under its name
    assert len(expired) > 0 and all(workers[0] in note or workers[1] in note for _, note in expired)
    assert len({note for _, note in expired}) == 1
    con.close()
