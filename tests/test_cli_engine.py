"""cmpctl up / load / batches / daemons / down against a real local Ray head (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import sys
from pathlib import Path

import pytest

from tests.test_load_ray import ENGINE_WITHOUT_NETWORK

from engine.runtime import free_port

pytestmark = pytest.mark.ray

CMPCTL = [sys.executable, "-m", "cli"]
REPO = Path(__file__).resolve().parents[1]


def cmpctl(home: Path, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if k != "CMP_DEBUG"},
           "CMP_DAEMONS__LOAD_PROVISIONING__POLL_SECONDS": "0.2", "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.run([*CMPCTL, *args, "--home", str(home)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"cmpctl {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli") / "home"
    cmpctl(home, "init")
    (home / "cmp.toml").write_text((home / "cmp.toml").read_text().replace(
        "dashboard_port = 8265", f"dashboard_port = {free_port()}"))
    up = cmpctl(home, "up", "--json")
    yield home, json.loads(up.stdout), up.stderr
    cmpctl(home, "down", check=False)


def test_load_before_up_exits_3(tmp_path):
    home = tmp_path / "home"
    cmpctl(home, "init")
    cmpctl(home, "gen", "orders", "--count", "5", "-o", str(tmp_path / "o.jsonl.age"))
    proc = cmpctl(home, "load", str(tmp_path / "o.jsonl.age"), check=False)
    assert proc.returncode == 3
    assert "cmpctl up" in proc.stderr and "Traceback" not in proc.stderr


def test_up_load_batches_down(running, tmp_path):
    home, up, _ = running
    # no network configured: every daemon but the two transmission adaptors
    assert {d["name"] for d in up["daemons"]} == ENGINE_WITHOUT_NETWORK
    assert up["dashboard"].startswith("http://127.0.0.1:")
    orders = tmp_path / "orders.jsonl.age"
    cmpctl(home, "gen", "orders", "--count", "300", "--bad-share", "0.05", "--seed", "4", "-o", str(orders))
    loaded = json.loads(cmpctl(home, "load", str(orders), "--wait", "--json").stdout)
    assert loaded["status"] == "loaded" and loaded["records"] == 300 and loaded["errors"] > 0
    again = cmpctl(home, "load", str(orders), "--wait", check=False)
    assert again.returncode == 4
    assert f"batch {loaded['batch_id']}" in again.stderr
    batches = json.loads(cmpctl(home, "batches", "list", "--json").stdout)
    # one inbound batch; the Extract daemon may have added an outbound one (insurance by file)
    assert [b["batch_id"] for b in batches if b["direction"] == "Inbound"] == [loaded["batch_id"]]
    assert {b["direction"] for b in batches} <= {"Inbound", "Outbound"}
    shown = json.loads(cmpctl(home, "batches", "show", str(loaded["batch_id"]), "--errors", "--json").stdout)
    load_errors = [e for e in shown["errors"] if e["source"] == "load"]
    assert len(load_errors) == loaded["errors"] and all(e["reasons"] for e in shown["errors"])
    # Others, if any, are business-rule errors of the provisioning job the batch triggered.
    assert {e["source"] for e in shown["errors"]} <= {"load", "provisioning"}
    # The provisioning job the batch triggered wrote the network requests (no OCS configured
    # here, so they wait in UN); the operator can read and act on them.
    deadline = time.monotonic() + 120
    while len(requests := json.loads(cmpctl(home, "requests", "list", "--status", "UN", "--limit", "5",
                                            "--json").stdout)) < 5:
        assert time.monotonic() < deadline, "the triggered provisioning job wrote no requests"
        time.sleep(1)
    assert len(requests) == 5 and all(r["status"] == "UN" for r in requests)
    shown = json.loads(cmpctl(home, "requests", "show", str(requests[0]["request_id"]), "--json").stdout)
    assert [h["status"] for h in shown["history"]] == ["UN"]
    closed = json.loads(cmpctl(home, "requests", "close", str(requests[0]["request_id"]), "--reason",
                               "done by hand", "--json").stdout)
    assert closed["status"] == "NC"
    shown = json.loads(cmpctl(home, "requests", "show", str(requests[0]["request_id"]), "--json").stdout)
    assert "done by hand" in shown["history"][-1]["note"]
    assert cmpctl(home, "requests", "close", "1", "--reason", " ", check=False).returncode == 2
    # A manual run of the job on the same batch creates nothing twice; the same key returns it.
    batch_param = f"batch={loaded['batch_id']}"
    rerun = json.loads(cmpctl(home, "jobs", "run", "provisioning", "--param", batch_param, "--key", "k1",
                              "--wait", "--json").stdout)
    assert rerun["status"] == "SUCCEEDED" and rerun["records_ok"] == 0
    same = json.loads(cmpctl(home, "jobs", "run", "provisioning", "--param", batch_param, "--key", "k1",
                             "--json").stdout)
    assert same["execution_id"] == rerun["execution_id"]
    assert cmpctl(home, "jobs", "run", "nosuchjob", check=False).returncode == 2
    daemons = json.loads(cmpctl(home, "daemons", "list", "--json").stdout)
    assert all(d["state"] == "RUNNING" and d["last_poll_at"] for d in daemons)


def test_commands_that_join_ray_print_nothing_of_rays_on_stderr(running):
    """Every ray.init logs "Connecting to existing Ray cluster…" at INFO on stderr: an operator's
    stderr is for cmpctl's own errors, so Ray's lines show only with --debug."""
    home, _, up_stderr = running
    assert up_stderr == ""  # starts a head, joins it, starts the Supervisor and the actors
    for args in (("status", "--json"), ("status",), ("daemons", "list"), ("jobs", "history", "--limit", "1"),
                 ("probes", "list", "--json")):
        proc = cmpctl(home, *args)
        assert proc.stderr == "", (args, proc.stderr)
    loud = cmpctl(home, "--debug", "status", "--json")
    assert "Connecting to existing Ray cluster" in loud.stderr  # they are there, and --debug shows them
    assert json.loads(loud.stdout)["supervisor"] == "RUNNING"  # stdout still one JSON document


def test_ports_for_the_local_head_are_free_and_outside_the_ephemeral_range(monkeypatch):
    """`cmpctl up` picks the head's ports itself and Ray binds them a moment later: none may come
    from the range the kernel gives outgoing connections (one of Ray's own could take it first)."""
    import random
    import socket

    range_file = Path("/proc/sys/net/ipv4/ip_local_port_range")
    if not range_file.exists():
        pytest.skip("no Linux ephemeral port range to stay out of")
    low, high = map(int, range_file.read_text().split())
    ports = [free_port() for _ in range(50)]
    assert all(20000 <= p < low or p > high for p in ports), ports
    with socket.socket() as held:  # a port in use is passed over
        held.bind(("127.0.0.1", ports[0]))
        held.listen()
        other = next(p for p in ports if p != ports[0])
        monkeypatch.setattr(random, "sample", lambda population, k: [ports[0], other])
        assert free_port() == other
