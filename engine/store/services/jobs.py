"""The Store's job methods: jobs run here, in the Store's process, on their own cursor, one at
a time; and the history of their executions."""

from __future__ import annotations

import threading
from typing import Any

from engine.jobs import BATCH_PARAM, JobRegistry, execution, execution_id_by_key, run_job
from engine.reconcile.report import discrepancy_report
from engine.store.services.base import StoreBase


class JobService(StoreBase):
    _jobs: JobRegistry
    _job_lock: threading.Lock

    def _init_jobs(self, jobs: JobRegistry) -> None:
        self._jobs = jobs  # the jobs this engine runs, passed in where it is wired together
        # Jobs write set-wise across many tables; one at a time keeps them free of write
        # conflicts with each other (loads append to their own rows and run beside them).
        self._job_lock = threading.Lock()

    def run_job(self, name: str, params: dict[str, str], *, trigger: str = "manual",
                key: str | None = None, trace_id: str | None = None,
                traceparent: str | None = None) -> dict[str, Any]:
        """Run the job ``name`` now and return its execution row; a known ``key`` returns the
        earlier run. UsageError for an unknown job or parameter; the job's own failure is
        recorded (FAILED, with the reason) and raised."""
        spec = self._jobs.get(name)
        with self._job_lock, self.cursor() as cur:
            return run_job(cur, spec, params, trigger=trigger, key=key, trace_id=trace_id, traceparent=traceparent,
                           now=self._now())  # the Store's clock: jobs "as of" a time in tests

    def pending_triggers(self) -> list[tuple[int, str]]:
        """(batch id, job) of every batch trigger not yet run, oldest batch first."""
        with self.cursor() as cur:
            return cur.execute(
                "SELECT batch_id, job FROM batch_triggers WHERE status = 'PENDING' ORDER BY batch_id"
            ).fetchall()

    def run_triggers(self, traceparents: dict[int, str] | None = None) -> list[dict[str, Any]]:
        """Run the jobs that committed batches asked for (each once: the key is the batch).

        ``traceparents``: batch id → the span of its load, for the job to join the load's trace.
        """
        done = []
        for batch_id, job in self.pending_triggers():
            if job not in self._jobs:
                continue  # recorded for a job this engine does not run yet
            done.append(self.run_job(job, {BATCH_PARAM: str(batch_id)}, trigger="batch",
                                     key=f"batch:{batch_id}:{job}", traceparent=(traceparents or {}).get(batch_id)))
        return done

    def job_execution(self, execution_id: int) -> dict[str, Any]:
        """One execution row (NotFound if there is none)."""
        with self.cursor() as cur:
            return execution(cur, execution_id)

    def execution_by_key(self, key: str) -> dict[str, Any] | None:
        """The execution run under idempotency key ``key``, if any."""
        with self.cursor() as cur:
            found = execution_id_by_key(cur, key)
            return execution(cur, found) if found is not None else None

    def job_history(self, job: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Executions, newest first (of one job, or of all)."""
        with self.cursor() as cur:
            cur.execute(
                "SELECT execution_id, job, status, trigger, batch_id, records_read, records_ok, records_error, "
                "started_at, ended_at, error FROM job_executions WHERE ? IS NULL OR job = ? "
                "ORDER BY execution_id DESC LIMIT ?", [job, job, limit])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    def list_jobs(self) -> list[dict[str, Any]]:
        """The jobs this engine runs and the parameters they take."""
        return [{"name": s.name, "description": s.description, "params": list(s.params)} for s in self._jobs]

    def reconciliation_report(self, execution_id: int, limit: int = 0) -> dict[str, Any]:
        """A reconciliation execution's discrepancies by class, and the first ``limit`` with both sides."""
        with self.cursor() as cur:
            return discrepancy_report(cur, execution_id, limit)


__all__ = ["JobService"]
