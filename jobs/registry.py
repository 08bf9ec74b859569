"""The jobs this engine knows, by name. Built-ins are an explicit tuple; a duplicate raises."""

from __future__ import annotations

from jobs.base import JobRegistry, JobSpec
from jobs.bill_cycle_change import BILL_CYCLE_CHANGE
from jobs.provisioning import PROVISIONING
from jobs.reconciliation import RECONCILIATION
from jobs.response_handling import RESPONSE_HANDLING

BUILTIN_JOBS: tuple[JobSpec, ...] = (PROVISIONING, RESPONSE_HANDLING, BILL_CYCLE_CHANGE, RECONCILIATION,)


def default_registry() -> JobRegistry:
    registry = JobRegistry()
    for spec in BUILTIN_JOBS:
        registry.register(spec)
    return registry
