"""The Store actor: the Store made remote, plus the Ray metrics of what runs in it. The only
process that opens cmp.duckdb read-write.

Every method is the Store's own (engine/store/services/: declared once); this class only wires
the Store as the engine runs it (the built-in jobs, reconciliation's partitions on Ray) and
overrides the few methods whose outcome is a Ray metric. Restartable (``max_restarts=-1``): a
new instance reopens the file, and the database is the state; loads that were open in the dead
instance are gone and their daemons redo them. Each method runs in the Store's worker process,
on one of its threads.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import ray

from actors import metrics
from engine import permissions, telemetry
from engine.reconcile.partition import LocalExecutor, PartitionExecutor
from engine.store.store import Store
from engine.transmission.model import Chain, Outcome
from jobs.registry import default_registry

log = logging.getLogger(__name__)


def partition_executor(partitions: int) -> PartitionExecutor:
    """Reconciliation's partitions: P=1 in the Store's process, P>1 as Ray tasks on any node."""
    if partitions == 1:
        return LocalExecutor()
    from actors.reconcile_tasks import ray_executor

    return ray_executor()


class ProcessInfo:
    """What the Store actor answers besides the Store's own methods."""

    def pid(self) -> int:
        """The actor's process id (and, once it answers, the database is open and migrated)."""
        return os.getpid()

    def metrics(self) -> dict[str, float]:
        """The Ray metrics this process recorded (job runs and durations, request outcomes)."""
        return metrics.snapshot()


@ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=16, num_cpus=0)
class StoreActor(Store, ProcessInfo):
    def __init__(self, db_path: str, tracing: telemetry.Settings | None = None):
        if tracing is not None:  # jobs run here: their spans are exported from this process
            telemetry.configure(tracing, component="store")
        # DuckDB creates its write-ahead log (and spill files) with the process's umask, not the
        # database's mode (measured: 0644 next to a 0600 file): this process makes only private files.
        os.umask(0o077)
        permissions.enforce(permissions.database_exposures(Path(db_path)), warn=log.warning)
        super().__init__(db_path, jobs=default_registry(partition_executor=partition_executor))
        self._targets: dict[str, str] = {}  # worker → target, for the request metrics
        self._targets_lock = threading.Lock()

    # -- the methods whose outcome is a metric (the rest are the Store's, unchanged; the runs of
    # run_triggers go through run_job, so they are counted here) ------------------------------------

    def run_job(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            doc = super().run_job(*args, **kwargs)
        except Exception:
            failed = self.execution_by_key(kwargs["key"]) if kwargs.get("key") else None
            if failed is not None:  # the run was recorded as FAILED (not refused before it started)
                metrics.record_job_execution(failed)
            raise
        metrics.record_job_execution(doc)
        return doc

    def claim_requests(self, *args: Any, **kwargs: Any) -> list[Chain]:
        with self._targets_lock:
            self._targets[kwargs.get("worker", "")] = kwargs.get("target", "")
        return super().claim_requests(*args, **kwargs)

    def record_outcomes(self, outcomes: list[Outcome], *args: Any, **kwargs: Any) -> int:
        applied = super().record_outcomes(outcomes, *args, **kwargs)
        by_target: dict[str, Counter[str]] = {}
        with self._targets_lock:
            for o in outcomes:
                by_target.setdefault(self._targets.get(o.worker, "unknown"), Counter())[o.status] += 1
        for target, counts in by_target.items():
            metrics.record_requests(target, counts)
        return applied


__all__ = ["ProcessInfo", "StoreActor", "partition_executor"]
