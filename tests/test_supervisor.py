"""The Supervisor under `cmpctl up`: killed engine actors come back, `status` shows it, no work is lost.

A real local Ray head started by `cmpctl up` (subprocesses, as an operator would run it); the
actors' worker processes are killed with SIGKILL, as the OOM killer or a crash would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import age, runtime, synth  # runtime first: it sets RAY_AUTH_MODE before Ray is imported

import ray  # noqa: E402

from actors.clients import StoreClient
from actors.supervisor import supervisor_report
from engine.config import load_config
from engine.errors import EngineError
from engine.home import home_recipient
from engine.runtime import free_port
from tests import waiting

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[1]
LOAD = "Load/Provisioning/FromGenericFormat"
ENV = {"CMP_DAEMONS__LOAD_PROVISIONING__POLL_SECONDS": "0.2", "RAY_USAGE_STATS_ENABLED": "0"}


def cmpctl(home: Path, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "cli", *args, "--home", str(home)], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, env={**os.environ, **ENV})
    if check and proc.returncode != 0:
        raise AssertionError(f"cmpctl {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def status(home: Path) -> dict:
    """`cmpctl status --json`, as an operator or a script reads it."""
    return json.loads(cmpctl(home, "status", "--json").stdout)


def quick_status(config) -> dict:
    """The same facts, read in this process (polling by subprocess costs seconds a call)."""
    return {"actors": supervisor_report(config) or [], **StoreClient.lookup(config.ray.namespace).status()}


def actor(doc: dict, name: str) -> dict:
    [entry] = [a for a in doc["actors"] if a["name"] == name]
    return entry


def daemon_state(doc: dict, name: str) -> str:
    return {d["name"]: d["state"] for d in doc["daemons"]}[name]


def wait_until(predicate, what: str):
    # EngineError: the Store is restarting; ValueError: the actor is being recreated.
    return waiting.wait_until(predicate, what, 90.0, every=0.3, tolerate=(EngineError, ValueError))


@pytest.fixture(scope="module")
def engine_up(tmp_path_factory):
    home = tmp_path_factory.mktemp("sup") / "home"
    cmpctl(home, "init")
    toml = home / "cmp.toml"
    toml.write_text(toml.read_text().replace("dashboard_port = 8265", f"dashboard_port = {free_port()}"))
    try:
        cmpctl(home, "up", "--json")
        config = load_config(home, env=ENV)
        runtime.connect(config)
        yield home, config
    finally:
        ray.shutdown()
        cmpctl(home, "down", check=False)


def order_file(config, tmp: Path, count: int, seed: int) -> Path:
    path = tmp / f"orders-{seed}.jsonl.age"
    with open(path, "wb") as out, age.open_encrypt(out, [home_recipient(config)]) as sink:
        synth.write_orders(sink, count, seed=seed, identifier=f"sup-{seed}")
    return path


def drop(home: Path, path: Path) -> None:
    inbox = home / "inbound" / "load_provisioning"
    tmp = inbox / f".{path.name}.part"
    tmp.write_bytes(path.read_bytes())
    tmp.rename(inbox / path.name)  # appears whole, as a producer should deliver it


def loaded_once(config, name: str) -> bool:
    batches = StoreClient.lookup(config.ray.namespace).list_batches(1000)
    return [b["file_name"] for b in batches].count(name) == 1


def test_killed_daemon_is_restarted_and_its_file_loaded_exactly_once(engine_up, tmp_path):
    home, config = engine_up
    before = actor(quick_status(config), LOAD)
    assert before["state"] == "RUNNING" and before["pid"] > 0
    orders = order_file(config, tmp_path, 3000, seed=21)
    drop(home, orders)
    time.sleep(0.5)  # the daemon has seen the file (size stable after two 0.2 s polls) and is loading it
    os.kill(before["pid"], signal.SIGKILL)

    wait_until(lambda: (d := quick_status(config)) and actor(d, LOAD)["restarts"] > before["restarts"]
               and actor(d, LOAD)["state"] == "RUNNING" and daemon_state(d, LOAD) == "RUNNING",
               "the killed Load daemon to be RUNNING again")
    doc = status(home)  # what the operator sees
    assert actor(doc, LOAD)["state"] == "RUNNING" and actor(doc, LOAD)["pid"] != before["pid"]
    assert actor(doc, LOAD)["actor_id"] == before["actor_id"]  # Ray restarted the same actor
    assert daemon_state(doc, LOAD) == "RUNNING"
    wait_until(lambda: loaded_once(config, orders.name), "the file dropped around the kill to be loaded")
    # The file is archived after the commit, and only once the restarted daemon's own load of it
    # (refused at its commit as a duplicate) has ended: that can take a whole second load.
    inbox = home / "inbound" / "load_provisioning"
    wait_until(lambda: not list(inbox.glob("*.jsonl.age")) and list(config.archive_dir.rglob(f"*{orders.name}")),
               "the loaded file to be archived")
    time.sleep(2)  # ten more polls: nothing loads it a second time
    assert loaded_once(config, orders.name)
    assert len(list(config.archive_dir.rglob(f"*{orders.name}"))) == 1  # archived as b<batch>-<name>


def test_killed_store_is_restarted_and_loading_goes_on(engine_up, tmp_path):
    home, config = engine_up
    before = actor(quick_status(config), "Store")
    os.kill(before["pid"], signal.SIGKILL)
    orders = order_file(config, tmp_path, 200, seed=22)
    drop(home, orders)  # dropped while the Store is down: the daemon loads it once the Store is back
    wait_until(lambda: (d := quick_status(config)) and actor(d, "Store")["restarts"] > before["restarts"]
               and all(a["state"] == "RUNNING" for a in d["actors"]),
               "the Store and every actor to be RUNNING again")
    wait_until(lambda: loaded_once(config, orders.name), "the file dropped during the Store's restart to be loaded")
    doc = status(home)
    assert actor(doc, "Store")["pid"] != before["pid"] and all(a["state"] == "RUNNING" for a in doc["actors"])
    assert all(d["state"] == "RUNNING" for d in doc["daemons"] if d["name"].startswith("Load/"))


def test_actor_killed_for_good_is_recreated_by_the_supervisor(engine_up):
    home, config = engine_up
    before = actor(quick_status(config), LOAD)
    # no_restart=True: Ray will not bring it back (as after a spent restart budget); only the Supervisor can.
    ray.kill(ray.get_actor(LOAD, namespace=config.ray.namespace), no_restart=True)
    wait_until(lambda: (d := quick_status(config)) and actor(d, LOAD)["actor_id"] != before["actor_id"]
               and actor(d, LOAD)["state"] == "RUNNING" and daemon_state(d, LOAD) == "RUNNING",
               "the Supervisor to recreate the daemon")
    doc = status(home)
    assert actor(doc, LOAD)["state"] == "RUNNING" and actor(doc, LOAD)["restarts"] == 0  # a new actor
    assert daemon_state(doc, LOAD) == "RUNNING"
    cmpctl(home, "up", "--json")  # idempotent: finds the running Supervisor and its actors
    assert {a["actor_id"] for a in quick_status(config)["actors"]} == {a["actor_id"] for a in doc["actors"]}
