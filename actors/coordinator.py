"""The load coordinator: runs a file's shards as Ray tasks, the Store commits.

The plain pipeline (engine.loading.pipeline) decides everything; this module only supplies a
runner that fans shards out as Ray tasks with bounded in-flight work (memory stays flat
whatever the file size), and the Store actor's client as the pipeline's LoadSink. The shards
run on the coordinator's node, or across the cluster when every node sees the home (placement).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import ray
from ray.actor import ActorHandle

from actors.clients import StoreClient
from actors.placement import shard_cpus, shard_strategy
from engine import age, telemetry
from engine.config import Config
from engine.loading.pipeline import LoadSettings, load_file, traced_shard
from engine.loading.shards import FilePlan, ShardSpec


@ray.remote(max_retries=3, retry_exceptions=False)
def shard_task(plan: FilePlan, spec: ShardSpec, batch_id: int, store: StoreClient,
               tracing: telemetry.Settings | None = None, traceparent: str | None = None) -> tuple[int, int, str]:
    """Decrypt and parse one shard, hand its Arrow tables to the Store. Runs in any Ray worker.

    Ray re-runs it if its worker dies; the Store ignores a shard it already has. Its span is a
    child of the load's (``traceparent``: a task does not inherit the caller's trace context).
    """
    if tracing is not None:
        telemetry.configure(tracing, component="shard")
    result = traced_shard(plan, spec, batch_id, store, traceparent)
    return spec.shard_no, result.plaintext_bytes, ray.get_runtime_context().get_node_id()


@ray.remote
def warm_up() -> int:
    """Start a worker and import the shard code in it, so the first load does not pay for it."""
    import engine.loading.shards  # noqa: F401

    return os.getpid()


class RayShardRunner:
    def __init__(self, store: StoreClient, max_in_flight: int, tracing: telemetry.Settings | None = None,
                 strategy: Any = "SPREAD", cpus_per_shard: float = 1):
        self.store = store
        self.max_in_flight = max(1, max_in_flight)
        self.tracing = tracing
        self.strategy = strategy  # actors/placement.py shard_strategy
        self.cpus_per_shard = cpus_per_shard
        self.nodes: set[str] = set()

    def run(self, plan, specs: Sequence[ShardSpec], batch_id: int, on_done) -> None:
        traceparent = telemetry.inject()  # the load's span: the shards' parent
        pending = list(specs)
        in_flight: list[ray.ObjectRef] = []
        while pending or in_flight:
            while pending and len(in_flight) < self.max_in_flight:
                spec = pending.pop(0)
                in_flight.append(  # (Ray's stubs type a remote function of 6 arguments as one of 3)
                    shard_task.options(scheduling_strategy=self.strategy, num_cpus=self.cpus_per_shard).remote(
                        plan, spec, batch_id, self.store, self.tracing, traceparent)  # type: ignore[call-arg]
                )
            done, in_flight = ray.wait(in_flight, num_returns=1)
            _, nbytes, node = ray.get(done[0])
            self.nodes.add(node)
            on_done(nbytes)


@ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=4, num_cpus=0)
class LoadCoordinator:
    """Runs in its own worker process; one load per calling daemon at a time."""

    def __init__(self, config: Config, store: ActorHandle):
        self._config = config
        # No time limit on the load's Store calls: a shard insert or a commit runs as long as its
        # data needs, and a call given up on would still run in the Store while the load's abort
        # used the same transaction. A wedged Store is the Supervisor's to restart.
        self._store = StoreClient(store, timeout=None)
        self._identities = age.load_identities(config.identity_path)
        self._tracing = telemetry.Settings.from_config(config)
        telemetry.configure(self._tracing, component="coordinator")
        self._last_runner: RayShardRunner | None = None
        self._shards = shard_strategy(config.ray.home_shared)
        cpus = int(shard_cpus(config.ray.home_shared))
        # Pinned to a node that offers Ray no CPU (a head started with --num-cpus 0), a shard
        # asking for one would wait for ever: ask for none there (the runner bounds them).
        self._cpus_per_shard = 1 if cpus >= 1 else 0
        self._warm = [warm_up.options(scheduling_strategy=self._shards, num_cpus=self._cpus_per_shard).remote()
                      for _ in range(max(1, cpus))]

    def load(self, path: str, daemon: str, trace_id: str | None = None, traceparent: str | None = None):
        cfg = self._config
        workers = cfg.load.workers or max(1, int(shard_cpus(cfg.ray.home_shared)))
        runner = RayShardRunner(self._store, max_in_flight=workers + 1, tracing=self._tracing,
                                strategy=self._shards, cpus_per_shard=self._cpus_per_shard)
        # Its node set is complete once every shard is in, before the commit makes the batch
        # visible: a caller that sees the batch also sees where its shards ran.
        self._last_runner = runner
        settings = LoadSettings(
            daemon=daemon,
            shard_bytes=cfg.load.shard_bytes,
            max_error_ratio=cfg.load.max_error_ratio,
            max_line_bytes=cfg.load.max_line_bytes,
            work_dir=cfg.home / "work",
        )
        result = load_file(Path(path), settings=settings, identities=self._identities,
                           sink=self._store, runner=runner, trace_id=trace_id, traceparent=traceparent)
        return result

    def nodes_of_last_load(self) -> list[str]:
        return sorted(self._last_runner.nodes) if self._last_runner else []
