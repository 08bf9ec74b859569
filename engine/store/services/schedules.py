"""The Store's schedule methods: the slot ledger (engine/schedule/ledger.py) that the Scheduler
actor ticks, and the runs of its slots' jobs."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Iterable, Sequence

from engine.errors import EngineError
from engine.jobs import execution_id_by_key, run_job
from engine.schedule import ledger
from engine.schedule.definitions import Schedule, SlotRun
from engine.schedule.sweep import needs_sweep, sweep_spec
from engine.store.services.jobs import JobService


class ScheduleService(JobService):
    _slot_lock: threading.Lock

    def _init_schedules(self) -> None:
        self._slot_lock = threading.Lock()  # one writer of schedule_slots at a time
        with self.cursor() as cur:
            ledger.recover(cur, self._now())  # runs 'started' in a previous Store died with it

    def schedule_tick(self, schedules: Sequence[Schedule], now: datetime) -> list[SlotRun]:
        """Plan the slot ledger up to ``now``; returns the SlotRuns waiting to run."""
        with self._slot_lock, self.cursor() as cur:
            return ledger.plan(cur, schedules, now)

    def run_scheduled(self, run: SlotRun) -> dict[str, Any]:
        """Run one slot's job (key ``schedule:<name>:<slot>``) and record it in the ledger.

        Idempotent: a slot no longer waiting (run, running or missed) is returned as it is. A
        job that is not registered, or that fails, makes the slot ``failed`` with the reason;
        nothing is raised, so one bad schedule cannot stop the scheduler.
        """
        with self._job_lock, self.cursor() as cur:
            with self._slot_lock:
                if not ledger.begin(cur, run, self._now()):
                    return ledger.slot(cur, run.schedule, run.slot_at) or {}
            doc: dict[str, Any] | None = None
            reason: str | None = None
            if run.job not in self._jobs:
                reason = (f"job {run.job!r} is not registered in this engine "
                          f"(known: {', '.join(self._jobs.names())})")
            else:
                spec = self._jobs.get(run.job)
                if needs_sweep(spec, run.params):
                    spec = sweep_spec(spec)
                try:
                    doc = run_job(cur, spec, run.params, trigger="schedule", key=run.key, slot_id=run.slot_id,
                                  now=self._now())
                except Exception as exc:  # the slot must end whatever happened (it is 'started' now)
                    reason = str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
                    found = execution_id_by_key(cur, run.key)
                    doc = {"execution_id": found} if found is not None else None
            ok = reason is None and doc is not None and doc.get("status") == "SUCCEEDED"
            if reason is None and not ok:
                reason = (doc or {}).get("error") or f"execution ended {(doc or {}).get('status')}"
            with self._slot_lock:
                ledger.end(cur, run, ended=self._now(), execution_id=(doc or {}).get("execution_id"),
                           succeeded=ok, reason=reason)
                return ledger.slot(cur, run.schedule, run.slot_at) or {}

    def schedule_slots(self, schedule: str | None = None, *, status: str | None = None,
                       limit: int = 100) -> list[dict[str, Any]]:
        """The slot ledger, newest first (of one schedule, or of all; of one status, or of all)."""
        with self.cursor() as cur:
            return ledger.slots(cur, schedule, status=status, limit=limit)

    def last_slots(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Each named schedule's latest slot."""
        with self.cursor() as cur:
            return ledger.last_slots(cur, names)


__all__ = ["ScheduleService"]
