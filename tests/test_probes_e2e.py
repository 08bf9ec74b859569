"""End to end: netsim rejects make the Normal adaptor probe fire to a webhook and an SMTP server;
faults cleared, more traffic, and the resolution is sent to both. Real netsim process, real
DuckDB file, the in-process OCS adaptor, real receivers on loopback, the real clock.
Then the same probes through the engine's actors: the Probes actor runs them periodically."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from engine.config import EndpointConfig, NotifyConfig, ProbeConfig, Secret, SmtpConfig, load_config
from engine.notify.testing import SmtpReceiver, WebhookReceiver
from engine.probes.runner import ProbeRunner
from engine.store import connect
from engine.transmission.adaptor import Adaptor
from engine.transmission.local import LocalQueue
from engine.transmission.testing import seed_connections
from netsim.testing import start_netsim
from tests.waiting import wait_until

OCS_SUBJECT = "Transmission/Provisioning/OCSadaptor (OCS)"


def run_adaptor(con, sim) -> dict:
    endpoint = EndpointConfig(url=sim.url, token=Secret(sim.token), timeout_seconds=5.0, max_in_flight=16,
                              max_retries=2, backoff_base_seconds=0.01, backoff_max_seconds=0.05)
    return asyncio.run(Adaptor(LocalQueue(con), endpoint, flush_seconds=0.05).run(until_idle=True))


def outcomes(con) -> dict[str, int]:
    return dict(con.execute("SELECT status, count(*) FROM network_request_history "
                            "WHERE status IN ('NC', 'NR', 'NE', 'NF', 'PE') GROUP BY 1").fetchall())


def test_rejects_fire_the_adaptor_probe_to_webhook_and_smtp_then_resolve(tmp_path: Path):
    con = connect(tmp_path / "cmp.duckdb")
    with WebhookReceiver() as hook, SmtpReceiver() as smtp, start_netsim(faults="reject=0.3,seed=3") as sim:
        probe = ProbeConfig(type="Normal", kind="adaptor_error_ratio", subject="OCS", warning=0.05, severe=0.6,
                            min_volume=30, window_seconds=600, interval_seconds=5,
                            recipients=(f"webhook:{hook.url}", "email:ops@example.com"))
        notify = NotifyConfig(smtp=SmtpConfig(host=smtp.host, port=smtp.port, sender="cmp@example.com"))
        runner = ProbeRunner(con, {"ocs_errors": probe}, notify, tmp_path)
        runner.sync()

        seed_connections(con, 30)
        run_adaptor(con, sim)
        seen = outcomes(con)
        assert seen["NR"] > 5 and sim.stats()["faults_injected"]["reject"] == seen["NR"]
        run = runner.run("ocs_errors")
        assert run.outcome == "warning", run.results
        (fired,) = hook.wait_for(1)
        (mail,) = smtp.wait_for(1)
        assert fired["event"] == "trigger" and fired["subject"] == OCS_SUBJECT and fired["severity"] == "warning"
        assert f"NR {seen['NR']}" in fired["message"]
        assert mail["Subject"].startswith(f"[cmp] FIRING warning ocs_errors: {OCS_SUBJECT}")
        assert smtp.envelopes == [("cmp@example.com", ["ops@example.com"])]
        assert runner.run("ocs_errors").outcome == "warning" and len(hook.received) == 1  # still firing: quiet

        sim.set_faults("")
        seed_connections(con, 150, first=1000, tag="B")
        run_adaptor(con, sim)
        run = runner.run("ocs_errors")
        assert run.outcome == "success" and run.results[0]["value"] < 0.05
        resolved = hook.wait_for(2)[1]
        assert resolved["event"] == "resolve" and resolved["alert_id"] == fired["alert_id"]
        assert smtp.wait_for(2)[1]["Subject"].startswith(f"[cmp] RESOLVED warning ocs_errors: {OCS_SUBJECT}")
        runner.run("ocs_errors")
        time.sleep(0.2)
        assert len(hook.received) == 2 and len(smtp.messages) == 2  # resolved once

    rows = con.execute("SELECT event, recipient, ok FROM notifications ORDER BY sent_at, recipient").fetchall()
    assert rows == [("trigger", "email:ops@example.com", True), ("trigger", f"webhook:{hook.url}", True),
                    ("resolve", "email:ops@example.com", True), ("resolve", f"webhook:{hook.url}", True)]
    con.close()


@pytest.mark.ray
def test_probes_actor_runs_due_probes_in_the_engine(ray_local, home: Path):
    """The Probes actor asks the Store actor to run what is due; results reach a file recipient."""
    from actors import names
    from actors.clients import StoreClient, typed
    from actors.probes import ProbesActor
    from actors.store import StoreActor

    (home / "cmp.toml").write_text(
        (home / "cmp.toml").read_text()
        + '\n[probes.always_one]\nquery = "SELECT 1"\nwarning = 0\ninterval_seconds = 1\n'
          'recipients = ["file:e2e.jsonl"]\n'
        + "".join(f"\n[probes.{n}]\nenabled = false\n" for n in
                  ("provisioning_errors", "adaptor_errors", "reconciliation_discrepancies", "provisioning_slots",
                   "requests_waiting", "extract_files")))
    config = load_config(home, env={})
    store = StoreActor.options(name="Store-probes-test", namespace="cmp").remote(str(config.db_path))
    client = StoreClient(store)
    client.pid()
    probes_actor = ProbesActor.options(name=names.PROBES, namespace="cmp").remote(config, store)
    probes = typed(probes_actor, ProbesActor)
    try:
        path = home / "alerts" / "e2e.jsonl"
        wait_until(lambda: path.exists() and path.read_text().endswith("\n"), f"{path} to be written", 60)
        (doc,) = [json.loads(line) for line in path.read_text().splitlines()]
        assert doc["event"] == "trigger" and doc["probe"] == "always_one" and doc["subject"] == "query"
        listed = {p["name"]: p for p in client.probe_list(config)}
        assert listed["always_one"]["last_outcome"] == "warning" and listed["always_one"]["firing"] == 1
        assert listed["adaptor_errors"]["enabled"] is False and listed["adaptor_errors"]["last_run_at"] is None
        assert [a["probe"] for a in client.probe_alerts(active_only=True)] == ["always_one"]
        # The actor records its metrics and its polled heartbeat once the Store's run has returned.
        daemon = wait_until(lambda: (d := {x["name"]: x for x in client.list_daemons()}["Probes"])["last_poll_at"] and d,
                            "the Probes actor's first polled heartbeat", 30)
        assert daemon["state"] == "RUNNING"
        recorded = wait_until(  # the values the dashboard's metrics show
            lambda: (m := probes.metrics()) and any(k.startswith("cmp_probe_runs") and "warning" in k
                                                                  for k in m) and m,
            "the Probes actor's run metrics", 30)
        assert any(k.startswith("cmp_probe_value") and "always_one" in k for k in recorded), recorded
        assert probes.stop() == "STOPPED"
    finally:
        ray_local.kill(probes_actor, no_restart=True)
        client.close()
        ray_local.kill(store, no_restart=True)
