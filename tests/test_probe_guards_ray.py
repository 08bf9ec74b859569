"""Probes can never stall the engine, on a real local Ray: each hostile query is refused and a
runaway one interrupted at its limit ("probe failed"), while an honest probe succeeds and a load
completes beside it; the batch sequence does not move."""

from __future__ import annotations

import time

import duckdb
import pytest

from actors.clients import nowait
from actors.engine import start_engine, stop_engine
from engine.config import load_config
from tests.test_load_ray import drop, make_home, order_file, wait_for_batches

pytestmark = pytest.mark.ray

#: long enough that a load (and the job it triggers) finishes inside it on a loaded machine
RUNAWAY_LIMIT = 20
HOSTILE = {
    "nextval": "SELECT max(nextval('seq_batch')) FROM range(1000)",
    "setval": "SELECT setval('seq_batch', 1)",
    "setting": "SELECT length(current_setting('temp_directory'))",
    "pg_settings": "SELECT count(*) FROM pg_catalog.pg_settings",
    "duckdb_settings": "SELECT count(*) FROM duckdb_settings()",
    "variable": "SELECT length(getvariable('x'))",
    "file": "SELECT count(*) FROM read_csv('/etc/passwd')",
}
PROBES = {**HOSTILE, "runaway": "SELECT count(*) FROM range(100000000000000)",
          "honest": "SELECT count(*) FROM batches"}


def probe_table(name: str, query: str) -> str:
    limit = RUNAWAY_LIMIT if name == "runaway" else 5
    # enabled = false: the Probes actor leaves them alone; the test runs each when it says
    return (f"\n[probes.{name}]\ntype = \"SQL\"\nquery = \"{query}\"\nsevere = 1e18\nenabled = false\n"
            f"timeout_seconds = {limit}\nrecipients = [\"log:\"]\n")


@pytest.fixture
def engine(ray_local, tmp_path):
    base = make_home(tmp_path, CMP_DAEMONS__EXTRACT_PROVISIONING__ENABLED="false",
                     CMP_DAEMONS__EXTRACT_BILL_CYCLE__ENABLED="false")  # only loads take batch numbers
    toml = base.home / "cmp.toml"
    toml.write_text(toml.read_text() + "".join(probe_table(n, q) for n, q in PROBES.items()))
    config = load_config(base.home, env={"CMP_DAEMONS__LOAD_PROVISIONING__POLL_SECONDS": "0.2",
                                         "CMP_SCHEDULES__PROVISIONING__ENABLED": "false",
                                         "CMP_DAEMONS__EXTRACT_PROVISIONING__ENABLED": "false",
                                         "CMP_DAEMONS__EXTRACT_BILL_CYCLE__ENABLED": "false"})
    handles = start_engine(config)
    yield config, handles.store_client
    stop_engine(config)


def test_hostile_and_runaway_probes_fail_while_the_engine_goes_on(engine):
    config, store = engine
    drop(config, "first.jsonl.age", order_file(config, 20, seed=1, identifier="first"))
    (first,) = wait_for_batches(store, 1)

    started = time.monotonic()
    runaway = nowait(store.run_probes)(config, ["runaway"])
    time.sleep(1.0)  # the runaway query is running in the Store
    honest_started = time.monotonic()
    (honest,) = store.run_probes(config, ["honest"])
    honest_took = time.monotonic() - honest_started
    assert honest["outcome"] == "success" and honest["results"][0]["value"] == 1.0
    drop(config, "second.jsonl.age", order_file(config, 20, seed=2, identifier="second"))
    batches = wait_for_batches(store, 2, timeout=RUNAWAY_LIMIT)
    load_done = time.monotonic() - started
    assert not runaway.done(), "the load should have finished while the runaway probe still ran"

    (ended,) = runaway.result(timeout=RUNAWAY_LIMIT + 30)
    runaway_took = time.monotonic() - started
    assert ended["outcome"] == "probe failed" and f"time limit of {RUNAWAY_LIMIT} s" in ended["error"]
    assert RUNAWAY_LIMIT - 1 <= runaway_took < RUNAWAY_LIMIT + 15, runaway_took

    hostile_started = time.monotonic()
    refused = store.run_probes(config, list(HOSTILE))
    assert time.monotonic() - hostile_started < 30
    assert {r["probe"]: r["outcome"] for r in refused} == {name: "probe failed" for name in HOSTILE}
    assert all("may" in r["error"] for r in refused), [r["error"] for r in refused]

    drop(config, "third.jsonl.age", order_file(config, 20, seed=3, identifier="third"))
    third = max(b["batch_id"] for b in wait_for_batches(store, 3))
    second = max(b["batch_id"] for b in batches)
    assert (first["batch_id"], second, third) == (first["batch_id"], first["batch_id"] + 1, first["batch_id"] + 2)
    print(f"honest probe beside a runaway: {honest_took:.2f} s; load beside it done after {load_done:.1f} s; "
          f"runaway ended after {runaway_took:.1f} s (limit {RUNAWAY_LIMIT} s)")

    stop_engine(config)  # then the sequence itself, read from the file: three loads, nothing else
    with duckdb.connect(str(config.db_path), read_only=True) as con:
        (last,) = con.execute("SELECT last_value FROM duckdb_sequences() WHERE sequence_name = 'seq_batch'").fetchone()
    assert last == third
