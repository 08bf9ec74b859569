"""The jobs this engine runs: an explicit tuple of built-ins, made into a registry where the
engine is wired together (the Store actor; tests through ``tests/stores.py``)."""

from __future__ import annotations

from engine.jobs import JobRegistry, JobSpec
from jobs.bill_cycle_change import BILL_CYCLE_CHANGE
from jobs.provisioning import PROVISIONING
from jobs.reconciliation import ExecutorFor, default_executor, reconciliation_spec
from jobs.response_handling import RESPONSE_HANDLING

#: the built-in jobs whose definition does not depend on how the engine is wired
BUILTIN_JOBS: tuple[JobSpec, ...] = (PROVISIONING, RESPONSE_HANDLING, BILL_CYCLE_CHANGE)


def default_registry(*, partition_executor: ExecutorFor | None = None) -> JobRegistry:
    """Every built-in job. ``partition_executor(P)`` runs reconciliation's P>1 partitions (the
    Store actor passes Ray's); without one, P>1 is a UsageError and P=1 runs in this process."""
    return JobRegistry((*BUILTIN_JOBS, reconciliation_spec(partition_executor or default_executor)))


__all__ = ["BUILTIN_JOBS", "default_registry"]
