"""The Store actor: the only process that opens cmp.duckdb read-write.

Restartable (``max_restarts=-1``): a new instance reopens the file, and the database is the
state; loads that were open in the dead instance are gone and their daemons redo them.
Each method runs in the Store's worker process, on one of its threads.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

import ray

from actors import metrics
from engine import permissions, telemetry
from engine.store.store import Store

log = logging.getLogger(__name__)


@ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=16, num_cpus=0)
class StoreActor:
    def __init__(self, db_path: str, tracing: telemetry.Settings | None = None):
        if tracing is not None:  # jobs run here: their spans are exported from this process
            telemetry.configure(tracing, component="store")
        # DuckDB creates its write-ahead log (and spill files) with the process's umask, not the
        # database's mode (measured: 0644 next to a 0600 file): this process makes only private files.
        os.umask(0o077)
        permissions.enforce(permissions.database_exposures(Path(db_path)), warn=log.warning)
        self._store = Store(db_path)
        self._targets: dict[str, str] = {}  # worker → target, for the request metrics

    def pid(self) -> int:
        return os.getpid()

    def metrics(self) -> dict[str, float]:
        """The Ray metrics this process recorded (job runs and durations, request outcomes)."""
        return metrics.snapshot()

    def shutdown(self, timeout: float = 600.0) -> None:
        """Abort open loads and close the database cleanly (checkpointed) before a stop; a
        running job gets ``timeout`` seconds to end first (StoreBusy after that)."""
        self._store.close(timeout)

    # loads
    def begin_load(self, meta):
        return self._store.begin_load(meta)

    def add_shard(self, batch_id, result):
        return self._store.add_shard(batch_id, result)

    def commit_load(self, batch_id, **kwargs):
        return self._store.commit_load(batch_id, **kwargs)

    def abort_load(self, batch_id):
        return self._store.abort_load(batch_id)

    def record_rejection(self, **kwargs):
        return self._store.record_rejection(**kwargs)

    def load_progress(self):
        return self._store.load_progress()

    def load_outcome(self, sha256, since):
        return self._store.load_outcome(sha256, since)

    def committed_file(self, sha256):
        return self._store.committed_file(sha256)

    # audit
    def list_batches(self, limit=50):
        return self._store.list_batches(limit)

    def show_batch(self, batch_id, errors=0):
        return self._store.show_batch(batch_id, errors=errors)

    def overview(self):
        return self._store.overview()

    def bill_cycle_candidates(self, day, limit=100):
        return self._store.bill_cycle_candidates(day, limit)

    def pending_triggers(self):
        return self._store.pending_triggers()

    # jobs
    def run_job(self, name, params, **kwargs):
        try:
            doc = self._store.run_job(name, params, **kwargs)
        except Exception:
            failed = self._store.execution_by_key(kwargs["key"]) if kwargs.get("key") else None
            if failed is not None:  # the run was recorded as FAILED (not refused before it started)
                metrics.record_job_execution(failed)
            raise
        metrics.record_job_execution(doc)
        return doc

    def run_triggers(self, traceparents=None):
        docs = self._store.run_triggers(traceparents)
        for doc in docs:
            metrics.record_job_execution(doc)
        return docs

    def job_execution(self, execution_id):
        return self._store.job_execution(execution_id)

    def execution_by_key(self, key):
        return self._store.execution_by_key(key)

    def reconciliation_report(self, execution_id, limit=0):
        return self._store.reconciliation_report(execution_id, limit)

    def job_history(self, job=None, limit=50):
        return self._store.job_history(job, limit)

    def list_jobs(self):
        return self._store.list_jobs()

    # network request log (the transmission daemons' queue and the operator's actions)
    def requests_call(self, method, *args, **kwargs):
        """One of LocalQueue's methods: claim, record, renew, release, resubmit, close,
        show_request, list_requests, queue_depths."""
        if method.startswith("_"):
            raise AttributeError(method)
        if method == "claim":
            self._targets[kwargs.get("worker", "")] = kwargs.get("target", "")
        answer = getattr(self._store.requests, method)(*args, **kwargs)
        if method == "record" and args:
            by_target: dict[str, Counter] = {}
            for o in args[0]:
                by_target.setdefault(self._targets.get(o.worker, "unknown"), Counter())[o.status] += 1
            for target, counts in by_target.items():
                metrics.record_requests(target, counts)
        return answer

    # extract daemons (outbound files)
    def extract_reserve(self, daemon, **kwargs):
        return self._store.extract_reserve(daemon, **kwargs)

    def extract_unsealed(self, daemon):
        return self._store.extract_unsealed(daemon)

    def extract_records(self, file_id):
        return self._store.extract_records(file_id)

    def extract_seal(self, file_id, **kwargs):
        return self._store.extract_seal(file_id, **kwargs)

    # schedules (the Scheduler actor's ticks and the slots' runs)
    def schedule_tick(self, schedules, now):
        return self._store.schedule_tick(schedules, now)

    def run_scheduled(self, run):
        return self._store.run_scheduled(run)

    def schedule_slots(self, schedule=None, **kwargs):
        return self._store.schedule_slots(schedule, **kwargs)

    def last_slots(self, names):
        return self._store.last_slots(names)

    # daemons
    def daemon_heartbeat(self, **kwargs):
        return self._store.daemon_heartbeat(**kwargs)

    def list_daemons(self):
        return self._store.list_daemons()

    def status(self):
        return self._store.status()

    # probes (the Probes actor's periodic runs and `cmpctl probes`)
    def run_probes(self, config, names=None):
        return self._store.run_probes(config, names)

    def probe_list(self, config):
        return self._store.probe_list(config)

    def probe_history(self, probe=None, limit=50):
        return self._store.probe_history(probe, limit)

    def probe_alerts(self, active_only=False, limit=50):
        return self._store.probe_alerts(active_only=active_only, limit=limit)
