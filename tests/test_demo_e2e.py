"""The bill cycle chain end to end, as `cmpctl demo` runs it on a real local Ray head: provision
subscriptions, change their bill cycle, netsim answers by an encrypted file, the Load daemon
loads it, reconciliation reports every injected discrepancy with its class — and, run again
at the effective time, the engine's records point at the new OCS instances (old rows
end-dated, never overwritten)."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from actors.demo import Demo
from engine.schedule.clock import ManualClock
from tests.stores import make_store

pytestmark = pytest.mark.ray


def test_demo_chain_then_repointing_at_the_effective_time(tmp_path):
    lines: list[str] = []
    report = Demo(120, workdir=tmp_path, seed=3, progress=lines.append).run(keep=True)
    assert report.ok, "\n".join(lines)
    steps = [c.step for c in report.checks]
    assert steps[:3] == ["engine up", "load", "provisioning"] and steps[-2:] == ["reconciliation", "probes"]
    found = report.summary["reconciliation"]
    assert found["MATCHED"] > 0 and sum(n for cls, n in found.items() if cls != "MATCHED") > 0

    # The engine is down now; open its database as of one day after the latest effective time.
    db = report.home / "data" / "cmp.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        effective = con.execute("SELECT max(effective_at) FROM bill_cycle_changes").fetchone()[0]
    store = make_store(db, clock=ManualClock(effective + timedelta(days=1)))
    try:
        cur = store.cursor()
        before = cur.execute("SELECT count(*) FROM reconciliation_matches WHERE status = 'PENDING'").fetchone()[0]
        assert before == found["MATCHED"]
        run = store.run_job("reconciliation", {}, key="e2e:repoint")
        assert run["status"] == "SUCCEEDED" and sum(run["result"]["repointed"].values()) == before
        # every matched record: the old row end-dated at the change, a new row with the OCS's instance
        rows = cur.execute(
            """
            WITH records AS (
                SELECT allowance_id AS record_id, subscription_id, ocs_id, ocs_instance_id, effective_from, effective_to
                FROM allowances UNION ALL
                SELECT spend_cap_id, subscription_id, ocs_id, ocs_instance_id, effective_from, effective_to
                FROM spend_caps)
            SELECT count(*) FILTER (m.status = 'REPOINTED'
                                    AND old.effective_to = m.effective_at
                                    AND new.effective_from = m.effective_at AND new.effective_to IS NULL
                                    AND new.ocs_instance_id = m.new_instance_id
                                    AND new.ocs_id = old.ocs_id AND new.subscription_id = old.subscription_id
                                    AND new.ocs_instance_id IS DISTINCT FROM old.ocs_instance_id),
                   count(*)
            FROM reconciliation_matches m
            JOIN records old ON old.record_id = m.record_id
            JOIN records new ON new.record_id = m.new_record_id
            """).fetchone()
        assert rows[0] == rows[1] == before
        assert cur.execute("SELECT count(*) FROM reconciliation_matches WHERE status = 'PENDING'").fetchone()[0] == 0
        # every answered change closed: DISCREPANT exactly when a discrepancy names it
        closed = cur.execute("""
            SELECT c.status, EXISTS (SELECT 1 FROM reconciliation_discrepancies d
                                     WHERE d.action_item_number = c.action_item_number) AS named, count(*)
            FROM bill_cycle_changes c GROUP BY ALL""").fetchall()
        assert {(status, named) for status, named, _ in closed} == {("RECONCILED", False), ("DISCREPANT", True)}
        assert run["result"]["closed"] == {status: n for status, _, n in closed}
        # a second run re-points nothing twice
        again = store.run_job("reconciliation", {}, key="e2e:repoint-again")
        assert sum(again["result"]["repointed"].values()) == 0
        cur.close()
    finally:
        store.close()
