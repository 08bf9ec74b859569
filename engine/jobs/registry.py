"""The jobs an engine runs, by name: filled where the engine is wired together (the Store actor
builds it from ``jobs.registry.default_registry``; tests pass their own), never by imports."""

from __future__ import annotations

from typing import Iterable

from engine.errors import UsageError
from engine.jobs.spec import JobSpec
from engine.registry import Registry


def _unknown_job(name: str, known: list[str]) -> UsageError:
    return UsageError(f"unknown job {name!r}", hint=f"known jobs: {', '.join(known) or 'none'}")


class JobRegistry(Registry[str, JobSpec]):
    """Job specs by name; a duplicate raises, an unknown name is a UsageError naming the known."""

    def __init__(self, specs: Iterable[JobSpec] = ()) -> None:
        super().__init__("job", lambda spec: spec.name, specs, missing=_unknown_job)


__all__ = ["JobRegistry"]
