"""The Store: the one owner of the engine's DuckDB file, as a plain object.

The Store actor (actors/store.py) wraps exactly this class; tests use it directly. Methods are
thread-safe: the actor runs them on several threads, each on its own cursor.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb

from engine.errors import NotFound, StoreBusy
from engine.loading.shards import ShardResult
from engine.store import audit
from engine.store.database import connect
from engine.store.loads import FileMeta, LoadResult, LoadTransactions
from engine.store.staging import STAGE_TABLES
from engine.transmission.local import LocalQueue
from jobs.registry import default_registry


class Store:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._con = connect(self.path)
        self._lock = threading.Lock()
        self.loads = LoadTransactions(self._con, STAGE_TABLES)
        self._jobs = default_registry()
        self.requests = LocalQueue(self._con)  # the network request log (its own cursor and lock)
        # Jobs write set-wise across many tables; one at a time keeps them free of write
        # conflicts with each other (loads append to their own rows and run beside them).
        self._job_lock = threading.Lock()

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

    def pending_triggers(self) -> list[tuple[int, str]]:
        with self.cursor() as cur:
            return cur.execute(
                "SELECT batch_id, job FROM batch_triggers WHERE status = 'PENDING' ORDER BY batch_id"
            ).fetchall()

    # -- jobs (they run here, in the Store's process, on their own cursor) ---------------------

    def run_job(self, name: str, params: dict[str, str], *, trigger: str = "manual",
                key: str | None = None, trace_id: str | None = None) -> dict[str, Any]:
        from jobs.base import run_job

        spec = self._jobs.get(name)
        with self._job_lock, self.cursor() as cur:
            return run_job(cur, spec, params, trigger=trigger, key=key, trace_id=trace_id)

    def run_triggers(self) -> list[dict[str, Any]]:
        """Run the jobs that committed batches asked for (each once: the key is the batch)."""
        done = []
        for batch_id, job in self.pending_triggers():
            if job not in self._jobs.names():
                continue  # recorded for a job this engine does not run yet
            done.append(self.run_job(job, {"batch": str(batch_id)}, trigger="batch", key=f"batch:{batch_id}:{job}"))
        return done

    def job_execution(self, execution_id: int) -> dict[str, Any]:
        from jobs.base import execution

        with self.cursor() as cur:
            return execution(cur, execution_id)

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

    # -- daemons --------------------------------------------------------------------------------

    def daemon_heartbeat(self, *, name: str, daemon_type: str, category: str, activity: str,
                         state: str, polled: bool = False, last_error: str | None = None) -> None:
        """Record a daemon's state (and a poll); the row is what `cmpctl status` shows."""
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

    def list_daemons(self) -> list[dict[str, Any]]:
        with self.cursor() as cur:
            cur.execute("SELECT name, daemon_type, category, activity, state, last_poll_at, last_error FROM daemons ORDER BY name")
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]
