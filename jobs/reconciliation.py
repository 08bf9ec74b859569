"""The reconciliation job: the OCS's answers to bill cycle changes vs the engine's records.

    cmpctl jobs run reconciliation [--param batch=ID] [--param partitions=P]

Each run (1) compares the Bill Cycle Change Response batches not compared yet (``batch``: only
that one) with the live allowances and spend caps of the changes they answer, storing every
discrepancy with both sides and every matched pair as a pending match, and the changes become
ANSWERED; then (2) re-points every pending match whose effective time has come (``ctx.now``):
the old record is end-dated, a new one carries the new OCS instance; (3) a change that took
effect with nothing left to re-point closes: RECONCILED, or DISCREPANT when a discrepancy
names it (what the OCS and the engine disagree on is left for an operator).
A later run (a daily schedule) re-points what was still in the future. A second run over the
same input creates nothing.

The comparison is split by subscription into ``partitions`` partitions (default 1, this
process); more run on the executor the engine was wired with (the Store actor passes one that
runs them as Ray tasks on any node: ``jobs.registry.default_registry(partition_executor=…)``).
This layer never imports Ray. Everything is written in the job's one transaction.
"""

from __future__ import annotations

import time
from typing import Callable, Mapping

import duckdb

from engine.reconcile.apply import close_changes, pending_matches, repoint_due, write_outcome
from engine.reconcile.compare import CLASSES, MATCHED
from engine.reconcile.inputs import batches_in_scope, read_inputs
from engine.errors import UsageError
from engine.jobs import JobContext, JobResult, JobSpec
from engine.reconcile.partition import LocalExecutor, PartitionExecutor, check_partitions, reconcile

JOB_NAME = "reconciliation"

#: partitions -> the executor that runs them
ExecutorFor = Callable[[int], PartitionExecutor]


def default_executor(partitions: int) -> PartitionExecutor:
    """P=1 in this process (DuckDB uses every core); P>1 needs an executor passed in."""
    if partitions == 1:
        return LocalExecutor()
    raise UsageError(f"partitions={partitions} needs a partition executor, and this engine was wired without one",
                     hint="run the job in the engine (`cmpctl jobs run`), whose Store runs partitions as Ray "
                          "tasks; or use --param partitions=1")


def make_reconciliation(executor_for: ExecutorFor = default_executor):
    def reconciliation(con: duckdb.DuckDBPyConnection, params: Mapping[str, str], ctx: JobContext) -> JobResult:
        partitions = check_partitions(params.get("partitions", "1"))
        batches = batches_in_scope(con, params.get("batch"))
        details: dict = {"batches": batches, "partitions": partitions}
        read = matched = reported = 0
        if batches:
            engine, ocs = read_inputs(con, batches)
            started = time.perf_counter()
            outcomes, runs = reconcile(engine, ocs, partitions, executor_for(partitions))
            details["compare_seconds"] = round(time.perf_counter() - started, 3)
            details["runs"] = [{"partition": r.partition, "node": r.node, "pairs": r.outcomes.num_rows,
                                "seconds": round(r.seconds, 3)} for r in runs]
            write_outcome(con, outcomes, batches, execution_id=ctx.execution_id, now=ctx.now)
            con.unregister("_rec_ocs")
            classes = dict(con.execute(
                "SELECT discrepancy, count(*) FROM reconciliation_discrepancies WHERE execution_id = ? GROUP BY ALL",
                [ctx.execution_id]).fetchall())  # fmt: skip
            matched = con.execute("SELECT count(*) FROM reconciliation_matches WHERE execution_id = ?",
                                  [ctx.execution_id]).fetchone()[0]
            classes[MATCHED] = matched
            details["classes"] = {c: classes.get(c, 0) for c in CLASSES}
            read = engine.num_rows + ocs.num_rows
            reported = sum(v for k, v in classes.items() if k != MATCHED)
        details["repointed"] = repoint_due(con, execution_id=ctx.execution_id, now=ctx.now)
        details["pending"] = pending_matches(con)
        details["closed"] = close_changes(con, now=ctx.now)
        return JobResult(read=read, ok=matched, error=reported,
                         batch_id=batches[0] if len(batches) == 1 else None, details=details)

    return reconciliation


def reconciliation_spec(executor_for: ExecutorFor = default_executor) -> JobSpec:
    """The reconciliation job, running P>1 partitions on ``executor_for(P)``."""
    return JobSpec(
        JOB_NAME,
        make_reconciliation(executor_for),
        "compare Bill Cycle Change Responses with the engine's allowances and spend caps; re-point them when due",
        params=("batch", "partitions"),
    )


RECONCILIATION = reconciliation_spec()

__all__ = ["JOB_NAME", "RECONCILIATION", "ExecutorFor", "default_executor", "make_reconciliation",
           "reconciliation_spec"]
