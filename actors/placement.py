"""Where the engine's actors and a load's shard tasks run on a multi-node cluster.

The engine home (the DuckDB file, the inbound, archive and outbound folders, the keys) is a
path on one machine: the one `cmpctl up` ran on. Every engine actor is pinned to that node
(hard affinity: a restart comes back there, and the Store never opens an empty database on
another node). A load's shard tasks read the encrypted file by path, so they spread over the
cluster only when ``[ray] home_shared`` says every node mounts the home at the same path;
otherwise they run on the coordinator's node. Reconciliation partitions get their data as
Ray objects and spread regardless (actors/reconcile_tasks.py).
"""

from __future__ import annotations

from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


def this_node() -> str:
    """The id of the Ray node this process (driver or actor) runs on."""
    return ray.get_runtime_context().get_node_id()


def pinned(node_id: str) -> NodeAffinitySchedulingStrategy:
    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)


def shard_strategy(home_shared: bool) -> Any:
    """Spread a load's shards over the nodes only when all of them can open the file."""
    return "SPREAD" if home_shared else pinned(this_node())


def shard_cpus(home_shared: bool) -> float:
    """The CPUs a load's shards may use: the cluster's, or those of this node when they are
    pinned to it (0 when it offers Ray none, e.g. a head started with ``--num-cpus 0``)."""
    if home_shared:
        return ray.cluster_resources().get("CPU", 1)
    node = this_node()
    for n in ray.nodes():
        if n.get("NodeID") == node:
            return n.get("Resources", {}).get("CPU", 0)  # no "CPU" key: the node offers none
    return 0


__all__ = ["pinned", "shard_cpus", "shard_strategy", "this_node"]
