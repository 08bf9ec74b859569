"""`cmpctl submit`: run a job on a Ray cluster through the Ray Jobs API, idempotent by key.

Two halves:

* :func:`submit` (the operator's machine): ships this project as the Ray job's working
  directory and submits an entrypoint that runs the job in the running engine. The submission
  id is derived from the key (``cmp-<job>-<sha256(key)[:16]>``), so a second submit with the
  same key finds the first one instead of starting another. Ray's token authentication is
  honoured by Ray's own client (``RAY_AUTH_MODE=token``, the token read from
  ``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` / ``~/.ray/auth_token``); we never read it.
* ``python -m actors.submit JOB --key K …`` (the Ray job's driver, on the head node): calls the
  Store's ``run_job`` with trigger ``submit`` and the key, so the run is in the engine's own job
  history (Ray's is lost with the head) and a key the engine has seen returns the earlier run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from engine import runtime  # noqa: F401  (sets RAY_AUTH_MODE before Ray is imported)

import ray  # noqa: E402

from engine.errors import EngineError, EngineNotRunning, UsageError  # noqa: E402

PROJECT_DIR = Path(__file__).resolve().parents[1]
# Not shipped: the venv, git history, local data and caches (Ray's working_dir limit is 500 MiB).
EXCLUDES = [".venv", ".git", "data", "__pycache__", "*.pyc", ".pytest_cache", "*.egg-info", "build", "dist",
            "bench/out", ".cmp-demo", "*.duckdb", "*.age"]
# The job's driver only calls the engine's actors (which run under their own environment), so
# only its own node needs the project: no eager install of it on every node at ray.init().
# (Nodes that share a temp dir, as test clusters on one machine do, would otherwise unpack the
# same package over the running driver's files: "No module named …" once in a while.)
RUNTIME_ENV_CONFIG = {"eager_install": False}
RESULT_MARK = "CMP-EXECUTION "
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


@dataclass(frozen=True)
class Submission:
    submission_id: str
    job: str
    key: str
    status: str  # Ray's: PENDING | RUNNING | SUCCEEDED | FAILED | STOPPED
    existing: bool  # the key had been submitted before: this is that submission
    dashboard: str
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def submission_id(job: str, key: str) -> str:
    return f"cmp-{job}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _client(address: str):
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise EngineNotRunning(f"cannot reach the Ray Jobs API at {address}: {_first_line(exc)}",
                               hint="pass --address http://HEAD:8265 (the dashboard's address)") from None


def _info(client, sid: str):
    try:
        return client.get_job_info(sid)
    except RuntimeError as exc:
        if "does not exist" in str(exc) or "404" in str(exc):
            return None
        raise


def submit(address: str, job: str, params: dict[str, str], key: str, *, namespace: str = "cmp",
           project_dir: Path = PROJECT_DIR) -> Submission:
    """Submit ``job`` (or find the submission made with the same key)."""
    if not job.replace("_", "").replace("-", "").isalnum():
        raise UsageError(f"bad job name {job!r}", hint="`cmpctl jobs list` shows the jobs")
    client = _client(address)
    sid = submission_id(job, key)
    info = _info(client, sid)
    if info is None:
        entrypoint = shlex.join([
            "python", "-m", "actors.submit", job, "--key", key, "--namespace", namespace,
            "--params", json.dumps(params, sort_keys=True),
        ])
        try:
            _submit_when_agent_ready(
                client,
                entrypoint=entrypoint,
                submission_id=sid,
                runtime_env={"working_dir": str(project_dir), "excludes": EXCLUDES, "config": RUNTIME_ENV_CONFIG},
                metadata={"cmp_job": job, "cmp_key_sha256": hashlib.sha256(key.encode()).hexdigest()},
                entrypoint_num_cpus=0,
            )
        except RuntimeError as exc:
            if "already exists" not in str(exc):  # else: a concurrent submit with the same key won
                raise EngineError(f"the Ray Jobs API refused the submission: {_first_line(exc)}",
                                  hint="check the job's entry on the Ray dashboard") from None
        else:
            return Submission(sid, job, key, "PENDING", False, address)
        info = client.get_job_info(sid)
    return Submission(sid, job, key, str(info.status.value if hasattr(info.status, "value") else info.status),
                      True, address, info.message or "")


def _submit_when_agent_ready(client, timeout: float = 60.0, **kwargs) -> None:
    """Submit; a head that has just started answers "no available agent" for a few seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.submit_job(**kwargs)
            return
        except RuntimeError as exc:
            if "No available agent" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def follow(address: str, sid: str, write: Callable[[str], Any] = sys.stderr.write,
           timeout: float = 3600.0) -> tuple[str, dict | None]:
    """Tail the submission's logs until it ends; return Ray's final status and the execution doc."""
    client = _client(address)
    lines: list[str] = []

    async def tail() -> None:
        async for chunk in client.tail_job_logs(sid):
            lines.append(chunk)
            write(chunk)

    try:
        asyncio.run(asyncio.wait_for(tail(), timeout))
    except asyncio.TimeoutError:
        pass
    status = wait(address, sid, timeout=60)
    logs = "".join(lines) or client.get_job_logs(sid)
    return status, _execution(logs)


def wait(address: str, sid: str, timeout: float = 3600.0) -> str:
    client = _client(address)
    deadline = time.monotonic() + timeout
    while True:
        status = str(client.get_job_status(sid).value)
        if status in TERMINAL or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def result(address: str, sid: str) -> dict | None:
    """The engine's execution row as the submission's driver printed it (None until it ends)."""
    return _execution(_client(address).get_job_logs(sid))


def _execution(logs: str) -> dict | None:
    for line in reversed(logs.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


# -- the Ray job's driver -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run one job in the running engine (inside a Ray job on the cluster); print the execution."""
    from actors.clients import StoreClient, with_timeout

    parser = argparse.ArgumentParser(prog="python -m actors.submit")
    parser.add_argument("job")
    parser.add_argument("--key", required=True)
    parser.add_argument("--namespace", default="cmp")
    parser.add_argument("--params", default="{}")
    args = parser.parse_args(argv)
    ray.init(address="auto", namespace=args.namespace, log_to_driver=False)
    try:
        store = with_timeout(StoreClient.lookup(args.namespace), None)  # the job runs as long as it needs
        doc = store.run_job(args.job, json.loads(args.params), trigger="submit", key=args.key)
    except EngineError as exc:
        print(f"cmp: {exc}", file=sys.stderr)
        return exc.exit_code
    print(RESULT_MARK + json.dumps(doc, default=str), flush=True)
    return 1 if doc.get("status") == "FAILED" else 0


if __name__ == "__main__":
    sys.exit(main())
