"""A sharded load on a multi-node Ray cluster runs shards on more than one node."""

from __future__ import annotations


import pytest

from actors.clients import typed
from actors.coordinator import LoadCoordinator
from actors.engine import start_engine, stop_engine
from actors.supervisor import actor_record
from tests.test_load_ray import drop, make_home, order_file, wait_for_batches

pytestmark = pytest.mark.ray


def test_shards_run_on_several_nodes(two_worker_cluster, tmp_path):
    # The home is shared here (every node of a ray.cluster_utils cluster is this machine), so
    # the shards may spread; the engine's actors stay on the node that started them.
    config = make_home(tmp_path, CMP_LOAD__SHARD_BYTES="128KiB", CMP_RAY__HOME_SHARED="true")
    handles = start_engine(config)
    try:
        head = two_worker_cluster[0].head_node.node_id
        for handle in (handles.store, handles.coordinator, *handles.daemons.values()):
            assert actor_record(handle)["node_id"] == head  # pinned to the home's node (0 CPUs)
        data = order_file(config, 6000, seed=11, identifier="multi-1")
        drop(config, "multi.jsonl.age", data)
        [batch] = wait_for_batches(handles.store_client, 1, timeout=180)
        assert batch["records"] == 6000 and batch["valid_records"] == 6000
        nodes = typed(handles.coordinator, LoadCoordinator).nodes_of_last_load()
        worker_ids = {n.node_id for n in two_worker_cluster[1]}
        assert len(nodes) >= 2 and set(nodes) <= worker_ids
    finally:
        stop_engine(config)


def test_without_a_shared_home_shards_run_on_the_homes_node_even_with_no_cpu_there(two_worker_cluster, tmp_path):
    """The default (``ray.home_shared = false``): shards read the file where the home is. The
    head here offers Ray no CPU, as many clusters' heads do: the shards must still run there."""
    config = make_home(tmp_path, CMP_LOAD__SHARD_BYTES="128KiB")
    handles = start_engine(config)
    try:
        data = order_file(config, 3000, seed=12, identifier="multi-2")
        drop(config, "pinned.jsonl.age", data)
        [batch] = wait_for_batches(handles.store_client, 1, timeout=180)
        assert batch["records"] == 3000 and batch["valid_records"] == 3000
        nodes = typed(handles.coordinator, LoadCoordinator).nodes_of_last_load()
        assert nodes == [two_worker_cluster[0].head_node.node_id]
    finally:
        stop_engine(config)
