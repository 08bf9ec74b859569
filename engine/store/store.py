"""The Store: the one owner of the engine's DuckDB file, as a plain object.

The Store actor (actors/store.py) wraps exactly this class; tests use it directly. Methods are
thread-safe: the actor runs them on several threads, each on its own cursor.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import duckdb

from engine.errors import NotFound, StoreBusy
from engine.jobs import JobRegistry
from engine.loading.shards import ShardResult
from engine.store import audit
from engine.store.database import connect
from engine.store.loads import FileMeta, LoadResult, LoadTransactions
from engine.store.staging import STAGE_TABLES
from engine.transmission.local import LocalQueue
from engine.schedule.clock import system_clock as _system_clock

#: A poll-only heartbeat is written at most this often per daemon: each write is a DuckDB
#: transaction (~7 ms of the Store's CPU), and eight daemons beating every second were 15% of
#: the Store's work in the demo's network phase. `cmpctl status` shows polls to within this.
HEARTBEAT_WRITE_SECONDS = 5.0


class Store:
    def __init__(self, path: Path | str, *, jobs: JobRegistry, clock=None):
        self.path = Path(path)
        self._con = connect(self.path)
        # The scheduler's times (slot start/end) come from this clock; tests pass a manual one.
        self._clock = clock or _system_clock
        self._slot_lock = threading.Lock()  # one writer of schedule_slots at a time
        self._lock = threading.Lock()
        self.loads = LoadTransactions(self._con, STAGE_TABLES)
        self._jobs = jobs  # the jobs this engine runs, passed in where it is wired together
        self.requests = LocalQueue(self._con)  # the network request log (its own cursor and lock)
        # Jobs write set-wise across many tables; one at a time keeps them free of write
        # conflicts with each other (loads append to their own rows and run beside them).
        self._job_lock = threading.Lock()
        #: daemon name -> (state last written, when a poll was last written): see daemon_heartbeat
        self._beats: dict[str, tuple[str | None, float]] = {}
        from engine.schedule import ledger as _slots

        _slots.recover(self._con, self._clock())  # runs 'started' in a previous Store died with it

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor for one thread's work (DuckDB connections are not shared across threads)."""
        with self._lock:
            return self._con.cursor()

    def close(self, timeout: float = 600.0) -> None:
        """Finish the running job (it commits or rolls back as a whole), abort open loads (their
        daemons redo them), checkpoint and close the database."""
        if not self._job_lock.acquire(timeout=timeout):
            raise StoreBusy(f"a job is still running after {timeout:.0f} s", hint="retry `cmpctl down`")
        try:
            for batch_id in self.loads.open_batches():
                self.loads.abort(batch_id)
            self._con.execute("CHECKPOINT")
            self._con.close()
        finally:
            self._job_lock.release()

    # -- loads ----------------------------------------------------------------------------------

    def begin_load(self, meta: FileMeta) -> int:
        return self.loads.begin(meta)

    def add_shard(self, batch_id: int, result: ShardResult) -> bool:
        return self.loads.add_shard(batch_id, result.shard_no, result.lines, result.valid, result.invalid)

    def commit_load(self, batch_id: int, *, shard_count: int, max_error_ratio: float,
                    triggers: tuple[str, ...], trace_id: str | None = None,
                    sha256: str | None = None) -> LoadResult:
        return self.loads.commit(batch_id, shard_count=shard_count, max_error_ratio=max_error_ratio,
                                 triggers=triggers, trace_id=trace_id, sha256=sha256)

    def abort_load(self, batch_id: int) -> None:
        self.loads.abort(batch_id)

    def record_rejection(self, *, daemon: str, name: str, reason: str, error_class: str,
                         sha256: str | None = None) -> None:
        with self.cursor() as cur:
            cur.execute(
                "INSERT INTO file_rejections (sha256, daemon, name, reason, error_class) VALUES (?, ?, ?, ?, ?)",
                [sha256, daemon, name, reason, error_class],
            )

    def load_progress(self) -> list[dict[str, Any]]:
        return self.loads.progress()

    def load_outcome(self, sha256: str, since) -> dict[str, Any] | None:
        """How the file with this ciphertext hash ended: committed, or rejected after ``since``."""
        with self.cursor() as cur:
            row = cur.execute(
                "SELECT b.batch_id, b.records, b.valid_records, b.error_records FROM files f "
                "JOIN batches b USING (batch_id) WHERE f.sha256 = ?", [sha256]).fetchone()
            if row:
                return {"status": "loaded", "batch_id": row[0], "records": row[1], "valid": row[2], "errors": row[3]}
            row = cur.execute(
                "SELECT reason, error_class FROM file_rejections WHERE sha256 = ? AND rejected_at >= ? "
                "ORDER BY rejected_at DESC LIMIT 1", [sha256, since]).fetchone()
        if row:
            return {"status": "rejected", "reason": row[0], "error_class": row[1]}
        return None

    def committed_file(self, sha256: str) -> tuple[int, str] | None:
        """(batch id, file name) of the committed load of this ciphertext, if any."""
        with self.cursor() as cur:
            row = cur.execute("SELECT batch_id, name FROM files WHERE sha256 = ?", [sha256]).fetchone()
        return (row[0], row[1]) if row else None

    # -- audit queries (read-only) -------------------------------------------------------------

    def list_batches(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.cursor() as cur:
            return audit.list_batches(cur, limit)

    def show_batch(self, batch_id: int, *, errors: int = 0) -> dict[str, Any]:
        with self.cursor() as cur:
            batch = audit.show_batch(cur, batch_id, errors)
        if batch is None:
            raise NotFound(f"no batch {batch_id}", hint="`cmpctl batches list` shows the batches")
        return batch

    def overview(self) -> dict[str, Any]:
        with self.cursor() as cur:
            return audit.overview(cur)

    def bill_cycle_candidates(self, day: int, limit: int = 100) -> list[str]:
        with self.cursor() as cur:
            return audit.bill_cycle_candidates(cur, day, limit)

    def pending_triggers(self) -> list[tuple[int, str]]:
        with self.cursor() as cur:
            return cur.execute(
                "SELECT batch_id, job FROM batch_triggers WHERE status = 'PENDING' ORDER BY batch_id"
            ).fetchall()

    # -- jobs (they run here, in the Store's process, on their own cursor) ---------------------

    def run_job(self, name: str, params: dict[str, str], *, trigger: str = "manual",
                key: str | None = None, trace_id: str | None = None,
                traceparent: str | None = None) -> dict[str, Any]:
        from engine.jobs import run_job

        spec = self._jobs.get(name)
        with self._job_lock, self.cursor() as cur:
            return run_job(cur, spec, params, trigger=trigger, key=key, trace_id=trace_id, traceparent=traceparent,
                           now=self._clock())  # the Store's clock: jobs "as of" a time in tests

    def run_triggers(self, traceparents: dict[int, str] | None = None) -> list[dict[str, Any]]:
        """Run the jobs that committed batches asked for (each once: the key is the batch).

        ``traceparents``: batch id → the span of its load, for the job to join the load's trace.
        """
        done = []
        for batch_id, job in self.pending_triggers():
            if job not in self._jobs:
                continue  # recorded for a job this engine does not run yet
            done.append(self.run_job(job, {"batch": str(batch_id)}, trigger="batch", key=f"batch:{batch_id}:{job}",
                                     traceparent=(traceparents or {}).get(batch_id)))
        return done

    def job_execution(self, execution_id: int) -> dict[str, Any]:
        from engine.jobs import execution

        with self.cursor() as cur:
            return execution(cur, execution_id)

    def reconciliation_report(self, execution_id: int, limit: int = 0) -> dict[str, Any]:
        """A reconciliation execution's discrepancies by class, and the first ``limit`` with both sides."""
        from engine.reconcile.report import discrepancy_report

        with self.cursor() as cur:
            return discrepancy_report(cur, execution_id, limit)

    def execution_by_key(self, key: str) -> dict[str, Any] | None:
        with self.cursor() as cur:
            row = cur.execute("SELECT execution_id FROM job_executions WHERE idempotency_key = ?", [key]).fetchone()
        return self.job_execution(row[0]) if row else None

    def job_history(self, job: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        with self.cursor() as cur:
            cur.execute(
                "SELECT execution_id, job, status, trigger, batch_id, records_read, records_ok, records_error, "
                "started_at, ended_at, error FROM job_executions WHERE ? IS NULL OR job = ? "
                "ORDER BY execution_id DESC LIMIT ?", [job, job, limit])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    def list_jobs(self) -> list[dict[str, Any]]:
        return [{"name": s.name, "description": s.description, "params": list(s.params)} for s in self._jobs]

    # -- extract daemons (engine/extract/ledger.py: commit first, then write, then seal) ------------

    def extract_reserve(self, daemon: str, *, max_records: int, now, actor: str) -> list:
        """Commit the next outbound file of every partner of ``daemon`` (requests NS, ledger row)."""
        from engine.extract import ledger

        with self.cursor() as cur:
            return ledger.reserve(cur, daemon=daemon, max_records=max_records, now=now, actor=actor)

    def extract_unsealed(self, daemon: str) -> list:
        from engine.extract import ledger

        with self.cursor() as cur:
            return ledger.unsealed(cur, daemon)

    def extract_records(self, file_id: int):
        from engine.extract import ledger

        with self.cursor() as cur:
            return ledger.records(cur, file_id)

    def extract_seal(self, file_id: int, *, sha256: str, size_bytes: int, now) -> bool:
        from engine.extract import ledger

        with self.cursor() as cur:
            return ledger.seal(cur, file_id, sha256=sha256, size_bytes=size_bytes, now=now)

    # -- schedules (engine/schedule: the slot ledger; the Scheduler actor ticks) --------------

    def schedule_tick(self, schedules, now) -> list:
        """Plan the slot ledger up to ``now``; returns the SlotRuns waiting to run."""
        from engine.schedule import ledger

        with self._slot_lock, self.cursor() as cur:
            return ledger.plan(cur, schedules, now)

    def run_scheduled(self, run) -> dict[str, Any]:
        """Run one slot's job (key ``schedule:<name>:<slot>``) and record it in the ledger.

        Idempotent: a slot no longer waiting (run, running or missed) is returned as it is. A
        job that is not registered, or that fails, makes the slot ``failed`` with the reason;
        nothing is raised, so one bad schedule cannot stop the scheduler.
        """
        from engine.errors import EngineError
        from engine.schedule import ledger
        from engine.schedule.sweep import needs_sweep, sweep_spec
        from engine.jobs import run_job

        with self._job_lock, self.cursor() as cur:
            with self._slot_lock:
                if not ledger.begin(cur, run, self._clock()):
                    return ledger.slot(cur, run.schedule, run.slot_at) or {}
            doc, reason = None, None
            if run.job not in self._jobs:
                reason = (f"job {run.job!r} is not registered in this engine "
                          f"(known: {', '.join(sorted(self._jobs.names()))})")
            else:
                spec = self._jobs.get(run.job)
                if needs_sweep(spec, run.params):
                    spec = sweep_spec(spec)
                try:
                    doc = run_job(cur, spec, run.params, trigger="schedule", key=run.key, slot_id=run.slot_id,
                                  now=self._clock())
                except Exception as exc:  # the slot must end whatever happened (it is 'started' now)
                    reason = str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
                    row = cur.execute("SELECT execution_id FROM job_executions WHERE idempotency_key = ?",
                                      [run.key]).fetchone()
                    doc = {"execution_id": row[0]} if row else None
            ok = reason is None and doc is not None and doc.get("status") == "SUCCEEDED"
            if reason is None and not ok:
                reason = (doc or {}).get("error") or f"execution ended {(doc or {}).get('status')}"
            with self._slot_lock:
                ledger.end(cur, run, ended=self._clock(), execution_id=(doc or {}).get("execution_id"),
                           succeeded=ok, reason=reason)
                return ledger.slot(cur, run.schedule, run.slot_at) or {}

    def schedule_slots(self, schedule: str | None = None, *, status: str | None = None,
                       limit: int = 100) -> list[dict[str, Any]]:
        from engine.schedule import ledger

        with self.cursor() as cur:
            return ledger.slots(cur, schedule, status=status, limit=limit)

    def last_slots(self, names) -> dict[str, dict[str, Any]]:
        from engine.schedule import ledger

        with self.cursor() as cur:
            return ledger.last_slots(cur, names)

    # -- daemons --------------------------------------------------------------------------------

    def daemon_heartbeat(self, *, name: str, daemon_type: str, category: str, activity: str,
                         state: str, polled: bool = False, last_error: str | None = None) -> None:
        """Record a daemon's state (and a poll); the row is what `cmpctl status` shows.

        A heartbeat that only says "still polling" (the state last written, no error) is
        written at most every :data:`HEARTBEAT_WRITE_SECONDS` per daemon; anything else at once.
        """
        now = time.monotonic()
        written_state, poll_written_at = self._beats.get(name, (None, float("-inf")))
        if polled and last_error is None and state == written_state \
                and now - poll_written_at < HEARTBEAT_WRITE_SECONDS:
            return
        with self.cursor() as cur:
            cur.execute(
                """
                INSERT INTO daemons (name, daemon_type, category, activity, state, last_poll_at, last_error, updated_at)
                VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END, $7, now())
                ON CONFLICT (name) DO UPDATE SET
                    state = excluded.state,
                    last_poll_at = CASE WHEN $6 THEN now() ELSE daemons.last_poll_at END,
                    last_error = coalesce(excluded.last_error, daemons.last_error),
                    updated_at = now()
                """,
                [name, daemon_type, category, activity, state, polled, last_error],
            )
        self._beats[name] = (state, now if polled else poll_written_at)

    def list_daemons(self) -> list[dict[str, Any]]:
        with self.cursor() as cur:
            cur.execute("SELECT name, daemon_type, category, activity, state, last_poll_at, last_error FROM daemons ORDER BY name")
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    def status(self) -> dict[str, Any]:
        """Daemons, queue depths, running jobs and firing alerts in one snapshot (`cmpctl status`)."""
        from engine.store.status import snapshot

        with self.cursor() as cur:
            return snapshot(cur)

    # -- probes (engine/probes: measured here, where the data is; notifications sent from here) --

    def run_probes(self, config, names: list[str] | None = None) -> list[dict[str, Any]]:
        """Run the named probes now (due or not), or every probe that is due; returns the runs."""
        from engine.probes.runner import ProbeRunner

        with self.cursor() as cur:
            runner = ProbeRunner(cur, config.probes, config.notify, config.home)
            runner.sync()
            runs = [runner.run(name) for name in names] if names else runner.run_due()
            return [run.as_dict() for run in runs]

    def probe_list(self, config) -> list[dict[str, Any]]:
        from engine.probes.views import list_probes

        with self.cursor() as cur:
            return list_probes(cur, config.probes)

    def probe_history(self, probe: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        from engine.probes.views import history

        with self.cursor() as cur:
            return history(cur, probe, limit)

    def probe_alerts(self, *, active_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        from engine.probes.views import alerts

        with self.cursor() as cur:
            return alerts(cur, active_only=active_only, limit=limit)
