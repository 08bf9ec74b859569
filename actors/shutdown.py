"""Stopping the engine: in order, each step with a deadline, what does not stop in time killed.

`cmpctl down` must end even when an actor is hung (a Store call that never returns, a process
stopped by a debugger), so no step waits without a limit ([shutdown] in cmp.toml):

1. the Supervisor stops watching, so it restarts nothing (``supervisor_seconds``);
2. every daemon, the Scheduler and the Probes actor stop at once: a Load daemon finishes the
   file in hand (archived or quarantined, never half written), a Transmission daemon its calls
   in flight, releasing what it claimed but did not send (``daemons_seconds``);
3. claims still held (by a daemon that could not drain in time) go back to UN (``store_seconds``);
4. the coordinator is removed;
5. the Store lets a running job end, aborts open loads and checkpoints (``store_seconds``).

Killing is safe at every step because nothing durable lives in an actor: a file whose load was
cut short stays in its inbound folder and loads again at the next `up` (the same ciphertext
hash), an open batch or a job's transaction that never committed is rolled back by DuckDB, and
an expired claim is sent again under the same idempotency key. What is lost is time, and the
checkpoint of a killed Store: DuckDB replays its write-ahead log when the file is next opened.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import ray
from ray.actor import ActorHandle
from ray.exceptions import RayError

from actors import names
from actors.clients import ActorClient, Pending, StoreClient, nowait, with_timeout
from engine.config import Config
from engine.errors import EngineError, StoreBusy


@dataclass
class StopReport:
    stopped: list[str] = field(default_factory=list)  # asked to stop, did so in time, removed
    killed: list[str] = field(default_factory=list)  # "name: why", removed without a clean stop
    problems: list[str] = field(default_factory=list)  # what else did not happen (claims not released)
    released: int = 0  # claimed requests given back to UN

    @property
    def clean(self) -> bool:
        return not self.killed and not self.problems

    @property
    def names(self) -> list[str]:
        return self.stopped + [k.split(":", 1)[0] for k in self.killed]


def drain_engine(config: Config) -> StopReport:
    """Stop every engine actor in ``config.ray.namespace`` (see the module docstring); never
    blocks longer than the sum of the deadlines, whatever the actors do."""
    deadlines = config.shutdown
    ns = config.ray.namespace
    report = StopReport()
    ask_then_kill(report, _running([names.SUPERVISOR], ns), "stop_watching", deadlines.supervisor_seconds)
    workers = [names.SCHEDULER, names.PROBES, *(spec.actor_name for spec in names.DAEMONS)]
    ask_then_kill(report, _running(workers, ns), "stop", deadlines.daemons_seconds)
    store = _running([names.STORE], ns)
    if store:
        try:
            report.released = release_claims(StoreClient(store[names.STORE]), timeout=deadlines.store_seconds)
        except (EngineError, RayError) as exc:
            report.problems.append(f"claims not released ({_why(exc)}): their leases expire and they are sent "
                                   "again under the same idempotency keys")
    ask_then_kill(report, _running([names.COORDINATOR], ns), None, 0.0)
    ask_then_kill(report, store, "close", deadlines.store_seconds,
                  args=(max(1.0, deadlines.store_seconds - 5.0),))  # its own wait ends first: a clear error
    wait_until_gone(report.names, ns, timeout=10.0)
    return report


def ask_then_kill(report: StopReport, handles: dict[str, ActorHandle], method: str | None, timeout: float,
                  args: tuple = ()) -> None:
    """Ask every actor of ``handles`` to ``method`` at once, wait at most ``timeout`` for all,
    then remove each for good (``ray.kill``); a late or failed answer is reported as killed."""
    calls = {name: nowait(getattr(ActorClient(h, timeout=timeout, actor=name), method))(*args)
             for name, h in handles.items()} if method else {}
    deadline = time.monotonic() + timeout
    for name, handle in handles.items():
        outcome = _answer(calls[name], deadline, timeout) if name in calls else None
        try:
            ray.kill(handle, no_restart=True)
        except RayError:
            pass  # already dead: nothing left to stop
        if outcome:
            report.killed.append(f"{name}: {outcome}")
        else:
            report.stopped.append(name)


def _answer(call: Pending[Any], deadline: float, timeout: float) -> str | None:
    """None if ``call`` finished well by ``deadline``; else why it did not."""
    if not call.done(timeout=max(0.0, deadline - time.monotonic())):
        return f"killed: did not stop within {timeout:g} s"
    try:
        call.result(timeout=0)
    except (EngineError, RayError) as exc:
        return f"killed after its stop failed: {_why(exc)}"
    return None


def release_claims(store: StoreClient, timeout: float) -> int:
    """Give every request still claimed (PR/NS) back to work (UN), per worker, with history rows,
    within ``timeout`` seconds in all (StoreBusy after that).

    Runs once all Transmission daemons are stopped, so no claim belongs to a live worker.
    """
    deadline = time.monotonic() + timeout

    def within() -> StoreClient:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StoreBusy(f"the Store did not answer within {timeout:g} s")
        return with_timeout(store, remaining)

    claimed: dict[str, list[int]] = {}
    for status in ("PR", "NS"):
        for row in within().list_requests(status=status, limit=10_000_000):
            if row["claimed_by"]:  # NS without a claim: sent by file, waiting for the partner's answer
                claimed.setdefault(row["claimed_by"], []).append(row["request_id"])
    now = datetime.now(timezone.utc)
    return sum(within().release_requests(worker, ids, now) for worker, ids in claimed.items())


def wait_until_gone(actor_names: list[str], namespace: str, timeout: float = 30.0) -> None:
    """ray.kill is asynchronous: wait (at most ``timeout``) until the names are free for a new engine."""
    deadline = time.monotonic() + timeout
    for name in actor_names:
        while time.monotonic() < deadline and _running([name], namespace):
            time.sleep(0.1)


def _running(actor_names: list[str], namespace: str) -> dict[str, ActorHandle]:
    found = {}
    for name in actor_names:
        try:
            found[name] = ray.get_actor(name, namespace=namespace)
        except ValueError:
            pass  # not running (disabled, or already stopped)
    return found


def _why(exc: BaseException) -> str:
    text = str(exc.cause) if hasattr(exc, "cause") and exc.cause is not None else str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:200]


__all__ = ["StopReport", "ask_then_kill", "drain_engine", "release_claims", "wait_until_gone"]
