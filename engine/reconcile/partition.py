"""Split a reconciliation by subscription into P partitions and run them on an executor.

Both sides are split with the same hash of the subscription id, so every pair lands in one
partition and the partitions are independent. The executor decides where partitions run:
:class:`LocalExecutor` in this process (the single-node path), or the Ray executor of
``actors/reconcile_tasks.py`` (any node of the cluster). Their outcomes are concatenated, in
partition order, for the Store to write in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import UsageError
from engine.reconcile.compare import OUTCOME_SCHEMA, compare

MAX_PARTITIONS = 1024


@dataclass(frozen=True)
class PartitionOutcome:
    partition: int
    outcomes: pa.Table  # OUTCOME_SCHEMA
    node: str  # where it ran: a Ray node id, or "local"
    seconds: float


class PartitionExecutor(Protocol):
    def run(self, parts: Sequence[tuple[pa.Table, pa.Table]]) -> list[PartitionOutcome]:
        """Compare every (engine, ocs) partition; outcomes in partition order."""


class LocalExecutor:
    """Partitions one after another in this process; ``threads`` as for :func:`compare`."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads

    def run(self, parts):
        done = []
        for i, (engine, ocs) in enumerate(parts):
            started = time.perf_counter()
            done.append(PartitionOutcome(i, compare(engine, ocs, threads=self.threads), "local",
                                         time.perf_counter() - started))
        return done


def check_partitions(value: str | int) -> int:
    try:
        partitions = int(value)
    except (TypeError, ValueError):
        partitions = 0
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise UsageError(f"partitions must be an integer from 1 to {MAX_PARTITIONS}, got {value!r}",
                         hint="--param partitions=1 runs on this node; more run as Ray tasks")
    return partitions


def split(table: pa.Table, partitions: int) -> list[pa.Table]:
    """``table`` by hash(subscription_id) % partitions; DuckDB's hash, the same for both sides."""
    if partitions == 1:
        return [table]
    con = duckdb.connect(":memory:")
    try:
        con.register("t", table.select(["subscription_id"]))
        part = con.sql(f"SELECT (hash(subscription_id) % {partitions})::INTEGER AS p FROM t").to_arrow_table()["p"]
    finally:
        con.close()
    return [table.filter(pc.equal(part, i)) for i in range(partitions)]


def reconcile(engine: pa.Table, ocs: pa.Table, partitions: int,
              executor: PartitionExecutor) -> tuple[pa.Table, list[PartitionOutcome]]:
    """Compare both sides in ``partitions`` partitions; the combined outcomes and per-partition runs."""
    parts = list(zip(split(engine, partitions), split(ocs, partitions)))
    runs = executor.run(parts)
    if len(runs) != partitions:
        raise RuntimeError(f"the executor returned {len(runs)} partitions of {partitions}")
    combined = pa.concat_tables([r.outcomes for r in runs]) if runs else OUTCOME_SCHEMA.empty_table()
    return combined, runs


__all__ = ["LocalExecutor", "MAX_PARTITIONS", "PartitionExecutor", "PartitionOutcome", "check_partitions",
           "reconcile", "split"]
