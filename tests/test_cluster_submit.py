"""Issue #7's "done when": a two-node Ray cluster, `cmpctl up --address`, the same submit twice → one run.

The cluster is real Ray processes on loopback (`ray start --head` and `ray start --address`, each
``--block`` in its own process group so that stopping it stops exactly what the test started),
with token authentication and its own temp dir; `cmpctl` runs as subprocesses, as an operator's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from engine.runtime import ensure_auth_token, free_port

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
KEY = "bill-cycle-2026-11-07"
# The job the test submits: reconciliation (issue #7) when this engine has it and it needs no
# parameters, else provisioning of the batch loaded below. Set CMP_TEST_SUBMIT_JOB to force one.
PREFERRED_JOB = "reconciliation"


def env() -> dict[str, str]:
    # As cluster.yaml does: token auth, and this venv first on PATH for Ray job entrypoints.
    return {**os.environ, "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "CMP_DAEMONS__LOAD_PROVISIONING__POLL_SECONDS": "0.2"}


def cmpctl(home: Path, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "cli", *args, "--home", str(home)], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, env=env())
    if check and proc.returncode != 0:
        raise AssertionError(f"cmpctl {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def ray_node(temp_dir: str, log: Path, *args: str) -> subprocess.Popen:
    cmd = [RAY, "start", "--block", "--node-ip-address", "127.0.0.1", "--temp-dir", temp_dir, "--num-cpus", "1",
           "--dashboard-agent-listen-port", str(free_port()), "--metrics-export-port", str(free_port()),
           "--disable-usage-stats", *args]
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env())


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def nodes_alive(address: str) -> int:
    snippet = ("import sys; from engine import runtime; import ray\n"
               "ray.init(address=sys.argv[1], log_to_driver=False)\n"
               "print(sum(1 for n in ray.nodes() if n['Alive']))\n")
    proc = subprocess.run([sys.executable, "-c", snippet, address], capture_output=True, text=True, cwd=REPO,
                          env=env(), timeout=120)
    return int(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head (no CPUs for tasks) and one worker node; yields (gcs address, dashboard URL)."""
    ensure_auth_token()  # Ray's own token file, as `cmpctl up` uses it
    logs = tmp_path_factory.mktemp("raylogs")
    temp_dir = tempfile.mkdtemp(prefix="cmpray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    port, dash = free_port(), free_port()
    procs = [ray_node(temp_dir, logs / "head.log", "--head", "--port", str(port), "--dashboard-host", "127.0.0.1",
                      "--dashboard-port", str(dash), "--ray-client-server-port", str(free_port()))]
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while nodes_alive(address) < 1:
            assert procs[0].poll() is None, (logs / "head.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the Ray head did not start"
            time.sleep(1)
        procs.append(ray_node(temp_dir, logs / "worker.log", "--address", address))
        while nodes_alive(address) < 2:
            assert procs[1].poll() is None, (logs / "worker.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the Ray worker node did not join"
            time.sleep(1)
        yield address, f"http://127.0.0.1:{dash}"
    finally:
        for proc in reversed(procs):  # worker first, then the head
            stop(proc)
        shutil.rmtree(temp_dir, ignore_errors=True)


def choose_job(home: Path) -> tuple[str, list[str]]:
    jobs = {j["name"]: j for j in json.loads(cmpctl(home, "jobs", "list", "--json").stdout)}
    forced = os.environ.get("CMP_TEST_SUBMIT_JOB")
    if forced != "provisioning" and (forced or PREFERRED_JOB) in jobs and not jobs[forced or PREFERRED_JOB]["params"]:
        return forced or PREFERRED_JOB, []
    # provisioning of a real loaded batch (the load already triggered it once; the submit re-runs it)
    orders = home.parent / "orders.jsonl.age"
    cmpctl(home, "gen", "orders", "--count", "200", "--seed", "7", "-o", str(orders))
    loaded = json.loads(cmpctl(home, "load", str(orders), "--wait", "--json").stdout)
    assert loaded["status"] == "loaded" and loaded["records"] == 200
    return "provisioning", ["--param", f"batch={loaded['batch_id']}"]


def test_up_on_a_cluster_submit_twice_one_run_status_down(cluster, tmp_path):
    address, dashboard = cluster
    home = tmp_path / "home"
    cmpctl(home, "init")
    up = json.loads(cmpctl(home, "up", "--address", address, "--json").stdout)
    try:
        assert up["dashboard"] == dashboard
        job, params = choose_job(home)

        submitted = cmpctl(home, "submit", job, *params, "--key", KEY, "--follow", "--json")
        token = (Path.home() / ".ray" / "auth_token").read_text().strip()
        assert token and token not in submitted.stdout + submitted.stderr  # never printed
        first = json.loads(submitted.stdout)
        assert first["status"] == "SUCCEEDED" and not first["existing"], first
        execution = first["execution"]
        assert execution["status"] == "SUCCEEDED" and execution["trigger"] == "submit"
        assert execution["idempotency_key"] == KEY and execution["job"] == job

        # The same key again: the first submission, followed to its end, not a second run.
        again = json.loads(cmpctl(home, "submit", job, *params, "--key", KEY, "--follow", "--json").stdout)
        assert again["existing"] and again["submission_id"] == first["submission_id"]
        assert again["execution"]["execution_id"] == execution["execution_id"]

        history = json.loads(cmpctl(home, "jobs", "history", job, "--json").stdout)
        assert [h["execution_id"] for h in history if h["trigger"] == "submit"] == [execution["execution_id"]]

        status = json.loads(cmpctl(home, "status", "--json").stdout)
        assert status["dashboard"] == dashboard and status["supervisor"] == "RUNNING"
        assert status["daemons"] and all(d["state"] == "RUNNING" for d in status["daemons"]), status["daemons"]
        assert all(a["state"] == "RUNNING" for a in status["actors"]), status["actors"]
        assert {a["name"] for a in status["actors"]} >= {"Store", "Load/Provisioning/FromGenericFormat"}
        assert status["running_jobs"] == [] and isinstance(status["alerts"], list)
    finally:
        down = cmpctl(home, "down", check=False)
    assert down.returncode == 0, down.stderr
    assert "Store" in down.stdout and "Supervisor" in down.stdout
    assert cmpctl(home, "status", check=False).returncode == 3  # not running any more
    assert nodes_alive(address) == 2  # `down` of a joined cluster leaves the cluster itself up
