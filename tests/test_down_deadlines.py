"""`cmpctl down` always finishes: every step has a deadline, what does not stop is killed, and
the local Ray head that `up` started is gone with every process of its session. `cmpctl up`
never shows a dashboard URL that belongs to someone else. Real `cmpctl up`/`down` subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from engine.processes import live_session_members
from engine.runtime import free_port
from tests.test_cli_engine import cmpctl

pytestmark = pytest.mark.ray

DEADLINES = {"supervisor_seconds": 5, "daemons_seconds": 6, "store_seconds": 6, "ray_head_seconds": 2}
#: the sum of the deadlines (the Store's counts twice: claims, then its shutdown), and room for
#: Ray's own calls on a loaded machine
BUDGET = sum(DEADLINES.values()) + DEADLINES["store_seconds"] + 45


def _answers_http(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except urllib.error.HTTPError:
        return True  # an answer (e.g. 401 without the token) is a server
    except OSError:
        return False
    return True


def test_down_finishes_on_a_stuck_engine_and_leaves_no_ray_process(tmp_path: Path):
    home = tmp_path / "home"
    cmpctl(home, "init")
    taken = socket.socket()  # someone else's dashboard: bound and listening on the configured port
    taken.bind(("127.0.0.1", free_port()))
    taken.listen()
    port = taken.getsockname()[1]
    toml = (home / "cmp.toml").read_text().replace("dashboard_port = 8265", f"dashboard_port = {port}")
    toml += "\n[shutdown]\n" + "".join(f"{k} = {v}\n" for k, v in DEADLINES.items())
    (home / "cmp.toml").write_text(toml)
    head = 0
    try:
        up = cmpctl(home, "up", "--json")
        doc = json.loads(up.stdout)
        head = json.loads((home / "run" / "ray.json").read_text())["head_pid"]
        assert f"port {port} is in use" in up.stderr
        assert doc["dashboard"].startswith("http://127.0.0.1:") and not doc["dashboard"].endswith(f":{port}")
        assert _answers_http(doc["dashboard"])  # the URL shown is this head's own dashboard

        # the Store's write-ahead log is as private as the database (DuckDB uses the process's umask)
        wal = home / "data" / "cmp.duckdb.wal"
        deadline = time.monotonic() + 60
        while not wal.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600

        actors = {a["role"]: a for a in json.loads(cmpctl(home, "status", "--json").stdout)["actors"]}
        stuck = [actors["store"]["pid"], actors["load_provisioning"]["pid"]]
        for pid in stuck:  # hung: answers nothing, not even Ray's own calls
            assert pid in live_session_members(head)
            os.kill(pid, signal.SIGSTOP)

        started = time.monotonic()
        down = cmpctl(home, "down", check=False, timeout=BUDGET + 60)
        took = time.monotonic() - started
        assert took < BUDGET, f"down took {took:.0f} s:\n{down.stderr}"
        assert down.returncode == 1, down.stderr  # it finished, but had to kill
        assert "Store" in down.stderr and "killed" in down.stderr
        assert not (home / "run" / "ray.json").exists()
        assert live_session_members(head) == []
        print(f"down on a stuck engine: {took:.1f} s (budget {BUDGET} s); load {os.getloadavg()[0]:.1f}")
    finally:
        taken.close()
        for pid in live_session_members(head) if head else []:  # only what this test's `up` started
            os.kill(pid, signal.SIGKILL)
