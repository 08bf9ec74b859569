"""Tracing and Ray metrics: exporters, span trees, and connected traces across processes.

Real parts only: spans go to JSON-lines files under a real home's traces/ (or to a local OTLP
receiver over HTTP and gRPC), loads decrypt real age files into a real DuckDB file, the
provisioning requests go to a real netsim process, and the Ray tests run shards in Ray workers.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import engine.runtime  # noqa: F401  (sets Ray's auth mode before ray is imported, as cmpctl's main() does)
from engine import age, synth, telemetry
from engine.config import EndpointConfig, Secret, load_config
from engine.home import home_identities, home_recipient
from engine.loading.pipeline import InlineRunner, LoadSettings, load_file
from tests.stores import make_store
from engine.telemetry.jsonl import read_spans
from engine.telemetry.tree import render_tree, span_tree
from engine.transmission.adaptor import Adaptor
from netsim.testing import start_netsim
from tests.waiting import wait_until

HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(autouse=True)
def _no_exporter_left_behind():
    yield
    telemetry.shutdown()


@pytest.fixture
def config(home):
    cfg = load_config(home, env={})
    telemetry.configure(telemetry.Settings.from_config(cfg), component="test")
    return cfg


def order_file(config, path: Path, count: int, seed: int = 1) -> Path:
    out = io.BytesIO()
    with age.open_encrypt(out, [home_recipient(config)]) as sink:
        synth.write_orders(sink, count, seed=seed, identifier=f"trace-{seed}-{count}")
    path.write_bytes(out.getvalue())
    return path


def load_settings(config, shard_bytes: int = 64 * 1024) -> LoadSettings:
    return LoadSettings(daemon="load_provisioning", shard_bytes=shard_bytes, max_error_ratio=0.1,
                        max_line_bytes=16 * 2**20, work_dir=config.home / "work")


def by_name(spans: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for s in spans:
        out.setdefault(re.sub(r"\d+", "N", s["name"]) if s["name"].startswith("shard") else s["name"], []).append(s)
    return out


def assert_connected(spans: list[dict], trace_id: str) -> dict:
    """One trace: every span has the trace id, exactly one root, every other parent is in it."""
    assert spans and all(s["trace_id"] == trace_id for s in spans)
    ids = {s["span_id"]: s for s in spans}
    roots = [s for s in spans if s["parent_id"] not in ids]
    assert len(roots) == 1, [(s["name"], s["parent_id"]) for s in roots]
    for s in spans:
        assert s["end"] >= s["start"] and s["duration_ms"] >= 0
    return roots[0]


# -- exporters and the tree ------------------------------------------------------------------------


def test_file_exporter_writes_one_line_per_span_and_the_tree_renders(config):
    with telemetry.span("load x.age", attributes={"cmp.batch_id": 7, "ignored": None}) as root:
        traceparent = telemetry.inject()
        with telemetry.span("shard 0"):
            pass
        with pytest.raises(ValueError):
            with telemetry.span("store commit"):
                raise ValueError("disk full")
    # another process continues the trace from the traceparent string alone
    with telemetry.span("shard 1", parent=traceparent):
        pass
    trace_id = telemetry.trace_id_of(root)
    assert HEX32.match(trace_id) and traceparent.split("-")[1] == trace_id
    assert telemetry.trace_id_from(traceparent) == trace_id

    files = list(config.traces_dir.glob("*.jsonl"))
    assert len(files) == 1
    lines = files[0].read_text().splitlines()
    assert len(lines) == 4
    spans = read_spans(config.traces_dir, trace_id)
    top = assert_connected(spans, trace_id)
    assert top["name"] == "load x.age" and top["attributes"] == {"cmp.batch_id": 7}
    assert top["service"] == "cmp-provisioning" and top["status"] == "UNSET"
    failed = next(s for s in spans if s["name"] == "store commit")
    assert failed["status"] == "ERROR" and "disk full" in failed["status_message"]
    assert {s["name"] for s in spans if s["parent_id"] == top["span_id"]} == {"shard 0", "shard 1", "store commit"}

    roots = span_tree(spans)
    assert len(roots) == 1 and sorted(c["name"] for c in roots[0]["children"]) == ["shard 0", "shard 1",
                                                                                  "store commit"]
    console = Console(record=True, width=120)
    console.print(render_tree(trace_id, roots))
    text = console.export_text()
    assert f"trace {trace_id}" in text and "load x.age" in text and "cmp.batch_id=7" in text
    assert "ERROR ValueError: disk full" in text and re.search(r"shard 1\s+\d+\.\d ms", text)


def test_span_files_older_than_the_retention_are_deleted_when_a_day_starts(tmp_path):
    from datetime import date, datetime, timezone

    from engine.telemetry.jsonl import JsonLinesSpanExporter, prune

    traces = tmp_path / "traces"
    traces.mkdir()
    today = datetime.now(timezone.utc).date()
    names = {days: f"spans-{date.fromordinal(today.toordinal() - days).isoformat()}-{100 + days}.jsonl"
             for days in (0, 13, 14, 15, 40)}
    for name in names.values():
        (traces / name).write_text("{}\n")
    (traces / "notes.jsonl").write_text("not a span file\n")

    exporter = JsonLinesSpanExporter(traces, retention_days=14)
    exporter._file()  # the first span of the day opens today's file
    exporter.shutdown()
    left = sorted(p.name for p in traces.iterdir())
    assert names[15] not in left and names[40] not in left
    assert {names[0], names[13], names[14], "notes.jsonl"} <= set(left)
    assert prune(traces, 0, today) == []  # 0 keeps everything
    assert sorted(p.name for p in prune(traces, 1, today)) == sorted([names[13], names[14]])
    assert sorted(p.name for p in traces.iterdir()) == sorted([names[0], f"spans-{today}-{os.getpid()}.jsonl",
                                                              "notes.jsonl"])


def test_off_costs_nothing_and_yields_no_trace():
    telemetry.configure(telemetry.Settings(exporter="none"))
    assert not telemetry.enabled()
    with telemetry.span("x") as s:
        assert telemetry.inject() is None and telemetry.trace_id_of(s) is None
    assert telemetry.span("y") is telemetry.span("z")  # one shared no-op


def _export_some_spans(settings: telemetry.Settings) -> str:
    telemetry.configure(settings)
    with telemetry.span("job provisioning", attributes={"cmp.execution_id": 3}) as root:
        with telemetry.span("send OCS chain"):
            pass
    telemetry.shutdown()  # flushes the batch processor
    return telemetry.trace_id_of(root)


def _decode(body: bytes, encoding: str | None):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    return ExportTraceServiceRequest.FromString(gzip.decompress(body) if encoding == "gzip" else body)


def _spans_of(requests) -> list[tuple[str, str, str]]:
    def service(resource) -> str:
        return next(a.value.string_value for a in resource.attributes if a.key == "service.name")

    return [(s.trace_id.hex(), s.name, service(rs.resource))
            for req in requests for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]


def test_otlp_http_reaches_a_local_receiver():
    from aiohttp import web
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    received = []

    async def traces(request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        received.append(_decode(await request.read(), request.headers.get("Content-Encoding")))
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        trace_id = _export_some_spans(telemetry.Settings(exporter="otlp", otlp_endpoint=f"http://127.0.0.1:{port}",
                                                         service_name="cmp-test"))
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    got = _spans_of(received)
    assert sorted(got) == sorted([(trace_id, "job provisioning", "cmp-test"), (trace_id, "send OCS chain", "cmp-test")])


def test_otlp_grpc_reaches_a_local_receiver():
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    received = []

    class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):
            received.append(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(ThreadPoolExecutor(2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Receiver(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        trace_id = _export_some_spans(telemetry.Settings(exporter="otlp", otlp_protocol="grpc",
                                                         otlp_endpoint=f"127.0.0.1:{port}"))
    finally:
        server.stop(None)
    assert sorted(n for t, n, _ in _spans_of(received) if t == trace_id) == ["job provisioning", "send OCS chain"]


# -- connected traces in one process ---------------------------------------------------------------


def test_a_load_is_one_trace_with_its_shards_and_commit(config, tmp_path):
    path = order_file(config, tmp_path / "orders.jsonl.age", 400)
    store = make_store(config.db_path)
    try:
        result = load_file(path, settings=load_settings(config), identities=home_identities(config), sink=store,
                           runner=InlineRunner(store))
        with store.cursor() as cur:
            trace_id = cur.execute("SELECT trace_id FROM batches WHERE batch_id = ?", [result.batch_id]).fetchone()[0]
    finally:
        store.close()
    spans = read_spans(config.traces_dir, trace_id)
    root = assert_connected(spans, trace_id)
    names = by_name(spans)
    assert root["name"] == "load orders.jsonl.age"
    assert root["attributes"]["cmp.batch_id"] == result.batch_id and root["attributes"]["cmp.records"] == 400
    shards = names["shard N"]
    assert len(shards) >= 3 and all(s["parent_id"] == root["span_id"] for s in shards)
    assert sum(s["attributes"]["cmp.valid"] for s in shards) == 400
    shard_ids = {s["span_id"] for s in shards}
    assert len(names["store add_shard"]) == len(shards)
    assert all(s["parent_id"] in shard_ids for s in names["store add_shard"])
    assert names["store commit"][0]["parent_id"] == root["span_id"]


def test_a_provisioning_run_is_one_trace_from_cli_to_netsim(config, tmp_path):
    import cli

    path = order_file(config, tmp_path / "few.jsonl.age", 6, seed=4)
    store = make_store(config.db_path)
    try:
        batch = load_file(path, settings=load_settings(config), identities=home_identities(config), sink=store,
                          runner=InlineRunner(store)).batch_id
        # what `cmpctl jobs run` does: a root span whose traceparent goes with the call to the Store
        with telemetry.span("cmpctl jobs run provisioning") as cli_span:
            doc = store.run_job("provisioning", {"batch": str(batch)}, key="trace-test",
                                traceparent=telemetry.inject())
        assert doc["status"] == "SUCCEEDED" and doc["trace_id"] == telemetry.trace_id_of(cli_span)
        with start_netsim() as sim:
            ep = EndpointConfig(url=sim.url, token=Secret(sim.token), timeout_seconds=5.0, max_in_flight=8,
                                max_retries=2, backoff_base_seconds=0.01, backoff_max_seconds=0.05,
                                lease_seconds=30.0)
            stats = asyncio.run(Adaptor(store, ep, flush_seconds=0.05).run(until_idle=True))
            seen = sim.traces()
        with store.cursor() as cur:
            statuses = dict(cur.execute("SELECT status, count(*) FROM network_requests GROUP BY 1").fetchall())
    finally:
        store.close()
    trace_id = doc["trace_id"]
    assert stats["http_calls"] > 0 and statuses.get("NC", 0) == stats["NC"]
    assert seen == {trace_id: stats["http_calls"]}  # every call carried this trace to netsim

    spans = read_spans(config.traces_dir, trace_id)
    root = assert_connected(spans, trace_id)
    names = by_name(spans)
    assert root["name"] == "cmpctl jobs run provisioning"
    job = names["job provisioning"][0]
    assert job["parent_id"] == root["span_id"] and job["attributes"]["cmp.execution_id"] == doc["execution_id"]
    chains = names["send OCS chain"]
    assert len(chains) == stats["chains"] and all(c["parent_id"] == job["span_id"] for c in chains)
    assert sum(c["attributes"].get("cmp.outcome.NC", 0) for c in chains) == stats["NC"]
    assert sum(c["attributes"]["cmp.requests"] for c in chains) == stats["requests"]

    # `cmpctl trace EXEC_ID` finds the trace id in the database (no engine running) and renders it
    result = CliRunner().invoke(cli.app, ["trace", str(doc["execution_id"]), "--home", str(config.home)])
    assert result.exit_code == 0, result.output
    assert f"trace {trace_id}" in result.output and "job provisioning" in result.output
    assert result.output.count("send OCS chain") == len(chains)
    as_json = CliRunner().invoke(cli.app, ["trace", str(doc["execution_id"]), "--home", str(config.home), "--json"])
    tree = json.loads(as_json.output)
    assert tree["trace_id"] == trace_id and tree["spans"] == len(spans)
    assert tree["tree"][0]["children"][0]["name"] == "job provisioning"
    assert len(tree["tree"][0]["children"][0]["children"]) == len(chains)
    load_tree = CliRunner().invoke(cli.app, ["trace", f"batch:{batch}", "--home", str(config.home)])
    assert load_tree.exit_code == 0 and "load few.jsonl.age" in load_tree.output and "store commit" in load_tree.output
    missing = CliRunner().invoke(cli.app, ["trace", "999", "--home", str(config.home)])
    assert missing.exit_code == 1 and missing.stderr.strip() == "cmpctl: no job execution 999"


# -- across Ray processes -------------------------------------------------------------------------



# Only the actors this trace goes through (each actor is a process to start): no scheduler (its
# safety-net run could take the batch first), no probes, extracts or bill cycle loads.
ONLY_LOAD_AND_OCS = {
    "CMP_SCHEDULER__ENABLED": "false",
    **{f"CMP_DAEMONS__{d}__ENABLED": "false" for d in ("LOAD_BILL_CYCLE", "EXTRACT_PROVISIONING", "EXTRACT_BILL_CYCLE")},
    **{f"CMP_PROBES__{p}__ENABLED": "false" for p in ("PROVISIONING_ERRORS", "ADAPTOR_ERRORS", "PROVISIONING_SLOTS",
                                                      "REQUESTS_WAITING", "EXTRACT_FILES")},
}


def test_cmpctl_load_is_one_trace_through_ray_to_netsim(ray_local, tmp_path):
    """`cmpctl load --wait` on a running engine: CLI → Load daemon → coordinator → shard tasks in
    Ray workers → Store commit → the provisioning job it triggers → the OCS adaptor → netsim."""
    import cli
    from actors.clients import StoreClient
    from actors.engine import start_engine, stop_engine

    with start_netsim(token="trace-token") as sim:
        config = load_config(tmp_path / "home", env={
            "CMP_LOAD__SHARD_BYTES": "65536", "CMP_DAEMONS__LOAD_PROVISIONING__POLL_SECONDS": "0.2",
            "CMP_NETWORK__OCS__URL": sim.url, "CMP_NETWORK__OCS__TOKEN": "trace-token",
            "CMP_DAEMONS__OCS_ADAPTOR__POLL_SECONDS": "0.2", **ONLY_LOAD_AND_OCS})
        from engine.home import init_home

        init_home(config.home)
        path = order_file(config, tmp_path / "orders.jsonl.age", 60, seed=5)
        handles = start_engine(config)
        store: StoreClient = handles.store_client
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("CMP_")}
            env.update({"CMP_LOAD__SHARD_BYTES": "65536", "CMP_NETWORK__OCS__URL": sim.url})
            loaded = CliRunner().invoke(cli.app, ["load", str(path), "--wait", "--json", "--home", str(config.home)],
                                        env=env)
            assert loaded.exit_code == 0, loaded.output
            batch_id = json.loads(loaded.output)["batch_id"]
            trace_id = store.show_batch(batch_id, 0)["trace_id"]
            job = wait_until(lambda: next((j for j in store.job_history("provisioning", 10)
                                           if j["batch_id"] == batch_id and j["status"] == "SUCCEEDED"), None),
                             "the provisioning job of the batch", 120.0)
            job = store.job_execution(job["execution_id"])

            def settled():
                rows = store.list_requests(target="OCS", limit=100000)
                return rows if rows and all(r["status"] == "NC" or r["not_before"] for r in rows) else None

            rows = wait_until(settled, "the OCS requests to be sent", 120.0)
            seen = sim.traces()
            store_metrics = store.metrics()
            daemon_metrics = ray_local.get(handles.daemons["load_provisioning"].metrics.remote())
            shown = CliRunner().invoke(cli.app, ["trace", f"batch:{batch_id}", "--home", str(config.home)], env=env)
        finally:
            stop_engine(config)
    sent = sum(r["status"] == "NC" for r in rows)
    assert job["trace_id"] == trace_id and HEX32.match(trace_id)
    assert seen.get(trace_id, 0) >= sent > 0  # the job's requests carried the load's trace to netsim

    spans = read_spans(config.traces_dir, trace_id)
    root = assert_connected(spans, trace_id)
    names = by_name(spans)
    assert root["name"] == "cmpctl load orders.jsonl.age"
    [inbound] = names["inbound orders.jsonl.age"]
    [load] = names["load orders.jsonl.age"]
    assert inbound["parent_id"] == root["span_id"] and load["parent_id"] == inbound["span_id"]
    shards = names["shard N"]
    assert len(shards) == 2 and all(s["parent_id"] == load["span_id"] for s in shards)
    assert {s["pid"] for s in shards}.isdisjoint({load["pid"], inbound["pid"], root["pid"]})  # Ray workers
    assert names["store commit"][0]["parent_id"] == load["span_id"]
    [job_span] = names["job provisioning"]
    assert job_span["parent_id"] == inbound["span_id"] and job_span["attributes"]["cmp.execution_id"] == job[
        "execution_id"]
    assert shown.exit_code == 0 and "job provisioning" in shown.output and "shard 1" in shown.output

    # Ray metrics, recorded where the numbers are known
    assert daemon_metrics["cmp_records_loaded{daemon=Load/Provisioning/FromGenericFormat}"] == 60
    assert store_metrics["cmp_job_runs{job=provisioning,status=SUCCEEDED}"] >= 1
    assert store_metrics["cmp_job_duration_seconds{job=provisioning,status=SUCCEEDED}:count"] >= 1
    assert store_metrics["cmp_network_requests{status=NC,target=OCS}"] == sent


def test_ray_metrics_record_inside_an_actor(ray_local):
    import ray

    @ray.remote
    class Recorder:
        def record(self):
            from actors import metrics

            metrics.record_load("Load/Provisioning/FromGenericFormat", 100, 7)
            metrics.record_load("Load/Provisioning/FromGenericFormat", 50, 0)
            metrics.record_requests("OCS", {"NC": 12, "NR": 2})
            metrics.record_job("provisioning", "SUCCEEDED", 1.5)
            metrics.record_probe_value("provisioning_normal", 0.02, "success")
            metrics.record_probe_value("provisioning_normal", 0.3, "severe")
            return metrics.snapshot(), sorted(metrics._metrics)

    actor = Recorder.remote()
    values, created = ray.get(actor.record.remote())  # the actor lives on until its metrics are exported
    assert values["cmp_records_loaded{daemon=Load/Provisioning/FromGenericFormat}"] == 150
    assert values["cmp_records_errored{daemon=Load/Provisioning/FromGenericFormat}"] == 7
    assert values["cmp_network_requests{status=NC,target=OCS}"] == 12
    assert values["cmp_network_requests{status=NR,target=OCS}"] == 2
    assert values["cmp_job_duration_seconds{job=provisioning,status=SUCCEEDED}:sum"] == 1.5
    assert values["cmp_probe_value{probe=provisioning_normal}"] == 0.3  # a gauge keeps the last
    assert values["cmp_probe_runs{outcome=severe,probe=provisioning_normal}"] == 1
    # the Ray metric objects exist in the actor's process, and the node's metrics agent exports
    # them for Prometheus (and the dashboard) once its next report comes in
    assert {"cmp_records_loaded", "cmp_network_requests", "cmp_job_duration_seconds", "cmp_probe_value"} <= set(created)
    import urllib.request

    port = ray._private.worker.global_worker.node.metrics_export_port

    def exported():
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        return [line for line in text.splitlines() if line.startswith("ray_cmp_probe_value{")
                and 'probe="provisioning_normal"' in line] or None

    [line] = wait_until(exported, "the probe gauge at the metrics endpoint", 60)
    assert line.endswith(" 0.3")
    ray.kill(actor)
