"""Reconciliation partitions as Ray tasks, on any node (the plain work is engine.reconcile)."""

from __future__ import annotations

import time

import pyarrow as pa
import ray

from engine.errors import UsageError
from engine.reconcile.compare import compare
from engine.reconcile.partition import PartitionOutcome


@ray.remote(num_cpus=1)
def compare_partition(engine: pa.Table, ocs: pa.Table) -> tuple[pa.Table, str, float]:
    # One CPU per task, so DuckDB gets one thread: partitions, not threads, are the parallelism.
    started = time.perf_counter()
    outcomes = compare(engine, ocs, threads=1)
    return outcomes, ray.get_runtime_context().get_node_id(), time.perf_counter() - started


class RayExecutor:
    """Runs each partition as a task, spread over the cluster's nodes."""

    def run(self, parts):
        refs = [compare_partition.options(scheduling_strategy="SPREAD").remote(e, o) for e, o in parts]
        return [PartitionOutcome(i, table, node, seconds)
                for i, (table, node, seconds) in enumerate(ray.get(refs))]


def ray_executor() -> RayExecutor:
    if not ray.is_initialized():
        raise UsageError("partitions > 1 run as Ray tasks, but Ray is not running in this process",
                         hint="run the job in the engine (`cmpctl up`), or with --param partitions=1")
    return RayExecutor()


__all__ = ["RayExecutor", "compare_partition", "ray_executor"]
