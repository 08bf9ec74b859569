"""The jobs this engine knows, by name. Built-ins are an explicit tuple; a duplicate raises."""

from __future__ import annotations

from jobs.base import JobRegistry, JobSpec
from jobs.provisioning import PROVISIONING

BUILTIN_JOBS: tuple[JobSpec, ...] = (PROVISIONING,)


def default_registry() -> JobRegistry:
    registry = JobRegistry()
    for spec in BUILTIN_JOBS:
        registry.register(spec)
    return registry
