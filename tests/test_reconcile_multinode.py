"""Reconciliation partitions run as Ray tasks on several nodes, with the single-node result."""

from __future__ import annotations

import pytest

from tests.test_reconciliation import (
    EFFECTIVE,
    ON_RAY,
    _result_rows,
    inst,
    load_response,
    make_store,
    response,
    run,
    seed_engine,
)

pytestmark = pytest.mark.ray


def build(tmp_path, n: int = 60):
    """n subscriptions with an allowance and a cap; every 7th answer is altered or incomplete."""
    store = make_store(tmp_path)
    seed_engine(store, [(f"SUB-{i}", [("ALLOWANCE", f"ALW-{i}", "DATA-100GB", f"old-a{i}", 100, "GB"),
                                      ("SPEND_CAP", f"CAP-{i}", "CAP-VALUE-FULL", f"old-c{i}", 25, "GBP")])
                        for i in range(n)], [(500 + i, f"SUB-{i}") for i in range(n)])
    records = []
    for i in range(n):
        data = inst("DATA-100GB", f"new-a{i}", amount=200 if i % 7 == 1 else 100)
        cap = inst("CAP-VALUE-FULL", f"new-c{i}", "SPEND_CAP", 25.0, "GBP")
        instances = {0: [data], 2: [data, data, cap]}.get(i % 7, [data, cap])
        records.append(response(500 + i, f"SUB-{i}", *instances))
    batch = load_response(store, tmp_path, records, "bcc-multi")
    return store, batch


def test_partitions_run_on_several_nodes_with_the_single_node_result(two_worker_cluster, tmp_path):
    worker_ids = {node.node_id for node in two_worker_cluster[1]}
    results = {}
    for p in (1, 4):
        store, batch = build(tmp_path / f"p{p}")
        try:
            doc = run(store, EFFECTIVE, ON_RAY, batch=batch, partitions=p)
            assert doc["status"] == "SUCCEEDED"
            results[p] = (_result_rows(store), doc["result"])
        finally:
            store.close()
    rows1, result1 = results[1]
    rows4, result4 = results[4]
    assert rows4 == rows1
    assert result4["classes"] == result1["classes"]
    assert result1["classes"]["AMOUNT_DIFFERS"] == 9 and result1["classes"]["MISSING_IN_OCS"] == 9
    assert result1["classes"]["DUPLICATE_IN_OCS"] == 9
    nodes = [r["node"] for r in result4["runs"]]
    assert len(nodes) == 4 and set(nodes) <= worker_ids and len(set(nodes)) >= 2, nodes
    assert all(r["pairs"] > 0 for r in result4["runs"])  # every partition had work
