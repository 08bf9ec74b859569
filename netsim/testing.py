"""Start netsim as a real subprocess, for tests, the demo and the benchmark.

    with start_netsim(token="t", faults="error=0.1,seed=1") as sim:
        status, body, headers = sim.request("POST", "/tmf-api/…", {...}, key="k1")
        assert sim.stats()["duplicate_executions"] == 0

It is a real process on a real port (``--port 0``; the port is read from the one line netsim
prints), so what is tested is exactly what the engine talks to. The helpers use only urllib,
so they work from synchronous tests and from code that has its own event loop in a thread.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterable

from netsim import TOKEN_ENV

DEFAULT_TOKEN = "netsim-test-token"
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)


class NetsimError(RuntimeError):
    """netsim did not start (the message carries its stderr) or a control call failed."""


class NetsimProcess:
    def __init__(self, args: list[str], token: str | None, *, start_timeout: float = 20.0) -> None:
        self.token = token or ""
        self._stderr = tempfile.NamedTemporaryFile(prefix="netsim-", suffix=".stderr", delete=False)
        self._stderr_final: str | None = None
        env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        if token is not None:  # the environment, not argv: `ps` shows every user the command line
            env[TOKEN_ENV] = token
        # Importable even when the project is not installed into the interpreter.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "netsim", *args],
            stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL, env=env,
        )
        self.url = self._read_url(start_timeout)

    # ------------------------------------------------------------------ lifecycle
    def _read_url(self, timeout: float) -> str:
        lines: queue.Queue[bytes] = queue.Queue()
        stdout = self.process.stdout
        assert stdout is not None

        def pump() -> None:
            # First line to the queue, the rest drained so netsim can never block on stdout.
            for line in stdout:
                lines.put(line)

        threading.Thread(target=pump, name="netsim-stdout", daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.05).decode(errors="replace").strip()
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            prefix = "netsim listening on "
            if line.startswith(prefix):
                return line[len(prefix):]
        code = self.process.poll()
        self.close()
        state = f"exited with {code}" if code is not None else f"did not print its port within {timeout:g}s"
        raise NetsimError(f"netsim {state}; stderr:\n{self.stderr_text()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr_text(self) -> str:
        """What netsim wrote to stderr so far (kept after the context exits)."""
        if self._stderr_final is not None:
            return self._stderr_final
        try:
            return Path(self._stderr.name).read_text(errors="replace")
        except OSError:
            return ""

    def close(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (netsim flushes pending drop files), then SIGKILL if it does not stop."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._stderr.close()
        return self.process.returncode

    def __enter__(self) -> "NetsimProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self._stderr_final = self.stderr_text()
        try:
            os.unlink(self._stderr.name)
        except OSError:
            pass

    # ------------------------------------------------------------------ HTTP helpers
    def request(self, method: str, path: str, body: Any = None, *, key: str | None = None,
                headers: dict[str, str] | None = None, token: str | None = None,
                timeout: float = 10.0) -> tuple[int, Any, dict[str, str]]:
        """One HTTP call; returns (status, decoded JSON body or None, response headers).
        4xx/5xx are returned, not raised; connection failures raise (URLError, OSError)."""
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Authorization": f"Bearer {self.token if token is None else token}"}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        if key is not None:
            hdrs["Idempotency-Key"] = key
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw, rh = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            status, raw, rh = err.code, err.read(), dict(err.headers)
        return status, (json.loads(raw) if raw else None), rh

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        status, answer, _ = self.request(method, path, body)
        if status != 200:
            raise NetsimError(f"{method} {path}: {status} {answer}")
        return answer

    def stats(self) -> dict[str, Any]:
        return self._control("GET", "/_sim/stats")

    def set_faults(self, spec: str) -> dict[str, Any]:
        return self._control("POST", "/_sim/faults", {"faults": spec})

    def flush(self) -> list[str]:
        """Write pending Bill Cycle Change Response records now; the file names written."""
        return self._control("POST", "/_sim/flush")["files"]

    def reset(self) -> None:
        self._control("POST", "/_sim/reset")

    def subscriber(self, sid: str) -> dict[str, Any]:
        return self._control("GET", f"/_sim/subscribers/{urllib.parse.quote(sid, safe='')}")

    def executions(self, key: str) -> int:
        return self._control("GET", f"/_sim/executions?key={urllib.parse.quote(key, safe='')}")["executions"]

    def bcc_faults(self) -> list[dict[str, Any]]:
        return self._control("GET", "/_sim/bcc_faults")["faults"]

    def traces(self) -> dict[str, int]:
        """Trace id → requests netsim received with a valid traceparent of that trace."""
        return self._control("GET", "/_sim/traces")["traces"]


def start_netsim(*, token: str | None = DEFAULT_TOKEN, drop_dir: str | os.PathLike[str] | None = None,
                 recipients: Iterable[str] = (), faults: str = "",
                 extra_args: Iterable[str] = (), start_timeout: float = 20.0) -> NetsimProcess:
    """Start ``python -m netsim --port 0 …``; use as a context manager (stops it on exit).

    ``token`` reaches netsim in its environment (``NETSIM_TOKEN``); ``None`` passes none (give
    ``--token-file`` in ``extra_args``)."""
    args = ["--port", "0"]
    if drop_dir is not None:
        args += ["--drop-dir", os.fspath(drop_dir)]
    for recipient in recipients:
        args += ["--recipient", recipient]
    if faults:
        args += ["--faults", faults]
    args += list(extra_args)
    return NetsimProcess(args, token, start_timeout=start_timeout)
