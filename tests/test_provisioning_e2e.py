"""Orders to the network end to end on a real local Ray: an encrypted order file dropped in the
inbound folder ends with every valid subscription CONNECTED in the engine and active in netsim."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from actors.clients import StoreClient
from actors.engine import start_engine, stop_engine
from netsim.testing import start_netsim
from tests.test_load_ray import drop, make_home, order_file, wait_for_batches
from tests.waiting import wait_until

pytestmark = pytest.mark.ray



def test_order_file_to_connected_subscriptions(ray_local, tmp_path):
    with start_netsim(token="e2e-token") as sim:
        config = make_home(tmp_path, CMP_NETWORK__OCS__URL=sim.url, CMP_NETWORK__OCS__TOKEN="e2e-token",
                           CMP_NETWORK__OCS__LEASE_SECONDS="5", CMP_DAEMONS__OCS_ADAPTOR__POLL_SECONDS="0.2")
        handles = start_engine(config)
        store: StoreClient = handles.store_client
        try:
            assert "Transmission/Provisioning/OCSadaptor" in {d["name"] for d in store.list_daemons()}
            drop(config, "orders.jsonl.age", order_file(config, 120, seed=21, bad_share=0.05, identifier="e2e-1"))
            [batch] = wait_for_batches(store, 1)
            assert batch["error_records"] > 0  # the bad records stay in the batch's errors

            def settled():
                """Every OCS request done, except DELAYED activations waiting for their date."""
                rows = store.list_requests(target="OCS", limit=100000)
                now = datetime.now(timezone.utc)
                waiting = [r for r in rows if r["status"] != "NC"]
                if rows and all(r["status"] == "UN" and r["not_before"] and r["not_before"] > now for r in waiting):
                    return rows
                return None

            rows = wait_until(settled, "every OCS request to finish", 180.0)
            depths = {"NC": sum(r["status"] == "NC" for r in rows)}
            delayed = {r["subscription_id"] for r in rows if r["status"] == "UN"}
            assert all(r["command"] == "ACTIVATE" for r in rows if r["status"] == "UN")
            stats = sim.stats()
            assert stats["duplicate_executions"] == 0 and stats["conflicts"] == 0 and stats["out_of_order"] == 0
            assert stats["executions"] == depths["NC"]
            shown = store.show_request(rows[0]["request_id"])
            assert [h["status"] for h in shown["history"]][:1] == ["UN"] and shown["history"][-1]["status"] == "NC"
            subs = {d["name"]: d for d in store.list_daemons()}
            assert subs["Transmission/Provisioning/OCSadaptor"]["state"] == "RUNNING"
        finally:
            stop_engine(config)
    # after a clean stop nothing is left claimed
    from engine.store import connect

    con = connect(config.db_path)
    connected, pending = con.execute(
        "SELECT count(*) FILTER (status = 'CONNECTED'), count(*) FILTER (status <> 'CONNECTED') FROM subscriptions"
    ).fetchone()
    assert connected > 100 and pending == len(delayed)  # delayed activations are not connected yet
    # (NS of a request sent by file means "in an outbound file, waiting for the partner's
    # answer": nobody holds it; whether the Extract daemon wrote one before the stop is timing)
    assert con.execute("SELECT count(*) FROM network_requests WHERE claimed_by IS NOT NULL OR status = 'PR' "
                       "OR (status = 'NS' AND target NOT LIKE 'FILE:%')").fetchone()[0] == 0
    assert stats["active_subscribers"] == connected
    assert stats["subscribers"] == connected + len(delayed)
