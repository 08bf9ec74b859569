"""The Load daemons on a real local Ray: actors, sharded loads, and crashes mid-load."""

from __future__ import annotations

import io
import os
import signal
import threading
import time

import pytest

from actors.clients import StoreClient
from actors.engine import start_engine, stop_engine
from engine import age, synth
from engine.config import load_config
from engine.errors import StoreBusy
from engine.home import home_recipient
from tests.waiting import wait_until

pytestmark = pytest.mark.ray


#: the daemons an engine runs when no network URL is configured (no OCS or Openet adaptor)
ENGINE_WITHOUT_NETWORK = {
    "Load/Provisioning/FromGenericFormat", "Load/Provisioning/FromGenericFormat(BillCycleChange)",
    "Extract/Provisioning/ToGenericFormat", "Extract/Provisioning/ToGenericFormat(BillCycleChange)",
    "Scheduler", "Probes",
}


def make_home(tmp_path, **env):
    from engine.home import init_home

    home = init_home(tmp_path / "home").home
    # The per-minute provisioning sweep would race the batch trigger these tests watch.
    config = load_config(home, env={"CMP_DAEMONS__LOAD_PROVISIONING__POLL_SECONDS": "0.2",
                                    "CMP_DAEMONS__LOAD_BILL_CYCLE__POLL_SECONDS": "0.2",
                                    "CMP_SCHEDULES__PROVISIONING__ENABLED": "false", **env})
    return config


def order_file(config, count, *, seed=1, bad_share=0.0, identifier=None) -> bytes:
    out = io.BytesIO()
    with age.open_encrypt(out, [home_recipient(config)]) as sink:
        synth.write_orders(sink, count, seed=seed, bad_share=bad_share, identifier=identifier)
    return out.getvalue()


def drop(config, name, data, daemon="load_provisioning"):
    folder = config.inbound_dir(daemon)
    tmp = folder / f".{name}.part"
    tmp.write_bytes(data)
    tmp.rename(folder / name)


def wait_for_batches(store: StoreClient, n: int, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            batches = store.list_batches(100)
        except StoreBusy:  # the Store is restarting
            batches = []
        if len(batches) >= n:
            return batches
        time.sleep(0.2)
    raise AssertionError(f"expected {n} batches, got {store.list_batches(100)}")


@pytest.fixture
def engine(ray_local, tmp_path):
    config = make_home(tmp_path, CMP_LOAD__SHARD_BYTES="256KiB")
    handles = start_engine(config)
    yield config, handles
    stop_engine(config)


def test_daemons_are_named_and_load_a_sharded_file(engine):
    config, handles = engine
    store = handles.store_client
    names = {d["name"]: d["state"] for d in store.list_daemons()}
    assert names == dict.fromkeys(ENGINE_WITHOUT_NETWORK, "RUNNING")  # no network configured
    data = order_file(config, 4000, bad_share=0.02, identifier="ray-1")
    assert len(data) > 4 * 256 * 1024  # several shards
    drop(config, "orders.jsonl.age", data)
    [batch] = wait_for_batches(store, 1)
    assert batch["records"] == 4000 and batch["error_records"] > 0
    assert batch["valid_records"] + batch["error_records"] == 4000
    # The daemon moves the file after the commit (a crash in between is finished by the next poll).
    archived = config.archive_dir / f"b{batch['batch_id']}-orders.jsonl.age"
    wait_until(archived.exists, f"{archived} to be archived", 30)
    # The committed batch triggers the provisioning job, which runs once in the Store.
    deadline = time.monotonic() + 60
    while (trig := store.show_batch(batch["batch_id"])["triggers"][0])["status"] != "DONE":
        assert time.monotonic() < deadline, trig
        time.sleep(0.2)
    assert trig["job"] == "provisioning"
    execution = store.job_execution(trig["execution_id"])
    assert execution["status"] == "SUCCEEDED" and execution["trigger"] == "batch"
    assert execution["records_read"] == batch["valid_records"]
    assert execution["records_ok"] + execution["records_error"] == batch["valid_records"]
    again = store.run_job("provisioning", {"batch": str(batch["batch_id"])}, key="manual-again")
    assert again["records_ok"] == 0 and again["result"]["already_provisioned"] == execution["records_ok"]


def _kill_store_when_loading(store_handle, stop: threading.Event):
    """Kill the Store's process as soon as it holds an open load (mid-load)."""
    client = StoreClient(store_handle)
    while not stop.is_set():
        try:
            if client.load_progress():
                os.kill(client.pid(), signal.SIGKILL)
                return True
        except Exception:
            pass
        time.sleep(0.01)
    return False


def test_store_killed_mid_load_then_loaded_exactly_once(engine):
    config, handles = engine
    store = handles.store_client
    data = order_file(config, 20000, seed=2, identifier="crash-store")
    stop = threading.Event()
    killed = []
    t = threading.Thread(target=lambda: killed.append(_kill_store_when_loading(handles.store, stop)))
    t.start()
    drop(config, "big.jsonl.age", data)
    try:
        [batch] = wait_for_batches(store, 1, timeout=180)
    finally:
        stop.set()
        t.join()
    assert killed == [True]
    assert batch["records"] == 20000 and batch["valid_records"] == 20000
    inbox = config.inbound_dir("load_provisioning")
    wait_until(lambda: not list(inbox.glob("*.jsonl.age")), "the loaded file to leave the inbound folder", 30)
    time.sleep(1.0)  # a second commit would show up by now
    assert len(store.list_batches()) == 1


def running_shard_workers() -> list[int]:
    """PIDs of Ray workers executing a shard task now (Ray titles them ``ray::shard_task``)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                    if fh.read().startswith(b"ray::shard_task"):
                        pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_shard_worker_killed_mid_load_then_loaded_exactly_once(engine):
    config, handles = engine
    store = handles.store_client
    data = order_file(config, 30000, seed=3, identifier="crash-worker")
    drop(config, "big2.jsonl.age", data)
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline:
        for pid in running_shard_workers():
            os.kill(pid, signal.SIGKILL)
            killed = pid
            break
        time.sleep(0.01)
    assert killed, "no running shard task was seen"
    [batch] = wait_for_batches(store, 1, timeout=180)
    assert batch["records"] == 30000 and batch["valid_records"] == 30000
