"""The Store actor: the only process that opens cmp.duckdb read-write.

Restartable (``max_restarts=-1``): a new instance reopens the file, and the database is the
state; loads that were open in the dead instance are gone and their daemons redo them.
Each method runs in the Store's worker process, on one of its threads.
"""

from __future__ import annotations

import os

import ray

from engine.store.store import Store


@ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=16, num_cpus=0)
class StoreActor:
    def __init__(self, db_path: str):
        self._store = Store(db_path)

    def pid(self) -> int:
        return os.getpid()

    def shutdown(self) -> None:
        """Abort open loads and close the database cleanly (checkpointed) before a stop."""
        self._store.close()

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

    def pending_triggers(self):
        return self._store.pending_triggers()

    # jobs
    def run_job(self, name, params, **kwargs):
        return self._store.run_job(name, params, **kwargs)

    def run_triggers(self):
        return self._store.run_triggers()

    def job_execution(self, execution_id):
        return self._store.job_execution(execution_id)

    def execution_by_key(self, key):
        return self._store.execution_by_key(key)

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
        return getattr(self._store.requests, method)(*args, **kwargs)

    # daemons
    def daemon_heartbeat(self, **kwargs):
        return self._store.daemon_heartbeat(**kwargs)

    def list_daemons(self):
        return self._store.list_daemons()
