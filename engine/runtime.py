"""The one place in engine/ that imports Ray: starting, joining and describing a cluster.

Everything else in engine/ is plain Python; actors/ wraps it. The address of the Ray that
`cmpctl up` started or joined is kept in ``<home>/run/ray.json`` so later commands find it.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

# Ray reads its auth mode when it is imported: the engine's clusters use token authentication
# (the default of local clusters since Ray 2.59), so every process that joins one must say so
# before the first `import ray`. RAY_AUTH_MODE=disabled in the environment opts out.
os.environ.setdefault("RAY_AUTH_MODE", "token")

import ray  # noqa: E402

from engine.config import Config
from engine.errors import EngineNotRunning
from engine.processes import end_session, live_session_members

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


def start_local_head(config: Config, warn: Callable[[str], None] = lambda line: None) -> RayRun:
    """Start a local Ray head that outlives this process, with the dashboard on loopback.

    ``ray start --head --block`` leads a session of its own; ``down`` ends that session (every
    process of this head, and no other Ray on the machine). The dashboard port must be free:
    if the configured one is taken, another is used and ``warn`` says so; and the URL returned
    is the one this head's dashboard registered, or none, never one that answers for another.
    """
    port = free_port()
    dash_port = dashboard_port(config, warn)
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
                end_session(proc.pid, grace=2.0)
                raise EngineNotRunning(f"the local Ray head did not come up in 90 s: {exc}; see {log}") from None
            time.sleep(0.25)
    address = ray.get_runtime_context().gcs_address
    url = registered_dashboard(timeout=60.0)
    if not url:
        warn(f"the Ray dashboard did not start (port {dash_port}); see {log}")
    elif not url.endswith(f":{dash_port}"):
        warn(f"the Ray dashboard is on {url}, not on port {dash_port}")
    return RayRun(address, url, owned=True, head_pid=proc.pid)


def dashboard_port(config: Config, warn: Callable[[str], None]) -> int:
    """The configured dashboard port if nothing listens there, else a free one (said with ``warn``)."""
    wanted = config.ray.dashboard_port
    if not wanted:
        return free_port()
    with socket.socket() as sock:
        try:
            sock.bind((config.ray.dashboard_host, wanted))
            return wanted
        except OSError as exc:
            taken = exc
    chosen = free_port()
    warn(f"dashboard port {wanted} is in use ({taken.strerror}); this engine's dashboard takes port {chosen} "
         f"(set ray.dashboard_port to choose another)")
    return chosen


def registered_dashboard(timeout: float) -> str:
    """The URL this cluster's own dashboard registered once it was serving ("" if it did not
    within ``timeout``): it comes from the head's GCS, so it is never another head's."""
    deadline = time.monotonic() + timeout
    while True:
        url = _url(None)
        if url or time.monotonic() > deadline:
            return url
        time.sleep(0.5)


def ensure_auth_token() -> None:
    """Use Ray's token authentication, with the token where Ray itself looks for it.

    ``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` win when set; else Ray's default file, which
    is generated (never printed) when missing. Clients joining the cluster need the same mode.
    The token gives full control of the cluster: the file is the user's alone (0600, made so
    under umask 077, and tightened if an earlier version left it readable by others).
    """
    if os.environ["RAY_AUTH_MODE"] != "token" or os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return
    token = Path.home() / ".ray" / "auth_token"
    if not token.exists():
        subprocess.run([str(Path(sys.executable).with_name("ray")), "get-auth-token", "--generate"],
                       capture_output=True, check=False, umask=0o077)  # output is the token: never shown
    if token.exists() and token.stat().st_mode & 0o077:
        token.chmod(0o600)


def stop_local_head(run: RayRun, grace: float = 2.0) -> list[int]:
    """End the head that `up` started: every process of its session (module engine.processes).

    By now the engine is drained and the Store has closed the database: nothing of ours is left
    to save. Ray's own processes take their time over SIGTERM (the raylet alone ~10 s here, ~40 s
    for the whole group), so after ``grace`` seconds the rest is killed. Returns the pids killed.
    """
    if ray.is_initialized():
        ray.shutdown()
    return end_session(run.head_pid, grace) if run.head_pid else []


def head_alive(run: RayRun) -> bool:
    """Does the `ray start` process of an owned head still run (not merely its leftovers)?"""
    return bool(run.head_pid) and run.head_pid in live_session_members(run.head_pid)


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
