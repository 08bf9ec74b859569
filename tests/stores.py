"""A Store wired as the engine wires it (the built-in jobs), for tests that use one in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.store.store import Store
from jobs.reconciliation import ExecutorFor
from jobs.registry import default_registry


def make_store(path: Path | str, *, partition_executor: ExecutorFor | None = None, **kwargs: Any) -> Store:
    """A Store over the database at ``path`` running the built-in jobs (``partition_executor``:
    reconciliation's P>1 runner, e.g. ``tests.stores.ray_partitions``); ``kwargs`` go to Store."""
    return Store(path, jobs=default_registry(partition_executor=partition_executor), **kwargs)


def ray_partitions(partitions: int):
    """The Store actor's partition executor (Ray tasks), for tests with a local Ray."""
    from actors.store import partition_executor

    return partition_executor(partitions)


__all__ = ["make_store", "ray_partitions"]
