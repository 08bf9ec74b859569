"""The one place in engine/ that imports Ray: starting, joining and describing a cluster.

Everything else in engine/ is plain Python; actors/ wraps it. The address of the Ray that
`cmpctl up` started or joined is kept in ``<home>/run/ray.json`` so later commands find it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# Ray reads its auth mode when it is imported: the engine's clusters use token authentication
# (the default of local clusters since Ray 2.59), so every process that joins one must say so
# before the first `import ray`. RAY_AUTH_MODE=disabled in the environment opts out.
os.environ.setdefault("RAY_AUTH_MODE", "token")

import ray  # noqa: E402

from engine.config import Config
from engine.errors import EngineNotRunning

RUN_FILE = Path("run") / "ray.json"


@dataclass(frozen=True)
class RayRun:
    address: str  # GCS address, host:port
    dashboard_url: str
    owned: bool  # started by `cmpctl up` (and stopped by `down`)
    head_pid: int = 0  # the `ray start --block` process of an owned head


def run_file(config: Config) -> Path:
    return config.home / RUN_FILE


def read_run(config: Config) -> RayRun | None:
    path = run_file(config)
    if not path.exists():
        return None
    return RayRun(**json.loads(path.read_text()))


def write_run(config: Config, run: RayRun) -> None:
    path = run_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(run)))


def clear_run(config: Config) -> None:
    run_file(config).unlink(missing_ok=True)


def start_local_head(config: Config) -> RayRun:
    """Start a local Ray head that outlives this process, with the dashboard on loopback.

    ``ray start --head --block`` runs in its own session; stopping that one process (``down``)
    stops the head's raylet, GCS and workers, and no other Ray on the machine.
    """
    port = free_port()
    dash_port = config.ray.dashboard_port or free_port()
    log = config.home / "run" / "ray-head.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
        "--node-ip-address", "127.0.0.1", "--port", str(port),
        "--dashboard-host", config.ray.dashboard_host,
        "--dashboard-port", str(dash_port),
        # Ray's fixed defaults (agent 52365, client 10001) clash with any other Ray on the
        # machine; the Jobs API (`cmpctl submit`) needs this node's agent up.
        "--dashboard-agent-listen-port", str(free_port()),
        "--ray-client-server-port", str(free_port()),
        "--disable-usage-stats",
    ]
    if config.ray.num_cpus:
        cmd += ["--num-cpus", str(config.ray.num_cpus)]
    ensure_auth_token()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    # Ray job entrypoints (`cmpctl submit`) run `python` from the PATH of the Ray processes:
    # make it this environment's Python, as cluster.yaml does on a cluster.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise EngineNotRunning(f"the local Ray head exited at start (code {proc.returncode}); see {log}")
        try:
            ray.init(address=address, namespace=config.ray.namespace, log_to_driver=False)
            break
        except (ConnectionError, RuntimeError) as exc:
            if time.monotonic() > deadline:
                proc.terminate()
                raise EngineNotRunning(f"the local Ray head did not come up in 90 s: {exc}; see {log}") from None
            time.sleep(0.25)
    address = ray.get_runtime_context().gcs_address
    return RayRun(address, f"http://{config.ray.dashboard_host}:{dash_port}", owned=True, head_pid=proc.pid)


def ensure_auth_token() -> None:
    """Use Ray's token authentication, with the token where Ray itself looks for it.

    ``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` win when set; else Ray's default file, which
    is generated (never printed) when missing. Clients joining the cluster need the same mode.
    """
    if os.environ["RAY_AUTH_MODE"] != "token" or os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return
    if not (Path.home() / ".ray" / "auth_token").exists():
        subprocess.run([str(Path(sys.executable).with_name("ray")), "get-auth-token", "--generate"],
                       capture_output=True, check=False)  # output is the token: never shown


def stop_local_head(run: RayRun, timeout: float = 2.0) -> None:
    """Stop the head that `up` started (its whole process group).

    By now the engine is drained and the Store has closed the database: nothing of ours is left
    to save. Ray's own processes take their time over SIGTERM (the raylet alone ~10 s here, ~40 s
    for the whole group), so after ``timeout`` the rest of the group is killed.
    """
    if ray.is_initialized():
        ray.shutdown()
    if not run.head_pid:
        return
    try:
        os.killpg(run.head_pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _group_alive(run.head_pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(run.head_pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    """Is any process of the group still running? Zombies do not count: the `cmpctl up` that
    started the head has exited, and a container's init may never reap them."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp …
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


#: Ray's worker processes take ports 10002-19999 (its --min/max-worker-port defaults)
_PICK_FROM = 20000


def free_port() -> int:
    """A free loopback port for a Ray process to bind a moment later.

    Not one the kernel hands out (``bind(0)``): those come from the ephemeral range that every
    outgoing connection also draws from, so one of Ray's own connections could take the port
    before Ray binds it. Above Ray's worker ports and below the ephemeral range instead.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):  # not Linux: the kernel's choice
        low = 0
    for port in random.sample(range(_PICK_FROM, low), min(200, max(low - _PICK_FROM, 0))):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connect(config: Config, address: str | None = None) -> RayRun:
    """Join the Ray of ``address``, of the home's run file, or of ``ray.address``; else raise."""
    if ray.is_initialized():
        run = read_run(config)
        return run or RayRun(ray.get_runtime_context().gcs_address, "", owned=False)
    run = read_run(config)
    target = address or (run.address if run else "") or config.ray.address
    if not target:
        raise EngineNotRunning("the engine is not running", hint="start it with `cmpctl up`")
    try:
        context = ray.init(address=target, namespace=config.ray.namespace, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise EngineNotRunning(f"cannot reach Ray at {target}: {exc}", hint="start the engine with `cmpctl up`") from None
    return run or RayRun(ray.get_runtime_context().gcs_address, _url(context.dashboard_url), owned=False)


def _url(address: str | None) -> str:
    if not address:  # ask the cluster where its dashboard registered
        from ray._private import ray_constants
        from ray.experimental.internal_kv import _internal_kv_get

        raw = _internal_kv_get(ray_constants.DASHBOARD_ADDRESS, namespace=ray_constants.KV_NAMESPACE_DASHBOARD)
        address = raw.decode() if raw else ""
    if not address:
        return ""
    return address if address.startswith("http") else f"http://{address}"
